"""Transforms, quaternions, camera poses and the transform tree."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hmr_models.awareness.frames import (
    OPTICAL_IN_CAMERA, SMPL_TO_BODY, TransformTree, camera_pose_to_optical, invert,
    make_transform, pose_to_transform, quaternion_xyzw, rpy_to_rotation, transform_points,
    transform_to_pose)


def random_transform(rng):
    return make_transform(Rotation.random(random_state=rng.integers(1 << 30)).as_matrix(),
                          rng.normal(size=3))


def test_invert_and_pose_round_trip():
    rng = np.random.default_rng(0)
    t = random_transform(rng)
    assert np.allclose(invert(t) @ t, np.eye(4))
    stack = np.stack([t, random_transform(rng)])
    assert np.allclose(invert(stack) @ stack, np.eye(4)[None])
    position, q = transform_to_pose(t)
    assert q[3] >= 0 and np.isclose(np.linalg.norm(q), 1)
    assert np.allclose(pose_to_transform(position, q), t)
    with pytest.raises(ValueError, match='no direction'):
        pose_to_transform([0, 0, 0], [0, 0, 0, 0])


def test_axis_conventions_are_proper_rotations():
    for r in (OPTICAL_IN_CAMERA, SMPL_TO_BODY):
        assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    # The REP-103 optical rotation: quaternion (-0.5, 0.5, -0.5, 0.5), rpy (-pi/2, 0, -pi/2).
    assert np.allclose(quaternion_xyzw(OPTICAL_IN_CAMERA), [-0.5, 0.5, -0.5, 0.5])
    assert np.allclose(rpy_to_rotation(-np.pi / 2, 0, -np.pi / 2), OPTICAL_IN_CAMERA)
    # SMPL's up (+y) is the body's z, SMPL's forward (+z) the body's x.
    assert np.allclose(SMPL_TO_BODY @ [0, 1, 0], [0, 0, 1])
    assert np.allclose(SMPL_TO_BODY @ [0, 0, 1], [1, 0, 0])


def test_camera_pose_maps_optical_points_into_the_robot_frame():
    q = Rotation.from_euler('y', 0.3).as_quat()          # pitched 0.3 rad down
    t = camera_pose_to_optical([0.2, 0.0, 1.5, *q])
    # On the optical axis, 2 m away: ahead of the robot and 2 sin(0.3) lower than the camera.
    p = transform_points(t, [0.0, 0.0, 2.0])
    assert np.allclose(p, [0.2 + 2 * np.cos(0.3), 0.0, 1.5 - 2 * np.sin(0.3)])
    # Image right (+x optical) is the robot's right (-y); image down (+y) is down-ish.
    assert np.allclose(t[:3, 0], [0, -1, 0])
    assert t[2, 1] < 0
    assert camera_pose_to_optical([]) is None and camera_pose_to_optical(None) is None
    with pytest.raises(ValueError, match='7 numbers'):
        camera_pose_to_optical([0, 0, 1])
    with pytest.raises(ValueError, match='no direction'):
        camera_pose_to_optical([0] * 7)


def test_transform_tree_composes_chains_and_reports_unconnected_frames():
    rng = np.random.default_rng(1)
    a_b, b_c, a_d = (random_transform(rng) for _ in range(3))
    tree = TransformTree()
    tree.set('a', 'b', a_b)
    tree.set('b', 'c', b_c)
    tree.set('a', 'd', a_d)
    assert np.allclose(tree.lookup('a', 'c'), a_b @ b_c)
    assert np.allclose(tree.lookup('d', 'c'), invert(a_d) @ a_b @ b_c)
    assert np.allclose(tree.lookup('c', 'c'), np.eye(4))
    assert tree.lookup('a', 'nowhere') is None
    assert tree.parent('c') == 'b' and tree.frames() == {'a', 'b', 'c', 'd'}
    tree.set('x', 'b', a_b)          # a new parent replaces the old one
    assert tree.lookup('a', 'c') is None and tree.lookup('x', 'c') is not None
    with pytest.raises(ValueError):
        tree.set('a', 'a', a_b)


def test_up_in_a_pitched_camera_and_an_unlinked_frame():
    """TransformTree.up_in: the robot's up in the image's optical frame (hmr_node's up_frame)."""
    q = Rotation.from_euler('y', 0.3).as_quat()          # the camera pitched 0.3 rad down
    tree = TransformTree()
    tree.set('base_link', 'camera_optical_frame', camera_pose_to_optical([0.0, 0.0, 1.2, *q]))
    up = tree.up_in('camera_optical_frame', 'base_link')
    # up is image-up (-y) tilted towards the camera's back (-z) by the pitch
    assert np.allclose(up, [0.0, -np.cos(0.3), -np.sin(0.3)])
    assert tree.up_in('camera_optical_frame', 'map') is None
    level = TransformTree()
    level.set('base_link', 'cam', camera_pose_to_optical([0, 0, 1, 0, 0, 0, 1]))
    assert np.allclose(level.up_in('cam', 'base_link'), [0, -1, 0])


def test_floor_in_gives_up_and_the_cameras_height():
    """TransformTree.floor_in: the ground's up and the camera's height (hmr_node's floor_frame)."""
    q = Rotation.from_euler('y', 0.3).as_quat()
    tree = TransformTree()
    tree.set('base_footprint', 'base_link', np.array(
        [[1, 0, 0, 0.1], [0, 1, 0, 0], [0, 0, 1, 0.25], [0, 0, 0, 1]], float))
    tree.set('base_link', 'camera_optical_frame', camera_pose_to_optical([0.0, 0.0, 1.2, *q]))
    up, height = tree.floor_in('camera_optical_frame', 'base_footprint')
    assert np.allclose(up, [0.0, -np.cos(0.3), -np.sin(0.3)])
    assert height == pytest.approx(1.45)
    assert tree.floor_in('camera_optical_frame', 'map') is None
