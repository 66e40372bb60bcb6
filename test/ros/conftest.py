"""Fixtures for tests that talk ROS.

An in-process node with a spinning executor, and subprocesses (nodes, launch) that are always
cleaned up.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import rclpy
from rclpy.exceptions import InvalidHandle
from rclpy.executors import SingleThreadedExecutor


def wait_for(predicate, timeout, period=0.05):
    """Poll `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(period)
        value = predicate()
    return value


def pid_alive(pid):
    """Whether a process still exists (a launch's children must be gone after it stops)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_matched(*publishers, timeout=30, settle=0.5):
    """Wait until every publisher has a subscriber, then `settle` seconds more.

    A writer can see its reader before the reader has matched the writer; a message sent in
    that window is lost even on a reliable topic (seen on busy CI machines), so the far side
    gets a moment to finish discovery.
    """
    ok = wait_for(lambda: all(p.get_subscription_count() > 0 for p in publishers), timeout)
    if ok:
        time.sleep(settle)
    return ok


def wait_node_ready(node, timeout=120, topic='/hmr_node/ready'):
    """Wait for hmr_node's latched ready message (models loaded, outputs discoverable)."""
    from std_msgs.msg import Bool

    from hmr_ros.frame_flow import READY_QOS
    got = []
    sub = node.create_subscription(Bool, topic, lambda m: got.append(m.data), READY_QOS)
    try:
        return wait_for(lambda: any(got), timeout)
    finally:
        node.destroy_subscription(sub)


@pytest.fixture
def ros_node():
    """A node in its own context, spun by a background executor."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f'test_{os.getpid()}_{time.monotonic_ns()}', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    stop = threading.Event()

    def spin():
        # spin_once with a timeout rebuilds the wait set often: subscriptions created while
        # the executor sleeps in a wait without them are picked up within 0.1 s.
        while not stop.is_set() and context.ok():
            try:
                executor.spin_once(timeout_sec=0.1)
            except InvalidHandle:
                # a helper (wait_node_ready) destroyed its subscription while this thread
                # was adding it to the wait set (seen under load): the next wait set is
                # built without it. Uncaught, this thread died and nothing was received.
                pass
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    yield node
    stop.set()
    thread.join(timeout=2.0)
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)
    thread.join(timeout=2.0)


class Spawned:
    def __init__(self, cmd, **kwargs):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, **kwargs)
        self.output = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, b''):
            self.output.append(line.decode(errors='replace'))

    @property
    def text(self):
        return ''.join(self.output)

    def says(self, *lines, timeout=60.0):
        """Whether every one of `lines` is in the output within `timeout` seconds.

        The output comes through a pipe read by a thread: a log line may trail the messages
        that show its effect, so a running process's output is waited on, never read once.
        """
        return wait_for(lambda: all(line in self.text for line in lines), timeout)

    def interrupt(self, timeout=30.0):
        """Ctrl-C (SIGINT to the process), then wait; returns the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout=30.0):
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5.0)
        return code

    def kill(self):
        """Ctrl-C first (a launch runner then stops its nodes), SIGKILL if that is ignored."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(timeout=20)
                return
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


@pytest.fixture
def spawn():
    """Start processes (python modules via this interpreter); all are killed at the end."""
    started = []

    def _spawn(*args, python_module=None, **kwargs):
        cmd = [sys.executable, '-m', python_module, *args] if python_module else list(args)
        s = Spawned(cmd, **kwargs)
        started.append(s)
        return s
    yield _spawn
    for s in started:
        s.kill()


def ros2_command():
    """The `ros2` of this environment (real or hmr_ros's runner)."""
    candidate = os.path.join(os.path.dirname(sys.executable), 'ros2')
    return [candidate] if os.path.exists(candidate) else [sys.executable, '-c',
                                                          'import sys; from hmr_ros.ros2_shim '
                                                          'import main; sys.exit(main())']
