"""Evaluate hmr_node on a bag: replay it, record the node's outputs, score them, write a report.

bag_play -> hmr_node -> eval_record (result bag, MCAP) -> hmr-eval score (report.html,
metrics.json). `hmr-eval BAG --out DIR` runs this launch file for one bag or a set of bags.

Examples:
  ros2 launch hmr_ros eval.launch.py bag:=scene_00000 out:=eval_out
  ros2 launch hmr_ros eval.launch.py bag:=robot.mcap out:=eval_out mode:=realtime
  ros2 launch hmr_ros eval.launch.py bag:=seq_bag out:=eval_out ground_truth:=gt_bag
"""
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument, ExecuteProcess, OpaqueFunction, RegisterEventHandler)
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hmr_ros.frame_flow import MAX_RESENDS
from hmr_ros.launch_parts import (
    bag_image_arguments, delay_frames_argument, delay_frames_parameter, FRAME_FLOW, hmr_node,
    large_image_transport, model_profile_argument, params_file_argument, shutdown_when_exits,
    typed)

MODES = ('lockstep', 'realtime')


def _nodes(context):
    """The player, the node and the recorder; the scorer when the recorder has finished."""
    import os
    import sys

    def arg(name):
        return context.launch_configurations[name]
    bag = os.path.abspath(os.path.expanduser(arg('bag')))
    out = os.path.abspath(os.path.expanduser(arg('out')))
    name = arg('name') or os.path.splitext(os.path.basename(bag.rstrip('/')))[0]
    result = os.path.join(out, 'sequences', name)
    lockstep = arg('mode') == 'lockstep'
    ack_timeout = 30.0 if lockstep else 20.0
    play = {'play': 'inputs'}
    if arg('people_topic'):     # the people hmr_node takes instead of its front-end's, too
        image = arg('image_topic').rstrip('/')
        play = {'topics': [image + ('/compressed' if arg('image_transport') == 'compressed'
                                    else ''),
                           image.rpartition('/')[0] + '/camera_info', arg('people_topic')]}
    player = Node(
        package='hmr_ros', executable='bag_play', name='bag_play', output='screen',
        parameters=[{
            'bag': bag,
            'rate': typed('rate', float),
            'every_frame': lockstep,
            **play,
            # The recorder says when the node is ready *and* its outputs are subscribed.
            'ready_topic': '/eval_record/ready',
            'done_topic': FRAME_FLOW['done_topic'],
            'end_topic': FRAME_FLOW['end_topic'],   # then the delayed stream's last frames
            # Lockstep: one image at a time, so that an image lost on the way (it happens on a
            # loaded machine) is sent again after ack_timeout and still processed in order;
            # two in flight let a resent image overtake its successor, and never resending
            # stalled a 2,400-frame run for 10 minutes on one lost image. A resend of an image
            # the node is still on is only acknowledged (a duplicate), but 10 s was too short
            # on a machine loaded 6x over: every frame was sent three times.
            'max_in_flight': 1 if lockstep else 2,
            'ack_timeout': ack_timeout,
        }])
    hmr = hmr_node(
        LaunchConfiguration('params_file'), image_topic=typed('image_topic', str),
        image_transport=typed('image_transport', str), people_topic=typed('people_topic', str),
        # Nobody looks at the visuals during an evaluation: they would only cost time.
        publish_overlay=False, publish_debug_image=False, publish_markers=False,
        **delay_frames_parameter())
    recorder = Node(
        package='hmr_ros', executable='eval_record', name='eval_record', output='screen',
        parameters=[{
            'output': result, 'input_bag': bag, 'mode': arg('mode'),
            'image_topic': typed('image_topic', str),
            'image_transport': typed('image_transport', str),
            'params_file': typed('params_file', str), 'model_profile': typed('model_profile', str),
            'idle_timeout': 1800.0 if lockstep else 15.0,
            # as long as the player waits for the end, before it gives up on it
            'end_timeout': ack_timeout * (MAX_RESENDS + 1),
        }])
    actions = [player, hmr, recorder, shutdown_when_exits(hmr, 'hmr_node')]
    if arg('score') == 'true':
        cmd = [sys.executable, '-m', 'hmr_ros.eval_tool', 'score', out]
        if arg('ground_truth'):
            cmd += ['--ground-truth', arg('ground_truth')]
        if arg('compare'):
            cmd += ['--compare', arg('compare')]
        scorer = ExecuteProcess(cmd=cmd, name='hmr_eval_score', output='screen')
        actions += [RegisterEventHandler(OnProcessExit(target_action=recorder, on_exit=[scorer])),
                    shutdown_when_exits(scorer, 'the scorer (report written)')]
    else:
        actions.append(shutdown_when_exits(recorder, 'eval_record (result bag written)'))
    return actions


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument('bag', description='input rosbag2 (MCAP or sqlite3; file or '
                                                 'folder) with the camera images'),
        DeclareLaunchArgument('out', description='output folder: sequences/<name>/ (result '
                                                 'bags), report.html, metrics.json'),
        DeclareLaunchArgument('name', default_value='',
                              description='name of this sequence in the report (default: the '
                                          "bag's name)"),
        DeclareLaunchArgument('ground_truth', default_value='',
                              description="'' = the bag's /ground_truth/persons (if any); a "
                                          'topic of the bag; or a side bag holding it'),
        DeclareLaunchArgument('mode', default_value='lockstep', choices=list(MODES),
                              description="'lockstep': every frame processed, deterministic; "
                                          "'realtime': the bag's timing, drops as live"),
        DeclareLaunchArgument('rate', default_value='1.0',
                              description='playback speed factor (realtime mode)'),
        *bag_image_arguments(),
        params_file_argument('hmr_node'),
        model_profile_argument(),
        delay_frames_argument(),
        DeclareLaunchArgument('people_topic', default_value='',
                              description="people from a topic instead of hmr_node's "
                                          "front-end (e.g. the bag's /ground_truth/detections, "
                                          "played with the inputs); '' = the front-end"),
        DeclareLaunchArgument('score', default_value='true', choices=['true', 'false'],
                              description="'false': only record (hmr-eval scores a set of "
                                          'bags together)'),
        DeclareLaunchArgument('compare', default_value='',
                              description='another evaluation folder to compare with (A/B)'),
    ]
    return LaunchDescription(arguments + [large_image_transport(),
                                          OpaqueFunction(function=_nodes)])
