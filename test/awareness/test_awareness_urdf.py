"""The URDF of a person: structure, shape from betas, and agreement with the joint frames."""
from xml.etree import ElementTree

import numpy as np

from hmr_models.awareness.frames import invert
from hmr_models.awareness.kinematics import body_frame, joint_frames
from hmr_models.awareness.urdf import (
    build_urdf, joint_positions, rest_skeleton, urdf_forward_kinematics, urdf_joint_names)
from hmr_models.skeleton import SMPL24_NAMES


def test_urdf_parses_with_three_joints_per_smpl_joint(open_body):
    rest, radii = rest_skeleton(open_body, np.zeros(10))
    text = build_urdf('12', rest, radii)
    robot = ElementTree.fromstring(text)
    assert robot.tag == 'robot' and robot.get('name') == 'human_12'
    joints = robot.findall('joint')
    continuous = [j for j in joints if j.get('type') == 'continuous']
    assert len(continuous) == 72 and len(joints) == 73          # + the pelvis offset
    assert [j.get('name') for j in continuous] == urdf_joint_names('12')
    links = {link.get('name') for link in robot.findall('link')}
    assert {f'{n}_12' for n in SMPL24_NAMES} | {'body_12'} <= links
    assert len(links) == 1 + 24 + 2 * 23 + 3                     # root, joints, axis links
    children = [j.find('child').get('link') for j in joints]
    assert len(children) == len(set(children)) == len(links) - 1  # a tree under body_12
    assert 0.02 <= radii.min() and radii.max() <= 0.2


def test_bone_lengths_follow_the_betas(open_body):
    tall, _ = rest_skeleton(open_body, [2.0] + [0.0] * 9)
    short, _ = rest_skeleton(open_body, [-2.0] + [0.0] * 9)
    leg = (4, 7)   # left knee -> left ankle
    assert not np.isclose(np.linalg.norm(tall[leg[0]] - tall[leg[1]]),
                          np.linalg.norm(short[leg[0]] - short[leg[1]]), atol=5e-3)
    # Rest axes are the body's: the head is above the pelvis (z), left joints at +y.
    assert tall[15, 2] > tall[0, 2] + 0.4 and tall[16, 1] > 0 > tall[17, 1]


def test_urdf_driven_by_joint_positions_reproduces_the_joint_frames(open_body):
    """What robot_state_publisher would compute equals the frames the node publishes."""
    rng = np.random.default_rng(3)
    betas = rng.normal(size=10)
    rest, radii = rest_skeleton(open_body, betas)
    text = build_urdf('5', rest, radii)
    pose = rng.normal(scale=0.4, size=72)
    _, joints = open_body(pose.reshape(1, 72), betas.reshape(1, 10)).numpy()
    frames = joint_frames(pose, joints[0])
    body = body_frame(frames, up=[0, -1, 0])
    positions = dict(zip(urdf_joint_names('5'), joint_positions(frames, body)))
    links = urdf_forward_kinematics(text, positions)
    for j, name in enumerate(SMPL24_NAMES):
        assert np.allclose(links[f'{name}_5'], invert(body) @ frames[j], atol=2e-5), name
