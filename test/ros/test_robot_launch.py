"""robot.launch.py end to end on the bundled sample video: bodies in the robot's frame."""
import re

from hri_msgs.msg import IdsList
import numpy as np
from tf2_msgs.msg import TFMessage

from hmr_models.awareness import TransformTree
from hmr_ros.msg import NearestPerson
from hmr_ros.tf_conversion import to_seconds, transform_from_msg
from ros.conftest import pid_alive, ros2_command, wait_for
from ros.test_humans import LATCHED
from ros.test_nodes import collect, RELIABLE


def test_robot_launch_publishes_rep155_bodies_and_tf_in_the_robot_frame(ros_node, spawn):
    tf = collect(ros_node, TFMessage, '/tf', RELIABLE)
    static = collect(ros_node, TFMessage, '/tf_static', LATCHED)
    tracked = collect(ros_node, IdsList, '/humans/bodies/tracked', RELIABLE)
    nearest = collect(ros_node, NearestPerson, '/humans/nearest_person', RELIABLE)
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'robot.launch.py', 'camera_z:=1.1',
                   'camera_pitch:=0.05', 'floor_frame:=base_link')

    def images_with_bodies():
        frames = {to_seconds(t.header.stamp) for m in list(tf) for t in m.transforms
                  if t.child_frame_id.startswith('body_')}
        return [m for m in list(tracked) if m.ids and to_seconds(m.header.stamp) in frames]
    # Model loading and warm-up take minutes on a busy 2-core machine (test_launch_paths: 420 s).
    assert wait_for(lambda: len(images_with_bodies()) >= 3, 420), launch.text
    msg = images_with_bodies()[-1]
    stamp = to_seconds(msg.header.stamp)
    tree = TransformTree()
    for m in list(static) + [m for m in list(tf) if m.transforms and
                             to_seconds(m.transforms[0].header.stamp) == stamp]:
        for t in m.transforms:
            tree.set(t.header.frame_id, t.child_frame_id, transform_from_msg(t.transform))
    assert tree.parent('camera_optical_frame') == 'camera_link'
    assert tree.parent('camera_link') == 'base_link'
    for body_id in msg.ids:
        assert tree.parent(f'body_{body_id}') == 'camera_optical_frame'
        body = tree.lookup('base_link', f'body_{body_id}')
        assert np.allclose(body[:3, 2], [0, 0, 1], atol=1e-5)     # z up in the robot frame
        assert body[0, 3] > 0.5                                   # in front of the robot
        assert tree.lookup('base_link', f'left_wrist_{body_id}') is not None
    near = [n for n in list(nearest) if n.found]
    assert near and all(n.header.frame_id == 'base_link' and n.distance > 0 for n in near)
    assert near[-1].body_id in {i for m in tracked for i in m.ids}

    # hmr_node knows which way is up and where the floor is from the camera's mounting
    # (refine_upright_sigma, refine_floor_sigma): base_link's xy plane is the floor here
    assert ("floor in camera_optical_frame: base_link's xy plane from /tf_static, the camera "
            '1.10 m above it') in launch.text
    pids = [int(p) for p in re.findall(r'process started with pid \[(\d+)\]', launch.text)]
    assert len(pids) == 4, launch.text
    assert launch.interrupt(timeout=60) == 0, launch.text
    assert 'process has died' not in launch.text
    assert not any(pid_alive(p) for p in pids)
