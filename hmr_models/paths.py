"""Where bundled files live (detector weights, the open body, default weights), and clear errors."""
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent / 'assets'


class MissingModelFile(FileNotFoundError):
    """A model file the user must provide (or that should have shipped) is not there."""


def require_file(path, what, parameter=None, get_it=None):
    """Return `path` as a Path if it is a file; else raise MissingModelFile saying what to do."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    msg = f'{what} not found: {p}'
    if parameter:
        msg += f" (set by parameter '{parameter}')"
    if get_it:
        msg += f'. {get_it}'
    raise MissingModelFile(msg)


def asset(relative):
    """Path of a file bundled in hmr_models/assets (raises MissingModelFile if absent)."""
    return require_file(ASSETS_DIR / relative, f"bundled asset '{relative}'",
                        get_it='The installation is incomplete: reinstall hmr_ros.')
