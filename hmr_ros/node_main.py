"""Running a node: init, spin, clean shutdown (exit 0 on Ctrl-C), clear exit on bad setup."""
import logging
from pathlib import Path
import signal
import sys
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from hmr_ros.params import ParameterError

EXIT_OK = 0
EXIT_BAD_SETUP = 2   # malformed parameters, missing files or devices


class SetupError(RuntimeError):
    """The node cannot start (missing file/device, bad configuration); message says why."""


# Python loggers whose records a node passes on to its ROS logger (console and /rosout).
FORWARDED_LOGGERS = ('hmr_models', 'hmr_ros')


class _ToRosLogger(logging.Handler):
    """Passes Python log records to the ROS logger of the newest node that asked for them.

    Without it the library's INFO lines (which models loaded, an ONNX export, the floor found)
    reached no one in a launch, and its warnings went to stderr without the node's name.
    """

    def __init__(self):
        super().__init__()
        self.targets = []    # (node id, ROS logger), newest last

    def emit(self, record):
        if not self.targets:
            return
        ros_logger = self.targets[-1][1]
        try:
            text = self.format(record)
            if record.levelno >= logging.ERROR:
                ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                ros_logger.info(text)
            else:
                ros_logger.debug(text)
        except Exception:   # noqa: BLE001 - a log line must never stop the node
            self.handleError(record)


_TO_ROS = _ToRosLogger()


def forward_python_logs(node):
    """Send the records of FORWARDED_LOGGERS to `node`'s ROS logger until `stop_forwarding`.

    Python's levels and ROS 2's severities share their numbers (DEBUG 10 ... ERROR 40), so the
    Python loggers take the node's level: `--log-level debug` reaches the library too.
    """
    level = int(node.get_logger().get_effective_level())
    _TO_ROS.targets.append((id(node), node.get_logger()))
    for name in FORWARDED_LOGGERS:
        py_logger = logging.getLogger(name)
        py_logger.setLevel(level)
        if _TO_ROS not in py_logger.handlers:
            py_logger.addHandler(_TO_ROS)


def stop_forwarding(node):
    """Undo `forward_python_logs(node)`; the loggers are as before once no node forwards."""
    _TO_ROS.targets = [t for t in _TO_ROS.targets if t[0] != id(node)]
    if not _TO_ROS.targets:
        for name in FORWARDED_LOGGERS:
            logging.getLogger(name).removeHandler(_TO_ROS)
            logging.getLogger(name).setLevel(logging.NOTSET)


class LoggingNode(Node):
    """A Node that passes the library's Python log records to its ROS logger while it lives."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        forward_python_logs(self)   # before any model loads: what loaded is logged

    def destroy_node(self):
        stop_forwarding(self)
        return super().destroy_node()


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


def run_node(node_class, args=None, executor=None, spin_period=0.2):
    """Create `node_class()` and spin it until Ctrl-C, SIGTERM or the node is done.

    The node ends the run by setting its attribute `done` to True (e.g. a video source at the
    end of its file). Ctrl-C / SIGTERM are handled here rather than by rclpy's own handlers,
    which shut the context down at once: the node's `close()` then still has a working context
    (its last log lines reach /rosout) and no 'publisher's context is invalid' error is printed.
    Returns the exit code (the node's `exit_code` attribute, EXIT_OK by default).
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop whatever is running now
        stop.set()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    node = None
    code = EXIT_OK
    try:
        node = node_class()
        executor = executor or SingleThreadedExecutor()
        executor.add_node(node)
        # spin_once with a timeout returns to Python often, so the signal handler above runs
        # promptly (a blocking spin would sleep in C until the next message).
        while not stop.is_set() and not getattr(node, 'done', False) and rclpy.ok():
            executor.spin_once(timeout_sec=spin_period)
        code = getattr(node, 'exit_code', EXIT_OK)
    except (KeyboardInterrupt, ExternalShutdownException):
        code = getattr(node, 'exit_code', EXIT_OK) if node is not None else EXIT_OK
    except (ParameterError, SetupError) as exc:
        name = getattr(node_class, '__name__', 'node') if node is None else node.get_name()
        print(f'[{name}] error: {exc}', file=sys.stderr, flush=True)
        code = EXIT_BAD_SETUP
    except RuntimeError:
        # An executor caught taking a message while the context shuts down raises RuntimeError
        # instead of ExternalShutdownException: that is a shutdown, not a failure.
        if rclpy.ok() and not stop.is_set():
            raise
        code = getattr(node, 'exit_code', EXIT_OK) if node is not None else EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code


def run_main(node_class, args=None):
    """Entry point of a node executable: run_node, and exit 0 on a Ctrl-C during start-up.

    A launch that stops right after starting a node interrupts its imports; that is a clean
    stop, not a crash with a traceback.
    """
    try:
        code = run_node(node_class, args)
    except KeyboardInterrupt:
        code = EXIT_OK
    raise SystemExit(code)
