"""Rotation helpers for motion data (numpy, float64, batched over leading dimensions).

Conversions go through ``scipy.spatial.transform.Rotation``; what scipy lacks for motion
work (per-joint slerp over time, frames from two directions, rotations about a world axis)
lives here as small pure functions.
"""
import numpy as np
from scipy.spatial.transform import Rotation


def _flat(x, tail):
    x = np.asarray(x, np.float64)
    return x.reshape((-1,) + tail), x.shape[:x.ndim - len(tail)]


def axis_angle_to_matrix(aa):
    """(..., 3) axis-angle (radians) -> (..., 3, 3)."""
    flat, lead = _flat(aa, (3,))
    return Rotation.from_rotvec(flat).as_matrix().reshape(lead + (3, 3))


def matrix_to_axis_angle(mat):
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, angle in [0, pi]."""
    flat, lead = _flat(mat, (3, 3))
    return Rotation.from_matrix(flat).as_rotvec().reshape(lead + (3,))


def matrix_to_quaternion(mat):
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z)."""
    flat, lead = _flat(mat, (3, 3))
    return Rotation.from_matrix(flat).as_quat(scalar_first=True).reshape(lead + (4,))


def quaternion_to_matrix(quat):
    """(..., 4) quaternions (w, x, y, z), not necessarily unit -> (..., 3, 3)."""
    flat, lead = _flat(quat, (4,))
    return Rotation.from_quat(flat, scalar_first=True).as_matrix().reshape(lead + (3, 3))


def euler_to_matrix(angles, axes, degrees=True):
    """Rotation from intrinsic Euler angles, composed in the listed order.

    Args:
        angles: (..., n) angles, one per letter of `axes`.
        axes: e.g. ``'ZXY'`` (BVH's channel order): R = Rz @ Rx @ Ry.
    """
    flat, lead = _flat(angles, (len(axes),))
    # scipy's upper-case sequences are intrinsic rotations, which is BVH's convention.
    return Rotation.from_euler(axes.upper(), flat, degrees=degrees).as_matrix().reshape(
        lead + (3, 3))


def axis_rotation(axis, angle):
    """Rotations by `angle` (...,) radians about a fixed unit `axis` (3,) -> (..., 3, 3)."""
    angle = np.asarray(angle, np.float64)
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    return axis_angle_to_matrix(angle[..., None] * axis)


def slerp_matrices(r0, r1, weight):
    """Spherical interpolation between rotation matrices, elementwise.

    Args:
        r0, r1: (..., 3, 3) rotations (broadcast together).
        weight: scalar or (...,) in [0, 1]; 0 gives r0, 1 gives r1.
    """
    r0, r1 = np.broadcast_arrays(np.asarray(r0, np.float64), np.asarray(r1, np.float64))
    rel = matrix_to_axis_angle(np.swapaxes(r0, -1, -2) @ r1)
    w = np.asarray(weight, np.float64)[..., None]
    return r0 @ axis_angle_to_matrix(rel * w)


def frame_from_directions(primary, secondary):
    """Orthonormal frames (..., 3, 3) whose columns are (p, s_perp, p x s_perp).

    `primary` is kept exactly; `secondary` only fixes the rotation about it. Degenerate
    inputs (zero or parallel vectors) give undefined results: weight them out upstream.
    """
    p = np.asarray(primary, np.float64)
    p = p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), 1e-12)
    s = np.asarray(secondary, np.float64)
    s = s - (s * p).sum(-1, keepdims=True) * p
    s = s / np.maximum(np.linalg.norm(s, axis=-1, keepdims=True), 1e-12)
    return np.stack([p, s, np.cross(p, s)], axis=-1)


def align_directions(rest_primary, rest_secondary, primary, secondary):
    """Rotations R (..., 3, 3) with R @ rest_primary || primary, twist set by the secondaries."""
    rest = frame_from_directions(rest_primary, rest_secondary)
    return frame_from_directions(primary, secondary) @ np.swapaxes(rest, -1, -2)


def weighted_mean_rotation(mats, weights=None):
    """Chordal L2 mean of rotations (N, 3, 3) with optional non-negative weights (N,)."""
    mats = np.asarray(mats, np.float64)
    w = np.ones(len(mats)) if weights is None else np.asarray(weights, np.float64)
    return project_to_rotation((w[:, None, None] * mats).sum(0))


def project_to_rotation(m):
    """Nearest rotation matrices (..., 3, 3) to arbitrary (..., 3, 3) matrices (SVD)."""
    u, _, vt = np.linalg.svd(np.asarray(m, np.float64))
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, -1] *= d[..., None]
    return u @ vt


def angle_between(a, b):
    """Angles (radians) between direction vectors a, b (..., 3)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.arctan2(cross, (a * b).sum(-1))


def rotation_angle(mat):
    """Rotation angles (radians) of (..., 3, 3) matrices."""
    tr = np.trace(np.asarray(mat, np.float64), axis1=-2, axis2=-1)
    return np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0))
