"""Per-joint frames by forward kinematics, REP-155 body frames, Euler angles."""
import numpy as np
from scipy.spatial.transform import Rotation

from hmr_models.awareness.frames import SMPL_TO_BODY
from hmr_models.awareness.kinematics import (
    body_frame, euler_zyx, global_rotations, heading_frame, joint_frames, local_rotations,
    rotation_zyx)
from hmr_models.skeleton import SMPL24_PARENTS


def test_rest_pose_joint_frames_are_parallel_to_the_body():
    joints = np.random.default_rng(0).normal(size=(24, 3))
    frames = joint_frames(np.zeros(72), joints)
    assert np.allclose(frames[:, :3, :3], SMPL_TO_BODY.T[None])
    assert np.allclose(frames[:, :3, 3], joints)


def test_global_rotations_chain_the_local_ones():
    pose = np.random.default_rng(1).normal(scale=0.3, size=(24, 3))
    local = local_rotations(pose)
    glob = global_rotations(local)
    # left_wrist (20): pelvis -> spine1 -> spine2 -> spine3 -> left_collar -> shoulder -> elbow
    chain = [0, 3, 6, 9, 13, 16, 18, 20]
    expected = np.eye(3)
    for j in chain:
        expected = expected @ local[j]
    assert np.allclose(glob[20], expected)
    assert all(SMPL24_PARENTS[b] == a for a, b in zip(chain, chain[1:]))


def test_body_frame_is_upright_at_the_mid_hip_facing_the_pelvis_direction():
    yaw, tilt = 0.7, 0.25
    # The pelvis faces yaw and leans forward: the body frame keeps z up and the heading.
    root = Rotation.from_euler('ZY', [yaw, tilt]).as_matrix() @ SMPL_TO_BODY
    pose = np.zeros((24, 3))
    pose[0] = Rotation.from_matrix(root).as_rotvec()
    joints = np.zeros((24, 3))
    joints[1], joints[2] = [0.1, 0.2, 0.9], [0.3, 0.0, 0.9]
    frames = joint_frames(pose, joints)
    body = body_frame(frames, up=[0, 0, 1])
    assert np.allclose(body[:3, 3], [0.2, 0.1, 0.9])
    assert np.allclose(body[:3, 2], [0, 0, 1])
    assert np.allclose(body[:3, 0], [np.cos(yaw), np.sin(yaw), 0])
    assert np.isclose(np.linalg.det(body[:3, :3]), 1)
    assert np.allclose(frames[0, :3, 0], root @ [0, 0, 1])   # the pelvis itself leans


def test_heading_frame_of_a_person_lying_down_uses_the_left_axis():
    t = heading_frame([0, 0, 0], forward=[0, 0, 1], up=[0, 0, 1], fallback_left=[0, 1, 0])
    assert np.allclose(t[:3, 0], [1, 0, 0]) and np.allclose(t[:3, 2], [0, 0, 1])


def test_euler_zyx_round_trip():
    for seed in range(5):
        r = Rotation.random(random_state=seed).as_matrix()
        angles = euler_zyx(r)
        assert np.allclose(rotation_zyx(angles), r)
        rz, ry, rx = (Rotation.from_euler(ax, v).as_matrix() for ax, v in zip('zyx', angles))
        assert np.allclose(rz @ ry @ rx, r)
