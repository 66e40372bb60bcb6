"""One checkpoint format for every model: a folder with three files.

    config.json        the model's configuration (its Config.to_dict())
    model.safetensors  the weights (no pickle: loading runs no code)
    meta.json          provenance: {'format': 'hmr_models.<model>', 'version': 2, 'tensors': N,
                       ...} plus what the writer adds (training run, source checkpoint)

DPMesh, DiffMesh, the keypoint lifter, the VQ-VAE pose prior and the trainer's epoch
checkpoints all write it (`save_checkpoint`) and read it back (`read_config`, `read_weights`).
Folders written before this format still load: `config.yaml` (DPMesh, trainer) or `lifter.yaml`
in place of config.json, DiffMesh's `diffmesh.pt` (a torch state dict) beside a config.json
that wrapped the config as {'config': {...}, ...}, the lifter's `lifter.safetensors`.
"""
import json
from pathlib import Path

import yaml

from hmr_models.paths import MissingModelFile

CONFIG = 'config.json'
WEIGHTS = 'model.safetensors'
META = 'meta.json'
VERSION = 2
_LEGACY_CONFIGS = ('config.yaml', 'lifter.yaml')
_LEGACY_WEIGHTS = ('diffmesh.pt', 'lifter.safetensors')


def save_checkpoint(directory, config, state_dict, kind, **provenance):
    """Write config.json, model.safetensors and meta.json into `directory`; return it.

    config: a plain dict (Config.to_dict()); kind: 'dpmesh', 'diffmesh', ... (meta 'format').
    """
    from safetensors.torch import save_file
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    save_file(state, str(d / WEIGHTS))
    (d / CONFIG).write_text(json.dumps(config, indent=1))
    meta = {'format': f'hmr_models.{kind}', 'version': VERSION, 'tensors': len(state),
            **provenance}
    (d / META).write_text(json.dumps(meta, indent=1, default=str))
    return d


def config_file(directory):
    """The config file of a checkpoint folder (config.json, or an older config.yaml); None."""
    return _first_file(directory, (CONFIG,) + _LEGACY_CONFIGS)


def weights_file(directory):
    """The weights file of a checkpoint folder (model.safetensors, or an older diffmesh.pt)."""
    return _first_file(directory, (WEIGHTS,) + _LEGACY_WEIGHTS)


def _first_file(directory, names):
    return next((Path(directory) / n for n in names if (Path(directory) / n).is_file()), None)


def is_checkpoint(directory):
    return config_file(directory) is not None and weights_file(directory) is not None


def read_config(directory, what='checkpoint', parameter=None):
    """The config dict of a checkpoint folder; MissingModelFile names what and where."""
    path = config_file(directory)
    if path is None:
        raise MissingModelFile(_missing(directory, CONFIG, what, parameter))
    data = yaml.safe_load(path.read_text()) or {}       # JSON is YAML too
    if path.name == CONFIG and isinstance(data.get('config'), dict):
        data = data['config']                            # DiffMesh before version 2
    return data


def read_weights(directory, what='checkpoint', parameter=None):
    """The state dict (CPU tensors) of a checkpoint folder."""
    path = weights_file(directory)
    if path is None:
        raise MissingModelFile(_missing(directory, WEIGHTS, what, parameter))
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        return load_file(str(path), device='cpu')
    import torch
    return torch.load(str(path), map_location='cpu', weights_only=True)


def read_meta(directory):
    """meta.json of a checkpoint folder ({} when it has none)."""
    path = Path(directory) / META
    return json.loads(path.read_text()) if path.is_file() else {}


def _missing(directory, name, what, parameter):
    by = f" (parameter '{parameter}')" if parameter else ''
    return (f'{what} incomplete or not found: {Path(directory) / name} missing{by}; a checkpoint '
            f'folder holds {CONFIG}, {WEIGHTS} and {META}')
