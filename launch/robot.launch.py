"""Robot human-awareness: camera -> hmr_node -> humans, with the camera's pose on the robot.

Publishes the camera's mounting pose on /tf_static (reference_frame -> camera_link ->
camera_optical_frame), runs the camera and hmr_node like live.launch.py, and the humans node:
REP-155 bodies under /humans/bodies/, TF frames body_<id> and <joint>_<id>, and proximity on
/humans/nearest_person and /humans/zone_events, all in the robot's frame.

Examples:
  ros2 launch hmr_ros robot.launch.py camera_z:=1.1 camera_pitch:=0.15
  ros2 launch hmr_ros robot.launch.py source:=/dev/video0 reference_frame:=base_footprint
    (the camera mount measured from the ground: people's sizes and distances from the floor)
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hmr_ros.launch_parts import (
    camera_mount, FRAME_FLOW, hmr_node, large_image_transport, model_profile_argument,
    params_file_argument, shutdown_when_exits, source_argument, typed)

CAMERA_MOUNT = (('x', '0.0', 'metres ahead of the reference frame\'s origin'),
                ('y', '0.0', 'metres to the left'),
                ('z', '1.2', 'metres up (height above the ground for base_footprint)'),
                ('roll', '0.0', 'radians'),
                ('pitch', '0.0', 'radians, positive: the camera looks down'),
                ('yaw', '0.0', 'radians, positive: the camera looks to the left'))


def generate_launch_description():
    params_file = LaunchConfiguration('params_file')
    arguments = [
        source_argument(),
        params_file_argument('camera_source, hmr_node and humans'),
        model_profile_argument('hmr_node model profile (the humans node needs meshes)',
                               choices=['compact', 'sd15']),
        DeclareLaunchArgument('loop', default_value='true', choices=['true', 'false'],
                              description='restart a video or image folder at its end'),
        DeclareLaunchArgument(
            'every_frame', default_value='auto', choices=['auto', 'true', 'false'],
            description="as live.launch.py: 'false' for a live camera (the newest frame), 'auto': "
                        'every frame of files and folders'),
        DeclareLaunchArgument('reference_frame', default_value='base_link',
                              description='robot frame (x forward, z up) the camera is mounted '
                                          'on; positions and proximity are given in it'),
        DeclareLaunchArgument('floor_frame', default_value='base_footprint',
                              description='frame whose xy plane is the ground (REP-120): '
                                          "people on it get their size and distance from it "
                                          "when TF links it to the camera (your robot's "
                                          'description, or reference_frame:=base_footprint)'),
        DeclareLaunchArgument('camera_frame', default_value='camera_link',
                              description='camera body frame (x forward, z up) on the robot'),
    ] + [DeclareLaunchArgument(f'camera_{name}', default_value=default,
                               description=f'camera mount: {text}')
         for name, default, text in CAMERA_MOUNT]

    mount = camera_mount(typed('reference_frame', str), typed('camera_frame', str),
                         **{name: typed(f'camera_{name}', float)
                            for name, _, _ in CAMERA_MOUNT})
    camera = Node(
        package='hmr_ros', executable='camera_source', name='camera_source',
        namespace='camera', output='screen',
        parameters=[params_file, {
            'source': typed('source', str), 'loop': typed('loop', bool),
            'frame_id': 'camera_optical_frame', 'every_frame': typed('every_frame', str),
            **FRAME_FLOW,
        }])
    # the robot frame's z is up: the keypoint fit keeps upright people upright; the floor
    # frame's xy plane is the ground: people on it are sized by it
    hmr = hmr_node(params_file, image_topic='/camera/image_raw',
                   up_frame=typed('reference_frame', str),
                   floor_frame=typed('floor_frame', str))
    humans = Node(
        package='hmr_ros', executable='humans', name='humans', output='screen',
        parameters=[params_file, {
            'reference_frame': typed('reference_frame', str),
            'camera_info_topic': '/camera/camera_info',
        }])
    return LaunchDescription(arguments + [
        large_image_transport(), mount, camera, hmr, humans,
        shutdown_when_exits(camera, 'camera_source'), shutdown_when_exits(hmr, 'hmr_node'),
        shutdown_when_exits(humans, 'humans')])
