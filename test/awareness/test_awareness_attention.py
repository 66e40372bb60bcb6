"""Facing and pointing at the robot, from the frames of synthetic people."""
import numpy as np

from hmr_models.awareness import AwarenessConfig, HumanAwareness, TransformTree
from hmr_models.awareness.attention import facing_angle, pointing_miss
from hmr_models.awareness.frames import camera_pose_to_optical, make_transform
from hmr_models.awareness.scenarios import (
    default_camera, facing, level_camera, pointing_pose, synthetic_person, walking_pose)


def test_facing_angle():
    body = make_transform(translation=[3.0, 0.0, 0.9])
    body[:3, :3] = np.diag([-1.0, -1.0, 1.0])          # facing -x: towards the origin
    assert np.isclose(facing_angle(body), 0.0)
    assert np.isclose(facing_angle(body, target=(3.0, 5.0, 0.0)), np.pi / 2)


def test_pointing_miss_needs_a_straight_raised_arm():
    s, e, w = [0.0, 2.0, 1.4], [0.0, 1.7, 1.4], [0.0, 1.4, 1.4]   # straight, towards -y
    assert np.isclose(pointing_miss(s, e, w), 0.0)
    assert np.isclose(pointing_miss(s, e, w, target=(0.3, 0.0, 0.0)), 0.3)
    assert pointing_miss(s, e, w, target=(0.0, 5.0, 0.0)) is None       # behind the arm
    assert pointing_miss(s, [0.0, 1.8, 1.1], [0.0, 1.5, 1.4]) is None    # bent
    assert pointing_miss(s, [0.0, 2.0, 1.1], [0.0, 2.0, 0.8]) is None    # hanging


def test_synthetic_people_facing_and_pointing_at_the_robot(open_body):
    pose = level_camera(1.2, 0.1)
    t = camera_pose_to_optical(pose)
    cam = default_camera()
    at = (3.0, 1.0)
    pointer, _ = synthetic_person(open_body, 1, at, facing(at), t, cam, pointing_pose())
    walker, _ = synthetic_person(open_body, 2, (2.5, -1.5), np.pi / 2, t, cam, walking_pose(0))
    update = HumanAwareness(AwarenessConfig(reference_frame='base_link'), open_body).update(
        0.0, 'cam', [pointer, walker], t, (640, 480))
    tree = TransformTree()
    tree.set('base_link', 'cam', t)
    for body in update.bodies:
        for parent, child, m in body.transforms:
            tree.set(parent, child, m)

    def joint(name, body_id):
        return tree.lookup('base_link', f'{name}_{body_id}')[:3, 3]
    assert facing_angle(tree.lookup('base_link', 'body_b1')) < 0.05
    assert facing_angle(tree.lookup('base_link', 'body_b2')) > 1.0
    arm = ('right_shoulder', 'right_elbow', 'right_wrist')
    miss = pointing_miss(*(joint(n, 'b1') for n in arm))
    assert miss is not None and miss < 0.3
    for side in ('left', 'right'):
        arm = (joint(f'{side}_{n}', 'b2') for n in ('shoulder', 'elbow', 'wrist'))
        assert pointing_miss(*arm) is None
