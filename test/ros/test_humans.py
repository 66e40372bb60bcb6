"""The humans node on the real middleware: TF tree, REP-155 topics, URDF, proximity events.

A static camera pose goes out on /tf_static (as a robot's URDF or robot.launch.py would send
it), then a synthetic clip with exact geometry (hmr_models.awareness.scenarios): person 7 walks
straight at the robot from 4 m while person 3 stands aside pointing at it, then 7 disappears.
"""
from pathlib import Path
import sys
from xml.etree import ElementTree

import numpy as np
from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D, Skeleton2D
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import Float32, String
from tf2_msgs.msg import TFMessage

from hmr_models.awareness import TransformTree
from hmr_models.awareness.scenarios import approach_scene, default_camera, level_camera
from hmr_models.awareness.urdf import urdf_forward_kinematics
from hmr_ros.awareness_msgs import person_array
from hmr_ros.msg import BodyTrackingState, NearestPerson, SMPLPersonArray, ZoneEvent
from hmr_ros.tf_conversion import (add_transforms, to_seconds, to_time, transform_from_msg,
                                   transform_msg)
from ros.conftest import wait_for, wait_matched
from ros.test_nodes import collect

RELIABLE = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
CAMERA = dict(x=0.1, height=1.3, pitch=0.2)
SENSOR = 'camera_optical_frame'
EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'safety_and_attention.py'


def static_pose_message(stamp):
    from hmr_models.awareness.frames import OPTICAL_IN_CAMERA, make_transform, rpy_to_rotation
    mount = make_transform(rpy_to_rotation(0.0, CAMERA['pitch'], 0.0),
                           [CAMERA['x'], 0.0, CAMERA['height']])
    return TFMessage(transforms=[
        transform_msg('base_link', 'camera_link', mount, stamp),
        transform_msg('camera_link', SENSOR, make_transform(OPTICAL_IN_CAMERA), stamp)])


def clip(body):
    """[(stamp, [PersonInput])]: 7 approaches, 3 points at the robot; then 7 is gone 0.8 s."""
    pose = level_camera(CAMERA['height'], CAMERA['pitch'], CAMERA['x'])
    return [(100.0 + stamp, persons) for stamp, persons in approach_scene(body, pose)]


def get_parameter(node, target, name, timeout=30):
    """A parameter's value through the target node's parameter service."""
    from rcl_interfaces.srv import GetParameters
    client = node.create_client(GetParameters, f'{target}/get_parameters')
    assert client.wait_for_service(timeout_sec=timeout)
    future = client.call_async(GetParameters.Request(names=[name]))
    assert wait_for(future.done, timeout)
    return future.result().values[0].string_value


def tree_at(static, tf_messages, stamp):
    tree = TransformTree()
    for msg in static:
        for t in msg.transforms:
            tree.set(t.header.frame_id, t.child_frame_id, transform_from_msg(t.transform))
    for msg in tf_messages:
        if msg.transforms and abs(to_seconds(msg.transforms[0].header.stamp) - stamp) < 1e-6:
            for t in msg.transforms:
                tree.set(t.header.frame_id, t.child_frame_id, transform_from_msg(t.transform))
    return tree


def test_humans_node_frames_rep155_topics_urdf_and_zone_events(ros_node, spawn):
    from hmr_models.body import load_body_model
    frames = clip(load_body_model())
    tf = collect(ros_node, TFMessage, '/tf', RELIABLE)
    static_seen = collect(ros_node, TFMessage, '/tf_static', LATCHED)
    tracked = collect(ros_node, IdsList, '/humans/bodies/tracked', RELIABLE)
    nearest = collect(ros_node, NearestPerson, '/humans/nearest_person', RELIABLE)
    events = collect(ros_node, ZoneEvent, '/humans/zone_events', RELIABLE)
    urdf = collect(ros_node, String, '/humans/bodies/b7/urdf', LATCHED)
    joints = collect(ros_node, JointState, '/humans/bodies/b7/joint_states', RELIABLE)
    states = collect(ros_node, BodyTrackingState, '/humans/bodies/b7/tracking_state', RELIABLE)
    roi = collect(ros_node, NormalizedRegionOfInterest2D, '/humans/bodies/b7/roi', RELIABLE)
    skeleton = collect(ros_node, Skeleton2D, '/humans/bodies/b3/skeleton2d', RELIABLE)
    static_pub = ros_node.create_publisher(TFMessage, '/tf_static', LATCHED)
    static_pub.publish(static_pose_message(ros_node.get_clock().now().to_msg()))
    info_pub = ros_node.create_publisher(CameraInfo, '/t/camera_info', RELIABLE)
    people_pub = ros_node.create_publisher(SMPLPersonArray, '/t/persons_smoothed', RELIABLE)
    example = spawn(sys.executable, str(EXAMPLE), '--ros-args', '-p', 'reference_frame:=base_link')
    scales = collect(ros_node, Float32, '/safety_and_attention/speed_scale', RELIABLE)
    proc = spawn('--ros-args', '-p', 'reference_frame:=base_link',
                 '-p', 'smoothed_topic:=/t/persons_smoothed', '-p', 'persons_topic:=/t/persons',
                 '-p', 'camera_info_topic:=/t/camera_info', '-p', 'prediction_timeout:=0.5',
                 python_module='hmr_ros.humans_node')
    assert wait_matched(people_pub, info_pub, timeout=90), proc.text
    # The example node listens too (tracked: this test and the example).
    assert wait_for(lambda: ros_node.count_subscribers('/humans/bodies/tracked') >= 2, 60), \
        example.text
    cam = default_camera()
    info = CameraInfo(width=cam.width, height=cam.height)
    info.header.frame_id = SENSOR
    for _ in range(3):
        info_pub.publish(info)
    for i, (stamp, persons) in enumerate(frames):
        people_pub.publish(person_array(persons, stamp, SENSOR))
        # One image at a time, as hmr_node publishes them; generous for a busy machine.
        assert wait_for(lambda: len(tracked) > i, 30), f'frame {i}\n{proc.text}'
    # The REP-155 URDF parameter of a body tracked now.
    description = get_parameter(ros_node, '/humans', 'human_description_b3')
    assert description.startswith('<?xml') and 'human_b3' in description
    assert wait_for(lambda: len(states) and states[-1].state == BodyTrackingState.LOST, 10), \
        ([s.state for s in states], len(roi), len(joints), proc.text)
    # The images' own results only: 1.5 s without images (after the last one, or between two
    # on a machine too busy to send them in time) the node drops everyone on its clock.

    def of_an_image(msg):
        return any(abs(to_seconds(msg.header.stamp) - s) < 1e-6 for s, _ in frames)
    tracked = [m for m in tracked if of_an_image(m)]
    nearest = [m for m in nearest if of_an_image(m)]

    stamps = [to_seconds(m.header.stamp) for m in tracked]
    assert np.allclose(stamps, [s for s, _ in frames])
    # Ids in /humans/bodies/tracked match the body_<id> frames of the same image.
    for msg in tracked:
        stamp = to_seconds(msg.header.stamp)
        bodies = {t.child_frame_id for m in tf for t in m.transforms
                  if abs(to_seconds(t.header.stamp) - stamp) < 1e-6 and
                  t.child_frame_id.startswith('body_')}
        assert bodies == {f'body_{i}' for i in msg.ids}, (stamp, msg.ids, bodies)
    assert tracked[0].ids == ['b3', 'b7'] and tracked[-1].ids == ['b3']

    # The TF tree in the robot frame, on the last image where 7 is seen.
    approach_end = frames[len(frames) - 9][0]
    tree = tree_at(static_seen, tf, approach_end)
    assert tree.parent('body_b7') == SENSOR and tree.parent('pelvis_b7') == 'body_b7'
    assert tree.parent('left_wrist_b7') == 'left_elbow_b7'
    body = tree.lookup('base_link', 'body_b7')
    assert np.allclose(body[:3, 2], [0, 0, 1], atol=1e-5), body       # z up
    assert np.allclose(body[:3, 0], [-1, 0, 0], atol=0.03), body      # facing the robot
    feet = [tree.lookup('base_link', f'{j}_b7')[2, 3]
            for j in ('left_ankle', 'right_ankle', 'left_foot', 'right_foot')]
    assert all(-0.02 < z < 0.25 for z in feet) and min(feet) < 0.1, feet
    head = tree.lookup('base_link', 'head_b3')[:3, 3]
    assert 1.3 < head[2] < 1.9 and np.allclose(head[:2], [3.0, 1.6], atol=0.2), head

    # URDF: parses, one continuous joint per axis of each SMPL joint; with the joint states of
    # the same image it reproduces the published joint frames (what robot_state_publisher does).
    assert wait_for(lambda: urdf, 5)
    robot = ElementTree.fromstring(urdf[-1].data)
    assert len([j for j in robot.findall('joint') if j.get('type') == 'continuous']) == 72
    js = next(m for m in joints if abs(to_seconds(m.header.stamp) - approach_end) < 1e-6)
    links = urdf_forward_kinematics(urdf[-1].data, dict(zip(js.name, js.position)))
    for name in ('left_wrist', 'right_ankle', 'head', 'pelvis'):
        assert np.allclose(links[f'{name}_b7'], tree.lookup('body_b7', f'{name}_b7'), atol=1e-4)

    # 2D REP-155 data, normalised.
    assert roi and 0 <= roi[-1].xmin < roi[-1].xmax <= 1 and roi[-1].c > 0
    assert skeleton and len(skeleton[-1].skeleton) == 18
    assert all(0 <= k.x <= 1 and 0 <= k.y <= 1 for k in skeleton[-1].skeleton)

    # Proximity: 7 is the nearest while approaching, distance decreasing; zone events in order.
    approach = [m for m in nearest if to_seconds(m.header.stamp) <= approach_end]
    assert all(m.found and m.header.frame_id == 'base_link' for m in approach)
    d7 = [m.distance for m in approach if m.body_id == 'b7']
    assert d7[-1] < 0.6 and np.all(np.diff(d7[::5]) < 0), d7
    sequence = [(e.body_id, e.zone, e.event, e.lost) for e in events]
    assert sequence == [('b7', 'warning', ZoneEvent.ENTERED, False),
                        ('b7', 'protective', ZoneEvent.ENTERED, False),
                        ('b7', 'protective', ZoneEvent.EXITED, True),
                        ('b7', 'warning', ZoneEvent.EXITED, True)], sequence
    assert [round(e.radius, 3) for e in events[:2]] == [2.0, 1.0]
    assert events[0].distance < 2.0 and events[1].distance < 1.0
    # Tracking state: tracked, occluded (predicted) for 0.5 s, then lost; frames stop.
    kinds = [s.state for s in states]
    assert kinds.index(BodyTrackingState.OCCLUDED) > kinds.index(BodyTrackingState.TRACKED)
    # While hidden, 7 stays the nearest, flagged as predicted, until it is lost; then 3.
    hidden = [m for m in nearest if to_seconds(m.header.stamp) > approach_end + 1e-6]
    assert hidden[0].body_id == 'b7' and hidden[0].predicted and hidden[0].time_since_seen > 0
    assert hidden[-1].body_id == 'b3' and not hidden[-1].predicted
    assert proc.proc.poll() is None

    # The example: full speed, half in the warning zone, stop in the protective zone, and back
    # to full speed once 7 is lost; 3 faces and points at the robot.
    assert example.says('speed x1: b7 left the warning zone (lost)', timeout=10), \
        example.text
    for line in ('speed x0.5: b7 entered the warning zone', 'stopping: b7 entered the '
                 'protective zone', 'b3 is facing and pointing at the robot'):
        assert line in example.text, example.text
    values = [round(m.data, 3) for m in scales]
    changes = [v for k, v in enumerate(values) if k == 0 or v != values[k - 1]]
    assert changes[:3] == [1.0, 0.5, 0.0] and changes[-1] == 1.0, values
    assert example.interrupt() == 0, example.text
    assert proc.interrupt() == 0, proc.text


def test_config_file_sets_every_humans_parameter_with_its_type():
    """config/hmr.yaml's humans section: known names, the declared types, values taken."""
    import rclpy
    import yaml

    from hmr_ros.humans_node import HumansNode
    path = Path(__file__).resolve().parents[2] / 'config' / 'hmr.yaml'
    section = yaml.safe_load(path.read_text())['/**/humans']['ros__parameters']
    context = rclpy.Context()
    rclpy.init(context=context, args=['--ros-args', '--params-file', str(path)])
    try:
        node = HumansNode(context=context)
        declared = {p for p in node._parameters if not p.startswith('use_sim_time')}
        assert set(section) <= declared, set(section) - declared
        for name, value in section.items():
            got = node.get_parameter(name).value
            got = list(got) if isinstance(value, list) else got
            assert got == value and type(got) is type(value), (name, got, value)
        node.close()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_static_transform_publishes_mount_and_optical_frames(ros_node, spawn):
    static = collect(ros_node, TFMessage, '/tf_static', LATCHED)
    proc = spawn('--ros-args', '-p', 'frame_id:=base_link', '-p', 'child_frame_id:=cam_link',
                 '-p', 'optical_frame_id:=cam_optical', '-p', 'z:=1.5', '-p', 'pitch:=0.3',
                 python_module='hmr_ros.static_transform')
    assert wait_for(lambda: static, 30), proc.text
    tree = TransformTree()
    for t in static[-1].transforms:
        tree.set(t.header.frame_id, t.child_frame_id, transform_from_msg(t.transform))
    assert tree.parent('cam_optical') == 'cam_link' and tree.parent('cam_link') == 'base_link'
    t = tree.lookup('base_link', 'cam_optical')
    assert np.allclose(t[:3, 3], [0, 0, 1.5])
    assert np.allclose(t[:3, 2], [np.cos(0.3), 0, -np.sin(0.3)])   # optical axis, pitched down
    assert np.allclose(t[:3, 0], [0, -1, 0])                        # image right = robot right
    assert proc.interrupt() == 0, proc.text


def test_camera_pose_parameter_places_bodies_and_publishes_the_static_transform(ros_node,
                                                                                spawn):
    """No /tf_static from anyone: the camera_pose parameter gives the pose, and the node
    publishes it so that the TF tree is connected."""
    from hmr_models.body import load_body_model
    pose = level_camera(1.4, 0.1)
    static = collect(ros_node, TFMessage, '/tf_static', LATCHED)
    tf = collect(ros_node, TFMessage, '/tf', RELIABLE)
    nearest = collect(ros_node, NearestPerson, '/humans/nearest_person', RELIABLE)
    people_pub = ros_node.create_publisher(SMPLPersonArray, '/p/persons_smoothed', RELIABLE)
    proc = spawn('--ros-args', '-p', 'reference_frame:=base_footprint', '-p',
                 f"camera_pose:=[{', '.join(str(float(v)) for v in pose)}]",
                 '-p', 'smoothed_topic:=/p/persons_smoothed', '-p', 'persons_topic:=/p/persons',
                 python_module='hmr_ros.humans_node')
    assert wait_matched(people_pub, timeout=90), proc.text
    scene = approach_scene(load_body_model(), pose)[:3]
    for i, (stamp, persons) in enumerate(scene):
        people_pub.publish(person_array(persons, 50.0 + stamp, SENSOR))
        assert wait_for(lambda: len(nearest) > i, 30), proc.text
    assert wait_for(lambda: static, 10), proc.text
    tree = tree_at(static, tf, 50.0 + scene[-1][0])
    assert tree.parent(SENSOR) == 'base_footprint'
    body = tree.lookup('base_footprint', 'body_b3')
    assert np.allclose(body[:3, 2], [0, 0, 1], atol=1e-5)
    assert np.allclose(body[:2, 3], [3.0, 1.6], atol=0.1)
    assert proc.says('camera pose in the reference frame: from parameter camera_pose'), \
        proc.text
    assert nearest[-1].header.frame_id == 'base_footprint' and nearest[-1].found
    assert proc.interrupt() == 0, proc.text


def test_add_transforms_reads_good_edges_and_names_bad_ones():
    """Both nodes read /tf_static through add_transforms: a bad edge is named, not raised."""
    from geometry_msgs.msg import TransformStamped
    good = transform_msg('base_link', 'camera_link', np.eye(4), to_time(1.0))
    bad = TransformStamped()
    bad.header.frame_id, bad.child_frame_id = 'camera_link', 'camera_optical_frame'
    bad.transform.rotation.w = 0.0                      # all-zero quaternion
    self_edge = transform_msg('a', 'a', np.eye(4), to_time(1.0))
    tree = TransformTree()
    problems = add_transforms(tree, TFMessage(transforms=[good, bad, self_edge]))
    assert tree.parent('camera_link') == 'base_link'
    assert tree.lookup('base_link', 'camera_optical_frame') is None
    assert len(problems) == 1 and 'camera_link -> camera_optical_frame' in problems[0]
