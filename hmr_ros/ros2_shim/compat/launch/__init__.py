"""hmr_ros's minimal stand-in for ROS 2 `launch` (pip-only installs without a ROS distribution).

Only loaded by hmr_ros's own `ros2 launch` runner, never installed as a top-level module, so it
cannot shadow the real package. It implements the subset of the real API that hmr_ros's launch
files use, with the same names and semantics; the launch files stay valid for real ROS 2.
"""
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.some_substitutions_type import Substitution

__all__ = ['LaunchContext', 'LaunchDescription', 'Substitution']
