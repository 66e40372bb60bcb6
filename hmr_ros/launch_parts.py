"""Pieces the launch files share, written once: arguments, nodes, transports, shutdown rules.

Imported by the files in `launch/` when `ros2 launch` runs them (real ROS 2 `launch` or the
shim's), so it is only imported there, never by the nodes.
"""
from launch import Substitution
from launch.actions import (
    DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler,
    SetEnvironmentVariable)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PROFILES = ['compact', 'sd15', 'frontend_only']
# A source waits for the node's latched ready before its first frame, and in every-frame mode
# for the node's acknowledgement of the earlier frames, and of the end of a file or bag
# (hmr_ros.frame_flow).
FRAME_FLOW = {'ready_topic': '/hmr_node/ready', 'done_topic': '/hmr_node/frame_done',
              'end_topic': '/hmr_node/end_of_stream'}


def share():
    return FindPackageShare('hmr_ros')


def typed(name, value_type):
    """The launch argument `name` as a parameter of `value_type` (str, bool, int, float)."""
    return ParameterValue(LaunchConfiguration(name), value_type=value_type)


def source_argument():
    return DeclareLaunchArgument(
        'source', default_value='',
        description="camera ('0' or '/dev/video0'), video file or image folder; "
                    'empty: the bundled sample video')


def stills_argument():
    return DeclareLaunchArgument(
        'stills', default_value='auto', choices=['auto', 'true', 'false'],
        description="'true': every image stands alone (photos: no tracking or smoothing across "
                    "images); 'auto': true for an image file or a folder of photos, false for a "
                    'camera, a video or a folder of numbered frames (frame_0001.png, ...)')


def scene_cut_argument():
    return DeclareLaunchArgument(
        'scene_cut', default_value='auto', choices=['auto', 'true', 'false'],
        description="'true': an image that starts a new shot (a hard cut in an edited video) "
                    "starts the tracks again; 'auto': true for a video file or an image folder, "
                    'false for a camera (never edited: someone passing close in front of it '
                    'must not cost every track its id)')


class FromSource(Substitution):
    """A 'true' / 'false' launch argument as text, where 'auto' asks `decide(source)`."""

    def __init__(self, argument, decide):
        super().__init__()
        self.argument, self.decide = argument, decide

    def perform(self, context):
        value = LaunchConfiguration(self.argument).perform(context)
        if value != 'auto':
            return value
        return str(self.decide(LaunchConfiguration('source').perform(context))).lower()


def stills_parameter():
    from hmr_ros.frame_sources import stands_alone
    return ParameterValue(FromSource('stills', stands_alone), value_type=bool)


def scene_cut_parameter():
    """hmr_node's frontend.scene_cut: {name: value} for hmr_node(...)."""
    from hmr_ros.frame_sources import may_be_edited
    return {'frontend.scene_cut': ParameterValue(FromSource('scene_cut', may_be_edited),
                                                 value_type=bool)}


def delay_frames_argument():
    return DeclareLaunchArgument(
        'delay_frames', default_value='0',
        description='d > 0: hmr_node also publishes ~/persons_delayed, each frame smoothed with '
                    'the d frames after it and fitted to its keypoints, d frames late (replay, '
                    'offline use); 0: off')


def delay_frames_parameter():
    """hmr_node's temporal.temporal_delay_frames from delay_frames: {name: value}."""
    return {'temporal.temporal_delay_frames': typed('delay_frames', int)}


def params_file_argument(nodes):
    return DeclareLaunchArgument(
        'params_file', default_value=PathJoinSubstitution([share(), 'config', 'hmr.yaml']),
        description=f'parameters of {nodes}')


def model_profile_argument(description='model profile of hmr_node', choices=PROFILES):
    return DeclareLaunchArgument('model_profile', default_value='compact', choices=choices,
                                 description=description)


def bag_image_arguments():
    """image_topic and image_transport of a bag that hmr_node reads (replay, evaluation)."""
    return [
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='image topic in the bag that hmr_node reads'),
        DeclareLaunchArgument('image_transport', default_value='raw',
                              choices=['raw', 'compressed'],
                              description="'compressed': <image_topic>/compressed (bags "
                                          'recorded with hmr-bag record --compress-images)'),
    ]


def display_arguments(viewer='false'):
    """rviz, viewer and viewer_port; `viewer` is the web viewer's default ('true'/'false')."""
    return [
        DeclareLaunchArgument('rviz', default_value='false', choices=['true', 'false'],
                              description='start RViz with config/hmr.rviz'),
        DeclareLaunchArgument('viewer', default_value=viewer, choices=['true', 'false'],
                              description='serve the live 3D web viewer (URL in the log)'),
        DeclareLaunchArgument('viewer_port', default_value='8080',
                              description='web viewer port (the next free one if taken)'),
    ]


def hmr_node(params_file, **parameters):
    """hmr_node with the parameters file, the model_profile argument and `parameters`."""
    return Node(package='hmr_ros', executable='hmr_node', name='hmr_node', output='screen',
                parameters=[params_file, {'model_profile': typed('model_profile', str),
                                          **parameters}])


def camera_mount(frame_id, child_frame_id='camera_link', condition=None, **pose):
    """The camera's mount on /tf_static: frame_id -> child_frame_id -> camera_optical_frame.

    `pose` (x, y, z, roll, pitch, yaw) places the camera body; camera_optical_frame is
    camera_source's frame_id (config/hmr.yaml), the frame of the images. hmr_node reads the
    chain (up_frame, floor_frame).
    """
    return Node(package='hmr_ros', executable='static_transform', name='camera_mount',
                output='screen', condition=condition,
                parameters=[{'frame_id': frame_id, 'child_frame_id': child_frame_id,
                             'optical_frame_id': 'camera_optical_frame', **pose}])


def display_nodes(params_file):
    """The web viewer and RViz, each started when its argument says so."""
    viewer = Node(
        package='hmr_ros', executable='viewer', name='viewer', output='screen',
        parameters=[params_file, {'viewer_port': typed('viewer_port', int)}],
        condition=IfCondition(LaunchConfiguration('viewer')))
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', output='screen',
        arguments=['-d', PathJoinSubstitution([share(), 'config', 'hmr.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')))
    return [viewer, rviz]


def shutdown_when_exits(action, name, then=None):
    """Stop the whole launch when `action` exits (after the actions in `then`, if any)."""
    return RegisterEventHandler(OnProcessExit(
        target_action=action,
        on_exit=(then or []) + [EmitEvent(event=Shutdown(reason=f'{name} exited'))]))


def large_image_transport():
    """Fast DDS shared memory that holds whole camera images (hmr_ros.transport).

    Unless the user set a Fast DDS variable: the default transports delivered 4 of 30 FPS
    of 1280x720.
    """
    def settings(context):
        from hmr_ros.transport import large_image_environment
        return [SetEnvironmentVariable(name, value)
                for name, value in large_image_environment().items()]
    return OpaqueFunction(function=settings)
