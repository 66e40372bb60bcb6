"""Replay a recorded bag into the pipeline: bag_play -> hmr_node (-> RViz).

Examples:
  ros2 launch hmr_ros replay.launch.py bag:=recording.mcap
  ros2 launch hmr_ros replay.launch.py bag:=run1/ rate:=0.5 image_topic:=/cam/image_raw
  ros2 launch hmr_ros replay.launch.py bag:=run1/ every_frame:=true   # every image processed
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
        DeclareLaunchArgument('image_transport', default_value='raw',
                              choices=['raw', 'compressed'],
                              description="'compressed' for bags recorded with hmr-bag record "
                                          '--compress-images (<image_topic>/compressed)'),
        DeclareLaunchArgument('every_frame', default_value='false', choices=['true', 'false'],
                              description="'true': lockstep, every image processed (the next "
                                          "is sent when hmr_node has finished); 'false': the "
                                          "bag's own timing, the node drops as it would live"),
        DeclareLaunchArgument('play', default_value='inputs', choices=['inputs', 'all'],
                              description="'inputs': images and camera_info only (recorded "
                                          "outputs would mix with the node's); 'all' topics"),
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([share, 'config', 'hmr.yaml']),
            description='parameters of hmr_node'),
        DeclareLaunchArgument('model_profile', default_value='compact',
                              choices=['compact', 'sd15', 'frontend_only'],
                              description='model profile of hmr_node'),
        DeclareLaunchArgument('rviz', default_value='false', choices=['true', 'false'],
                              description='start RViz with config/hmr.rviz'),
        DeclareLaunchArgument('viewer', default_value='false', choices=['true', 'false'],
                              description='serve the live 3D web viewer (URL in the log)'),
        DeclareLaunchArgument('viewer_port', default_value='8080',
                              description='web viewer port (the next free one if taken)'),
    ]
    player = Node(
        package='hmr_ros', executable='bag_play', name='bag_play', output='screen',
        parameters=[{
            'bag': ParameterValue(LaunchConfiguration('bag'), value_type=str),
            'rate': ParameterValue(LaunchConfiguration('rate'), value_type=float),
            'loop': ParameterValue(LaunchConfiguration('loop'), value_type=bool),
            'every_frame': ParameterValue(LaunchConfiguration('every_frame'), value_type=bool),
            'play': ParameterValue(LaunchConfiguration('play'), value_type=str),
            # Nothing is played before hmr_node has loaded its models.
            'ready_topic': '/hmr_node/ready',
            'done_topic': '/hmr_node/frame_done',
        }])
    hmr = Node(
        package='hmr_ros', executable='hmr_node', name='hmr_node', output='screen',
        parameters=[params_file, {
            'image_topic': ParameterValue(LaunchConfiguration('image_topic'), value_type=str),
            'image_transport': ParameterValue(LaunchConfiguration('image_transport'),
                                              value_type=str),
            'model_profile': ParameterValue(LaunchConfiguration('model_profile'), value_type=str),
        }])
    viewer = Node(
        package='hmr_ros', executable='viewer', name='viewer', output='screen',
        parameters=[params_file, {
            'viewer_port': ParameterValue(LaunchConfiguration('viewer_port'), value_type=int),
        }],
        condition=IfCondition(LaunchConfiguration('viewer')))
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', output='screen',
        arguments=['-d', PathJoinSubstitution([share, 'config', 'hmr.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')))
    stop_with_player = RegisterEventHandler(OnProcessExit(
        target_action=player, on_exit=[EmitEvent(event=Shutdown(reason='bag_play exited'))]))
    stop_with_node = RegisterEventHandler(OnProcessExit(
        target_action=hmr, on_exit=[EmitEvent(event=Shutdown(reason='hmr_node exited'))]))
    # Images are large: Fast DDS's LARGE_DATA transports deliver 1280x720 rgb8 at 30 FPS where
    # the default UDP transport lost most frames (measured 4.7 of 30 FPS). Kept if already set.
    large_data = SetEnvironmentVariable('FASTDDS_BUILTIN_TRANSPORTS', EnvironmentVariable(
        'FASTDDS_BUILTIN_TRANSPORTS', default_value='LARGE_DATA'))
    return LaunchDescription(arguments + [large_data, player, hmr, viewer, rviz,
                                          stop_with_player, stop_with_node])
