"""Replay a recorded bag into the pipeline: bag_play -> hmr_node (-> RViz).

Examples:
  ros2 launch hmr_ros replay.launch.py bag:=recording.mcap
  ros2 launch hmr_ros replay.launch.py bag:=run1/ rate:=0.5 image_topic:=/cam/image_raw
"""
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument, EmitEvent, RegisterEventHandler, SetEnvironmentVariable)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import (
    EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution)
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    share = FindPackageShare('hmr_ros')
    params_file = LaunchConfiguration('params_file')
    arguments = [
        DeclareLaunchArgument('bag', description='rosbag2 to replay (MCAP or sqlite3; file or '
                                                 'bag folder)'),
        DeclareLaunchArgument('rate', default_value='1.0', description='playback speed factor'),
        DeclareLaunchArgument('loop', default_value='false', choices=['true', 'false'],
                              description='restart the bag at its end'),
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='image topic in the bag that hmr_node reads'),
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([share, 'config', 'hmr.yaml']),
            description='parameters of hmr_node'),
        DeclareLaunchArgument('model_profile', default_value='compact',
                              choices=['compact', 'sd15', 'frontend_only'],
                              description='model profile of hmr_node'),
        DeclareLaunchArgument('rviz', default_value='false', choices=['true', 'false'],
                              description='start RViz with config/hmr.rviz'),
    ]
    player = Node(
        package='hmr_ros', executable='bag_play', name='bag_play', output='screen',
        parameters=[{
            'bag': ParameterValue(LaunchConfiguration('bag'), value_type=str),
            'rate': ParameterValue(LaunchConfiguration('rate'), value_type=float),
            'loop': ParameterValue(LaunchConfiguration('loop'), value_type=bool),
        }])
    hmr = Node(
        package='hmr_ros', executable='hmr_node', name='hmr_node', output='screen',
        parameters=[params_file, {
            'image_topic': ParameterValue(LaunchConfiguration('image_topic'), value_type=str),
            'model_profile': ParameterValue(LaunchConfiguration('model_profile'), value_type=str),
        }])
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', output='screen',
        arguments=['-d', PathJoinSubstitution([share, 'config', 'hmr.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')))
    stop_with_player = RegisterEventHandler(OnProcessExit(
        target_action=player, on_exit=[EmitEvent(event=Shutdown(reason='bag_play exited'))]))
    # Images are large: Fast DDS's LARGE_DATA transports deliver 1280x720 rgb8 at 30 FPS where
    # the default UDP transport lost most frames (measured 4.7 of 30 FPS). Kept if already set.
    large_data = SetEnvironmentVariable('FASTDDS_BUILTIN_TRANSPORTS', EnvironmentVariable(
        'FASTDDS_BUILTIN_TRANSPORTS', default_value='LARGE_DATA'))
    return LaunchDescription(arguments + [large_data, player, hmr, rviz, stop_with_player])
