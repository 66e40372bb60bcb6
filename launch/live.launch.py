"""Live pipeline: camera_source (camera, video or image folder) -> hmr_node (-> RViz).

Examples:
  ros2 launch hmr_ros live.launch.py                       # the bundled sample video
  ros2 launch hmr_ros live.launch.py source:=/dev/video0   # a V4L2 camera
  ros2 launch hmr_ros live.launch.py source:=clip.mp4 loop:=false # every frame, then stop
  ros2 launch hmr_ros live.launch.py source:=clip.mp4 every_frame:=false  # at the video's rate
  ros2 launch hmr_ros live.launch.py source:=/dev/video0 camera_height:=2.4 camera_pitch:=0.3
      # a fixed camera 2.4 m above the floor, looking 0.3 rad down: people's sizes and
      # distances from the floor, upright people kept upright
  ros2 launch hmr_ros live.launch.py source:=plaza.mp4 floor_from_people:=true
      # a fixed camera of unknown height: the floor found from people walking about
  ros2 launch hmr_ros live.launch.py source:=photos/ loop:=false
      # a folder of photos, each on its own (stills:=auto; frame_0001.png, ... play as a video)
  ros2 launch hmr_ros live.launch.py source:=match.mp4
      # an edited video: each hard cut starts new tracks (scene_cut:=auto; off for a camera)
  ros2 launch hmr_ros live.launch.py source:=clip.mp4 loop:=false delay_frames:=8
      # also ~/persons_delayed: each frame smoothed with 8 frames of what came after it
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node

from hmr_ros.launch_parts import (
    camera_mount, FRAME_FLOW, delay_frames_argument, delay_frames_parameter, display_arguments,
    display_nodes, hmr_node, large_image_transport, model_profile_argument, params_file_argument,
    scene_cut_argument, scene_cut_parameter, shutdown_when_exits, source_argument,
    stills_argument, stills_parameter, typed)


def generate_launch_description():
    params_file = LaunchConfiguration('params_file')
    arguments = [
        source_argument(),
        stills_argument(),
        scene_cut_argument(),
        params_file_argument('camera_source and hmr_node'),
        model_profile_argument("'compact' (bundled CPU default), 'sd15' (paper size, your "
                               "weights) or 'frontend_only' (2D people and tracks)"),
        *display_arguments(viewer='true'),
        DeclareLaunchArgument('loop', default_value='true', choices=['true', 'false'],
                              description='restart a video or image folder at its end'),
        DeclareLaunchArgument('rate', default_value='0.0',
                              description='camera_source rate in Hz (0 = the source\'s own)'),
        DeclareLaunchArgument(
            'every_frame', default_value='auto', choices=['auto', 'true', 'false'],
            description="'true': every frame of the source is processed (the next is sent when "
                        "hmr_node has finished); 'false': the source's own rate, the node keeps "
                        "the newest frame (a live camera); 'auto': true for files and folders"),
        DeclareLaunchArgument('camera_height', default_value='0.0',
                              description="the camera's height above the floor in metres, when "
                                          'known (0 = unknown): people on the floor get their '
                                          'size and distance from it (robot.launch.py for a '
                                          'camera on a robot)'),
        DeclareLaunchArgument('camera_pitch', default_value='0.0',
                              description='radians the camera looks down (with camera_height)'),
        DeclareLaunchArgument('floor_from_people', default_value='false',
                              choices=['true', 'false'],
                              description="a fixed camera of unknown height: find the floor "
                                          "from people's ankles as they walk about, then size "
                                          'and place people from it (not for a moving camera)'),
        delay_frames_argument(),
    ]
    # A known mount: base_footprint (the floor) -> camera_link -> the images' optical frame.
    mount = camera_mount(
        'base_footprint', z=typed('camera_height', float), pitch=typed('camera_pitch', float),
        condition=IfCondition(PythonExpression([LaunchConfiguration('camera_height'), ' > 0'])))
    camera = Node(
        package='hmr_ros', executable='camera_source', name='camera_source',
        namespace='camera', output='screen',
        parameters=[params_file, {
            'source': typed('source', str), 'loop': typed('loop', bool),
            'rate': typed('rate', float), 'every_frame': typed('every_frame', str),
            **FRAME_FLOW,
        }])
    hmr = hmr_node(params_file, image_topic='/camera/image_raw',
                   floor_from_people=typed('floor_from_people', bool), stills=stills_parameter(),
                   **scene_cut_parameter(), **delay_frames_parameter())
    # When the source ends (video without loop) or the node fails, stop everything.
    return LaunchDescription(arguments + [
        large_image_transport(), mount, camera, hmr, *display_nodes(params_file),
        shutdown_when_exits(camera, 'camera_source'), shutdown_when_exits(hmr, 'hmr_node')])
