"""A ROS 2 node of the benchmark's own (own context), spun by a background thread.

What bench_live.py and bench_userpaths.py listen to the launched nodes with: subclasses create
their subscriptions on `self.node`, then call `start()`; `close()` stops the thread first (a
spin on a shut-down context raises) and then the context.
"""
import os
import threading


class BackgroundNode:
    """An rclpy node in a context of its own, spun by a daemon thread from start() to close()."""

    def __init__(self, name):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f'{name}_{os.getpid()}', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)

    def start(self):
        self._thread.start()

    def _spin(self):
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.1)

    def close(self):
        import rclpy
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
