"""Live pipeline: camera_source (camera, video or image folder) -> hmr_node (-> RViz).

Examples:
  ros2 launch hmr_ros live.launch.py                       # the bundled sample video
  ros2 launch hmr_ros live.launch.py source:=/dev/video0   # a V4L2 camera
  ros2 launch hmr_ros live.launch.py source:=clip.mp4 loop:=false # every frame, then stop
  ros2 launch hmr_ros live.launch.py source:=clip.mp4 every_frame:=false  # at the video's rate
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
    source = LaunchConfiguration('source')
    params_file = LaunchConfiguration('params_file')

    arguments = [
        DeclareLaunchArgument(
            'source', default_value='',
            description="camera ('0' or '/dev/video0'), video file or image folder; "
                        'empty: the bundled sample video'),
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([share, 'config', 'hmr.yaml']),
            description='parameters of camera_source and hmr_node'),
        DeclareLaunchArgument(
            'model_profile', default_value='compact',
            choices=['compact', 'sd15', 'frontend_only'],
            description="'compact' (bundled CPU default), 'sd15' (paper size, your weights) "
                        "or 'frontend_only' (2D people and tracks)"),
        DeclareLaunchArgument('rviz', default_value='false', choices=['true', 'false'],
                              description='start RViz with config/hmr.rviz'),
        DeclareLaunchArgument('viewer', default_value='true', choices=['true', 'false'],
                              description='serve the live 3D web viewer (URL in the log)'),
        DeclareLaunchArgument('viewer_port', default_value='8080',
                              description='web viewer port (the next free one if taken)'),
        DeclareLaunchArgument('loop', default_value='true', choices=['true', 'false'],
                              description='restart a video or image folder at its end'),
        DeclareLaunchArgument('rate', default_value='0.0',
                              description='camera_source rate in Hz (0 = the source\'s own)'),
        DeclareLaunchArgument(
            'every_frame', default_value='auto', choices=['auto', 'true', 'false'],
            description="'true': every frame of the source is processed (the next is sent when "
                        "hmr_node has finished); 'false': the source's own rate, the node keeps "
                        "the newest frame (a live camera); 'auto': true for files and folders"),
    ]

    camera = Node(
        package='hmr_ros', executable='camera_source', name='camera_source',
        namespace='camera', output='screen',
        parameters=[params_file, {
            'source': ParameterValue(source, value_type=str),
            'loop': ParameterValue(LaunchConfiguration('loop'), value_type=bool),
            'rate': ParameterValue(LaunchConfiguration('rate'), value_type=float),
            'every_frame': ParameterValue(LaunchConfiguration('every_frame'), value_type=str),
            # Nothing is published before hmr_node has loaded its models; in every-frame mode
            # each frame waits for the node's acknowledgement of the earlier ones.
            'ready_topic': '/hmr_node/ready',
            'done_topic': '/hmr_node/frame_done',
        }])
    hmr = Node(
        package='hmr_ros', executable='hmr_node', name='hmr_node', output='screen',
        parameters=[params_file, {
            'image_topic': '/camera/image_raw',
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
    # When the source ends (video without loop) or either node fails, stop everything.
    stop_with_source = RegisterEventHandler(OnProcessExit(
        target_action=camera,
        on_exit=[EmitEvent(event=Shutdown(reason='camera_source exited'))]))
    stop_with_node = RegisterEventHandler(OnProcessExit(
        target_action=hmr, on_exit=[EmitEvent(event=Shutdown(reason='hmr_node exited'))]))
    # Images are large: Fast DDS's LARGE_DATA transports deliver 1280x720 rgb8 at 30 FPS where
    # the default UDP transport lost most frames (measured 4.7 of 30 FPS). Kept if already set.
    large_data = SetEnvironmentVariable('FASTDDS_BUILTIN_TRANSPORTS', EnvironmentVariable(
        'FASTDDS_BUILTIN_TRANSPORTS', default_value='LARGE_DATA'))
    return LaunchDescription(arguments + [large_data, camera, hmr, viewer, rviz,
                                          stop_with_source, stop_with_node])
