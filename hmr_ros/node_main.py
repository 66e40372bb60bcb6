"""Running a node: init, spin, clean shutdown (exit 0 on Ctrl-C), clear exit on bad setup."""
from pathlib import Path
import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from hmr_ros.params import ParameterError

EXIT_OK = 0
EXIT_BAD_SETUP = 2   # malformed parameters, missing files or devices


class SetupError(RuntimeError):
    """The node cannot start (missing file/device, bad configuration); message says why."""


def share_file(*parts):
    """A file of share/hmr_ros: ament index, else this interpreter's prefix, else the checkout."""
    roots = []
    try:
        from ament_index_python.packages import get_package_share_directory
        roots.append(Path(get_package_share_directory('hmr_ros')))
    except (ImportError, LookupError, OSError, ValueError):
        pass  # no ROS environment sourced (pip-only path without AMENT_PREFIX_PATH)
    roots.append(Path(sys.prefix) / 'share' / 'hmr_ros')
    roots.append(Path(__file__).resolve().parent.parent)
    for root in roots:
        if root.joinpath(*parts).exists():
            return root.joinpath(*parts)
    return roots[-1].joinpath(*parts)


def run_node(node_class, args=None, executor=None):
    """Create `node_class()` and spin it until Ctrl-C or shutdown; returns the exit code."""
    rclpy.init(args=args)
    node = None
    code = EXIT_OK
    try:
        node = node_class()
        if executor is None:
            rclpy.spin(node)
        else:
            executor.add_node(node)
            executor.spin()
        code = getattr(node, 'exit_code', EXIT_OK)
    except (KeyboardInterrupt, ExternalShutdownException):
        code = getattr(node, 'exit_code', EXIT_OK) if node is not None else EXIT_OK
    except (ParameterError, SetupError) as exc:
        name = getattr(node_class, '__name__', 'node') if node is None else node.get_name()
        print(f'[{name}] error: {exc}', file=sys.stderr, flush=True)
        code = EXIT_BAD_SETUP
    except RuntimeError:
        # Ctrl-C shuts the context down from the signal handler; an executor caught taking a
        # message at that moment raises RuntimeError instead of ExternalShutdownException.
        if rclpy.ok():
            raise
        code = getattr(node, 'exit_code', EXIT_OK) if node is not None else EXIT_OK
    finally:
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code
