"""Replay a recorded bag into the pipeline: bag_play -> hmr_node (-> RViz).

Examples:
  ros2 launch hmr_ros replay.launch.py bag:=recording.mcap
  ros2 launch hmr_ros replay.launch.py bag:=run1/ rate:=0.5 image_topic:=/cam/image_raw
  ros2 launch hmr_ros replay.launch.py bag:=run1/ every_frame:=true   # every image processed
  ros2 launch hmr_ros replay.launch.py bag:=run1/ every_frame:=true delay_frames:=8
      # also ~/persons_delayed: each frame smoothed with 8 frames of what came after it
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hmr_ros.launch_parts import (
    FRAME_FLOW, bag_image_arguments, delay_frames_argument, delay_frames_parameter,
    display_arguments, display_nodes, hmr_node, large_image_transport, model_profile_argument,
    params_file_argument, shutdown_when_exits, typed)


def generate_launch_description():
    params_file = LaunchConfiguration('params_file')
    arguments = [
        DeclareLaunchArgument('bag', description='rosbag2 to replay (MCAP or sqlite3; file or '
                                                 'bag folder)'),
        DeclareLaunchArgument('rate', default_value='1.0', description='playback speed factor'),
        DeclareLaunchArgument('loop', default_value='false', choices=['true', 'false'],
                              description='restart the bag at its end'),
        *bag_image_arguments(),
        DeclareLaunchArgument('every_frame', default_value='false', choices=['true', 'false'],
                              description="'true': lockstep, every image processed (the next "
                                          "is sent when hmr_node has finished); 'false': the "
                                          "bag's own timing, the node drops as it would live"),
        DeclareLaunchArgument('play', default_value='inputs', choices=['inputs', 'all'],
                              description="'inputs': images and camera_info only (recorded "
                                          "outputs would mix with the node's); 'all' topics"),
        params_file_argument('hmr_node'),
        model_profile_argument(),
        delay_frames_argument(),
        *display_arguments(viewer='false'),
    ]
    player = Node(
        package='hmr_ros', executable='bag_play', name='bag_play', output='screen',
        parameters=[{
            'bag': typed('bag', str), 'rate': typed('rate', float), 'loop': typed('loop', bool),
            'every_frame': typed('every_frame', bool), 'play': typed('play', str),
            **FRAME_FLOW,   # nothing is played before hmr_node has loaded its models
        }])
    hmr = hmr_node(params_file, image_topic=typed('image_topic', str),
                   image_transport=typed('image_transport', str), **delay_frames_parameter())
    return LaunchDescription(arguments + [
        large_image_transport(), player, hmr, *display_nodes(params_file),
        shutdown_when_exits(player, 'bag_play'), shutdown_when_exits(hmr, 'hmr_node')])
