"""Per-joint orientations of an SMPL pose (forward kinematics) and REP-155 body frames.

SMPL's pose holds one axis-angle rotation per joint, each relative to its parent (the first,
the global orientation, relative to the frame the body is expressed in, e.g. the camera). The
global rotation of joint j is the product along its chain; the frame of joint j used here has
its origin at the posed joint and its axes along the body's forward / left / up directions
as they are carried by that joint (``G_j @ SMPL_TO_BODY.T``), so in SMPL's rest pose every joint
frame is parallel to the body frame.
"""
import numpy as np
from scipy.spatial.transform import Rotation

from hmr_models.skeleton import SMPL24_PARENTS

from .frames import SMPL_TO_BODY

LEFT_HIP, RIGHT_HIP = 1, 2


def local_rotations(pose):
    """(24, 3, 3) rotations of an SMPL pose given as (72,) or (24, 3) axis-angle."""
    aa = np.asarray(pose, np.float64).reshape(-1, 3)
    return Rotation.from_rotvec(aa).as_matrix()


def global_rotations(local, parents=SMPL24_PARENTS):
    """Chain the local rotations (J, 3, 3) down the kinematic tree: (J, 3, 3) global ones."""
    out = np.empty_like(local)
    for j, p in enumerate(parents):
        out[j] = local[j] if p < 0 else out[p] @ local[j]
    return out


def joint_frames(pose, joints, parents=SMPL24_PARENTS):
    """(24, 4, 4) joint frames of a posed body.

    Args:
        pose: (72,) axis-angle, global orientation first, in the frame of `joints`.
        joints: (24, 3) posed joint positions (e.g. the camera frame).
    Returns:
        T_frame_joint for every joint: origin at the joint, axes x forward, y left, z up as
        rotated by the joint's global rotation.
    """
    rot = global_rotations(local_rotations(pose), parents) @ SMPL_TO_BODY.T
    frames = np.zeros((len(parents), 4, 4))
    frames[:, :3, :3] = rot
    frames[:, :3, 3] = np.asarray(joints, np.float64)
    frames[:, 3, 3] = 1.0
    return frames


def heading_frame(origin, forward, up, fallback_left=None):
    """4x4 frame at `origin` with z = `up` and x = `forward` made horizontal (orthogonal to up).

    When `forward` is (nearly) parallel to `up` (a person lying down), the heading comes from
    `fallback_left` (the body's left axis) instead: x = left x up.
    """
    up = np.asarray(up, np.float64)
    up = up / np.linalg.norm(up)
    f = np.asarray(forward, np.float64)
    f = f - f.dot(up) * up
    if np.linalg.norm(f) < 0.2 and fallback_left is not None:
        left = np.asarray(fallback_left, np.float64)
        left = left - left.dot(up) * up
        f = np.cross(left, up)
    norm = np.linalg.norm(f)
    if norm < 1e-9:  # no information at all: any horizontal direction
        f = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
        norm = np.linalg.norm(f)
    f = f / norm
    t = np.eye(4)
    t[:3, 0] = f
    t[:3, 1] = np.cross(up, f)
    t[:3, 2] = up
    t[:3, 3] = origin
    return t


def body_frame(frames, up):
    """REP-155 body frame from the joint frames (in a frame where `up` is the vertical).

    Origin at the mid-point of the two hip joints, z along `up`, x the direction the pelvis
    faces made horizontal: a gravity-aligned heading frame (the pelvis' own tilt is in the
    pelvis joint frame below it).
    """
    origin = 0.5 * (frames[LEFT_HIP, :3, 3] + frames[RIGHT_HIP, :3, 3])
    return heading_frame(origin, frames[0, :3, 0], up, fallback_left=frames[0, :3, 1])


def euler_zyx(rotation):
    """Angles (a, b, c) with R = Rz(a) @ Ry(b) @ Rx(c) (a chain of z, y, x revolute joints)."""
    return Rotation.from_matrix(np.asarray(rotation, np.float64)).as_euler('ZYX')


def rotation_zyx(angles):
    """R = Rz(a) @ Ry(b) @ Rx(c) for angles (a, b, c): the inverse of :func:`euler_zyx`."""
    return Rotation.from_euler('ZYX', angles).as_matrix()
