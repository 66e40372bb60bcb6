"""Robot human-awareness: camera -> hmr_node -> humans, with the camera's pose on the robot.

Publishes the camera's mounting pose on /tf_static (reference_frame -> camera_link ->
camera_optical_frame), runs the camera and hmr_node like live.launch.py, and the humans node:
REP-155 bodies under /humans/bodies/, TF frames body_<id> and <joint>_<id>, and proximity on
/humans/nearest_person and /humans/zone_events, all in the robot's frame.

Examples:
  ros2 launch hmr_ros robot.launch.py camera_z:=1.1 camera_pitch:=0.15
  ros2 launch hmr_ros robot.launch.py source:=/dev/video0 reference_frame:=base_footprint
"""
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument, EmitEvent, RegisterEventHandler, SetEnvironmentVariable)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import (
    EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution)
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

CAMERA_MOUNT = (('x', '0.0', 'metres ahead of the reference frame\'s origin'),
                ('y', '0.0', 'metres to the left'),
                ('z', '1.2', 'metres up (height above the ground for base_footprint)'),
                ('roll', '0.0', 'radians'),
                ('pitch', '0.0', 'radians, positive: the camera looks down'),
                ('yaw', '0.0', 'radians, positive: the camera looks to the left'))


def generate_launch_description():
    share = FindPackageShare('hmr_ros')
    params_file = LaunchConfiguration('params_file')
    arguments = [
        DeclareLaunchArgument(
            'source', default_value='',
            description="camera ('0' or '/dev/video0'), video file or image folder; "
                        'empty: the bundled sample video'),
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([share, 'config', 'hmr.yaml']),
            description='parameters of camera_source, hmr_node and humans'),
        DeclareLaunchArgument(
            'model_profile', default_value='compact', choices=['compact', 'sd15'],
            description='hmr_node model profile (the humans node needs meshes)'),
        DeclareLaunchArgument('loop', default_value='true', choices=['true', 'false'],
                              description='restart a video or image folder at its end'),
        DeclareLaunchArgument(
            'every_frame', default_value='auto', choices=['auto', 'true', 'false'],
            description="as live.launch.py: 'false' for a live camera (the newest frame), 'auto': "
                        'every frame of files and folders'),
        DeclareLaunchArgument('reference_frame', default_value='base_link',
                              description='robot frame (x forward, z up) the camera is mounted '
                                          'on; positions and proximity are given in it'),
        DeclareLaunchArgument('camera_frame', default_value='camera_link',
                              description='camera body frame (x forward, z up) on the robot'),
    ] + [DeclareLaunchArgument(f'camera_{name}', default_value=default,
                               description=f'camera mount: {text}')
         for name, default, text in CAMERA_MOUNT]

    mount = Node(
        package='hmr_ros', executable='static_transform', name='camera_mount', output='screen',
        parameters=[{
            'frame_id': ParameterValue(LaunchConfiguration('reference_frame'), value_type=str),
            'child_frame_id': ParameterValue(LaunchConfiguration('camera_frame'), value_type=str),
            # camera_source's frame_id (config/hmr.yaml): the frame of the images
            'optical_frame_id': 'camera_optical_frame',
            **{name: ParameterValue(LaunchConfiguration(f'camera_{name}'), value_type=float)
               for name, _, _ in CAMERA_MOUNT},
        }])
    camera = Node(
        package='hmr_ros', executable='camera_source', name='camera_source',
        namespace='camera', output='screen',
        parameters=[params_file, {
            'source': ParameterValue(LaunchConfiguration('source'), value_type=str),
            'loop': ParameterValue(LaunchConfiguration('loop'), value_type=bool),
            'frame_id': 'camera_optical_frame',
            'every_frame': ParameterValue(LaunchConfiguration('every_frame'), value_type=str),
            'ready_topic': '/hmr_node/ready',     # as live.launch.py: wait for hmr_node
            'done_topic': '/hmr_node/frame_done',
        }])
    hmr = Node(
        package='hmr_ros', executable='hmr_node', name='hmr_node', output='screen',
        parameters=[params_file, {
            'image_topic': '/camera/image_raw',
            'model_profile': ParameterValue(LaunchConfiguration('model_profile'), value_type=str),
        }])
    humans = Node(
        package='hmr_ros', executable='humans', name='humans', output='screen',
        parameters=[params_file, {
            'reference_frame': ParameterValue(LaunchConfiguration('reference_frame'),
                                              value_type=str),
            'camera_info_topic': '/camera/camera_info',
        }])
    stop_with_source = RegisterEventHandler(OnProcessExit(
        target_action=camera,
        on_exit=[EmitEvent(event=Shutdown(reason='camera_source exited'))]))
    stop_with_nodes = [RegisterEventHandler(OnProcessExit(
        target_action=node, on_exit=[EmitEvent(event=Shutdown(reason=f'{name} exited'))]))
        for node, name in ((hmr, 'hmr_node'), (humans, 'humans'))]
    # Images are large: see live.launch.py. Kept if already set.
    large_data = SetEnvironmentVariable('FASTDDS_BUILTIN_TRANSPORTS', EnvironmentVariable(
        'FASTDDS_BUILTIN_TRANSPORTS', default_value='LARGE_DATA'))
    return LaunchDescription(arguments + [large_data, mount, camera, hmr, humans,
                                          stop_with_source] + stop_with_nodes)
