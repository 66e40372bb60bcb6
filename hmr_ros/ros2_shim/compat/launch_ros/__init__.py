"""hmr_ros's minimal stand-in for ROS 2 `launch_ros` (see the `launch` stand-in's docstring)."""
