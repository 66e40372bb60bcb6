"""The ROS fixtures of test/ros (a spinning node, subprocesses cleaned up) for viewer tests."""
from ros.conftest import ros_node, spawn  # noqa: F401
