"""Helpers for the user-path tests: the README's commands, run as a user runs them."""
from collections import deque
import threading
import time

import cv2
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from hmr_ros.msg import SMPLPersonArray
from hmr_ros.node_main import share_file
from ros.conftest import ros_node, spawn, ros2_command, wait_for  # noqa: F401 (fixtures)

# Everything hmr_node publishes, with the QoS RViz / rqt / a user's node would use.
OUTPUTS = {
    '/hmr_node/persons': SMPLPersonArray,
    '/hmr_node/persons_smoothed': SMPLPersonArray,
    '/hmr_node/markers': MarkerArray,
    '/hmr_node/overlay': Image,
    '/hmr_node/debug_image': Image,
    '/diagnostics': DiagnosticArray,
}
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class TopicLog:
    """Counts every message of a topic and keeps the last few (images are megabytes)."""

    def __init__(self, node, msg_type, topic, keep=5, qos=RELIABLE):
        self.count = 0
        self.first_time = None
        self.last = deque(maxlen=keep)
        self.stamps = []
        self._lock = threading.Lock()
        node.create_subscription(msg_type, topic, self._on_msg, qos)

    def _on_msg(self, msg):
        with self._lock:
            self.count += 1
            self.first_time = self.first_time or time.monotonic()
            self.last.append(msg)
            header = getattr(msg, 'header', None)
            if header is not None:
                self.stamps.append((header.stamp.sec, header.stamp.nanosec))

    def rate(self):
        """Messages per second since the first one."""
        with self._lock:
            if self.count < 2:
                return 0.0
            return (self.count - 1) / max(time.monotonic() - self.first_time, 1e-6)


def write_clip(path, frames=20, size=(640, 360), start=60):
    """A short clip cut from the bundled sample video (real people), as a user's file."""
    cap = cv2.VideoCapture(str(share_file('media', 'sample_sports2d.mp4')))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 30.0, size)
    written = 0
    while written < frames:
        ok, bgr = cap.read()
        if not ok:
            break
        out.write(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA))
        written += 1
    out.release()
    cap.release()
    assert written == frames
    return path


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / 'clip.mp4')
