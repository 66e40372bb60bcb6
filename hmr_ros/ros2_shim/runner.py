"""Run a launch description: start the processes, stream their output, shut down cleanly.

Semantics follow the real `ros2 launch` where hmr_ros's launch files depend on them: arguments
declared with defaults and choices, conditions, parameters passed as --params-file (dicts
written to a temporary YAML like launch_ros does), remappings, OnProcessExit handlers and
Shutdown events, SIGINT to every process on Ctrl-C, then SIGTERM and SIGKILL after timeouts.
"""
import importlib.util
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

COMPAT_DIR = str(Path(__file__).resolve().parent / 'compat')
SIGINT_TIMEOUT = 10.0   # seconds a process gets to exit after SIGINT before SIGTERM
SIGTERM_TIMEOUT = 5.0   # ... and after SIGTERM before SIGKILL
# A SIGINT that lands while a Python process is still starting interrupts its imports before
# it can print or install a handler (seen on busy machines): a shutdown waits until each
# process is this old before interrupting it.
STARTUP_GRACE = 5.0


def _die_with_parent():
    """Ask for SIGTERM when the runner dies (run in the child before exec).

    Even a runner killed by SIGKILL then leaves no orphaned nodes (Linux PR_SET_PDEATHSIG).
    """
    try:
        import ctypes
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LaunchError(RuntimeError):
    """The launch file or its arguments are wrong (message says how)."""


def _import_compat():
    if COMPAT_DIR not in sys.path:
        sys.path.insert(0, COMPAT_DIR)
    import launch  # noqa: F401  (the stand-in: imported here so launch files find it)


def load_launch_description(path):
    """Import a launch file and call its generate_launch_description()."""
    _import_compat()
    spec = importlib.util.spec_from_file_location(f'launch_file_{abs(hash(path))}', path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise LaunchError(f'cannot load launch file {path}: {exc!r}') from exc
    if not hasattr(module, 'generate_launch_description'):
        raise LaunchError(f'{path} has no generate_launch_description()')
    return module.generate_launch_description()


def find_executable(package, executable):
    """lib/<package>/<executable> in the ament prefixes (or this interpreter's prefix)."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    for prefix in prefixes:
        candidate = Path(prefix) / 'lib' / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def command_for(path):
    """Return the command that runs an executable.

    Python scripts run with this interpreter (a pip-only venv has no python3 of its own on
    PATH); anything else runs directly.
    """
    with open(path, 'rb') as f:
        first = f.readline(200)
    if first.startswith(b'#!') and b'python' in first:
        return [sys.executable, str(path)]
    return [str(path)]


class _Process:
    def __init__(self, action, name, popen):
        self.action = action
        self.name = name
        self.popen = popen
        self.started = time.monotonic()
        self.interrupted = False
        self.returncode = None
        self.readers = []

    @property
    def running(self):
        return self.returncode is None and self.popen.poll() is None


class LaunchRunner:
    def __init__(self, description, launch_arguments):
        from launch import LaunchContext
        self.description = description
        self.context = LaunchContext(launch_arguments)
        self.context.environment.setdefault('PYTHONUNBUFFERED', '1')
        self.processes = []
        self.handlers = []
        self.failed = []
        self._counter = {}
        self._tmpdir = tempfile.TemporaryDirectory(prefix='hmr_launch_')
        self._print_lock = threading.Lock()
        self._user_interrupt = False

    # -- output ---------------------------------------------------------------------------
    def log(self, text):
        with self._print_lock:
            print(f'[INFO] [launch]: {text}', flush=True)

    def _pump(self, stream, prefix, out):
        for raw in iter(stream.readline, b''):
            line = raw.decode(errors='replace').rstrip('\n')
            with self._print_lock:
                print(f'[{prefix}] {line}', file=out, flush=True)
        stream.close()

    # -- entities -------------------------------------------------------------------------
    def visit(self, entities):
        from launch import actions as A
        from launch.events import Shutdown
        from launch.some_substitutions_type import perform_substitutions as sub
        for entity in entities:
            if entity is None:
                continue
            if getattr(entity, 'condition', None) is not None \
                    and not entity.condition.evaluate(self.context):
                continue
            if isinstance(entity, A.DeclareLaunchArgument):
                self._declare(entity)
            elif isinstance(entity, A.SetEnvironmentVariable):
                self.context.environment[sub(self.context, entity.name)] = \
                    sub(self.context, entity.value)
            elif isinstance(entity, A.LogInfo):
                self.log(sub(self.context, entity.msg))
            elif isinstance(entity, A.GroupAction):
                self.visit(entity.actions)
            elif isinstance(entity, A.OpaqueFunction):
                self.visit(entity.function(self.context, *entity.args, **entity.kwargs) or [])
            elif isinstance(entity, A.RegisterEventHandler):
                self.handlers.append(entity.event_handler)
            elif isinstance(entity, A.EmitEvent):
                if isinstance(entity.event, Shutdown):
                    self.shutdown(entity.event.reason)
            elif isinstance(entity, A.ExecuteProcess):
                self._start(entity)
            else:
                raise LaunchError(f'unsupported launch entity {type(entity).__name__} '
                                  '(hmr_ros\'s minimal launch runner; use real ROS 2 launch)')

    def _declare(self, arg):
        from launch.some_substitutions_type import perform_substitutions as sub
        configs = self.context.launch_configurations
        if arg.name not in configs:
            if arg.default_value is None:
                raise LaunchError(f"required launch argument '{arg.name}' not given "
                                  f'({arg.description}); pass {arg.name}:=<value>')
            configs[arg.name] = sub(self.context, arg.default_value)
        if arg.choices is not None and configs[arg.name] not in arg.choices:
            raise LaunchError(f"argument '{arg.name}' = '{configs[arg.name]}' is not one of "
                              f'{list(arg.choices)}')

    # -- processes ------------------------------------------------------------------------
    def _param_value(self, value):
        from launch.some_substitutions_type import Substitution, perform_substitutions as sub
        from launch_ros.parameter_descriptions import ParameterValue
        if isinstance(value, ParameterValue):
            raw = value.value
            text = raw if isinstance(raw, (bool, int, float)) else sub(self.context, raw)
            if value.value_type is None:
                return self._param_value(text)
            if value.value_type is bool and isinstance(text, str):
                return text.strip().lower() in ('true', '1')
            return value.value_type(text)
        if isinstance(value, dict):
            return {k: self._param_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)) and not any(isinstance(v, Substitution) for v in value):
            return [self._param_value(v) for v in value]
        if isinstance(value, (Substitution, list, tuple)):
            text = sub(self.context, value)
            loaded = yaml.safe_load(text) if text.strip() else text
            return text if loaded is None or isinstance(loaded, (dict, list)) else loaded
        return value

    def _ros_arguments(self, node):
        from launch.some_substitutions_type import perform_substitutions as sub
        args = ['--ros-args']
        if node.node_name is not None:
            args += ['-r', f'__node:={sub(self.context, node.node_name)}']
        if node.node_namespace:
            ns = sub(self.context, node.node_namespace)
            args += ['-r', f"__ns:={ns if ns.startswith('/') else '/' + ns}"]
        for entry in node.parameters:
            if isinstance(entry, dict):
                params = {k: self._param_value(v) for k, v in entry.items()}
                fd, path = tempfile.mkstemp(suffix='.yaml', dir=self._tmpdir.name)
                with os.fdopen(fd, 'w') as f:
                    yaml.safe_dump({'/**': {'ros__parameters': params}}, f)
            else:
                path = sub(self.context, entry)
                if not Path(path).is_file():
                    raise LaunchError(f'parameter file not found: {path}')
            args += ['--params-file', path]
        for src, dst in node.remappings:
            args += ['-r', f'{sub(self.context, src)}:={sub(self.context, dst)}']
        args += [sub(self.context, a) for a in node.ros_arguments]
        return args

    def _start(self, action):
        from launch.some_substitutions_type import perform_substitutions as sub
        from launch_ros.actions import Node
        if isinstance(action, Node):
            package = sub(self.context, action.package)
            executable = sub(self.context, action.executable)
            path = find_executable(package, executable)
            if path is None:
                self.log(f"executable '{executable}' of package '{package}' not found: skipped "
                         '(install it; RViz needs a ROS 2 desktop installation)')
                return
            cmd = command_for(path) + [sub(self.context, a) for a in action.arguments] \
                + self._ros_arguments(action)
            base = executable
        else:
            cmd = [sub(self.context, c) for c in action.cmd]
            base = sub(self.context, action.name) if action.name else Path(cmd[0]).name
        self._counter[base] = self._counter.get(base, 0) + 1
        name = f'{base}-{self._counter[base]}'
        env = dict(self.context.environment)
        env.update({k: sub(self.context, v) for k, v in action.additional_env.items()}
                   if isinstance(action.additional_env, dict) else {})
        # Own process group (Ctrl-C in the terminal reaches the launch alone, which shuts the
        # processes down in order), same session: `nice ros2 launch ...` applies to the nodes.
        popen = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, process_group=0,
                                 preexec_fn=_die_with_parent)
        proc = _Process(action, name, popen)
        for stream, out in ((popen.stdout, sys.stdout), (popen.stderr, sys.stderr)):
            t = threading.Thread(target=self._pump, args=(stream, name, out), daemon=True)
            t.start()
            proc.readers.append(t)
        self.processes.append(proc)
        self.log(f'process started with pid [{popen.pid}]: {name}')

    # -- lifecycle ------------------------------------------------------------------------
    def shutdown(self, reason):
        if self.context.shutdown_requested:
            return
        self.context.shutdown_requested = True
        self.context.shutdown_reason = reason
        self.log(f'shutting down: {reason}')
        self._deadline = time.monotonic() + STARTUP_GRACE + SIGINT_TIMEOUT
        self._escalated = False
        self._interrupt_started()

    def _interrupt_started(self, now_for_all=False):
        """SIGINT to every running process that is past its start-up grace."""
        now = time.monotonic()
        for p in self.processes:
            if p.running and not p.interrupted and (
                    now_for_all or now - p.started >= STARTUP_GRACE):
                p.interrupted = True
                self._signal(p, signal.SIGINT)

    @staticmethod
    def _signal(p, sig):
        try:
            os.killpg(p.popen.pid, sig)
        except ProcessLookupError:
            pass

    def _signal_all(self, sig):
        for p in self.processes:
            if p.running:
                self._signal(p, sig)

    def _on_exit(self, proc):
        from launch.some_substitutions_type import perform_substitutions  # noqa: F401
        for reader in proc.readers:
            reader.join(timeout=1.0)
        code = proc.returncode
        expected = self.context.shutdown_requested and code in (0, -signal.SIGINT,
                                                                -signal.SIGTERM)
        if code == 0 or expected:
            self.log(f'process has finished cleanly [pid {proc.popen.pid}]: {proc.name}')
        else:
            self.failed.append((proc.name, code))
            with self._print_lock:
                print(f'[ERROR] [launch]: process has died [pid {proc.popen.pid}, exit code '
                      f'{code}]: {proc.name}', file=sys.stderr, flush=True)
        for handler in self.handlers:
            if handler.matches(proc.action):
                result = handler.on_exit
                if callable(result):
                    result = result(proc, self.context)
                if result:
                    self.visit(result if isinstance(result, (list, tuple)) else [result])

    def run(self):
        """Run until every process has exited; returns the exit code (see module docstring)."""
        def on_sigint(signum, frame):
            self._user_interrupt = True
            if self.context.shutdown_requested:
                self._deadline = 0.0  # second Ctrl-C: escalate now
            else:
                self.shutdown('ctrl-c (SIGINT)')
        previous = signal.signal(signal.SIGINT, on_sigint)
        signal.signal(signal.SIGTERM, on_sigint)
        try:
            self.visit(self.description.entities)
            if not self.processes:
                self.log('nothing to run')
            while any(p.returncode is None for p in self.processes):
                for p in self.processes:
                    if p.returncode is None and p.popen.poll() is not None:
                        p.returncode = p.popen.returncode
                        self._on_exit(p)
                if self.context.shutdown_requested:
                    self._interrupt_started(now_for_all=self._deadline == 0.0)
                if self.context.shutdown_requested and time.monotonic() > self._deadline:
                    if not self._escalated:
                        self.log('processes still running: sending SIGTERM')
                        self._signal_all(signal.SIGTERM)
                        self._escalated = True
                        self._deadline = time.monotonic() + SIGTERM_TIMEOUT
                    else:
                        self.log('processes still running: sending SIGKILL')
                        self._signal_all(signal.SIGKILL)
                        self._deadline = time.monotonic() + 60.0
                time.sleep(0.05)
        finally:
            signal.signal(signal.SIGINT, previous)
            self._tmpdir.cleanup()
        if self.failed:
            return 1
        return 0
