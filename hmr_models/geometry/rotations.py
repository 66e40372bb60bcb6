"""Rotation conversions in torch (batched over any leading dimensions, differentiable).

The one torch home of these conversions for DPMesh, DiffMesh, fitting and training; the numpy
versions (float64, for motion data) are in `rotations_np` under the same names.
Matrices act on column vectors (x' = R x); quaternions are (w, x, y, z).

The temporal model works in the continuous 6D representation (Zhou et al., CVPR 2019: the first
two columns of the rotation matrix), because axis-angle wraps at pi and jumps between
equivalent values, which looks like motion to a temporal model.
"""
import torch
import torch.nn.functional as F


def axis_angle_to_matrix(axis_angle):
    """Rodrigues' formula: (..., 3) radians -> (..., 3, 3)."""
    angle = axis_angle.norm(dim=-1, keepdim=True)
    # sin(a)/a and (1-cos(a))/a^2 with their Taylor limits, so the gradient is finite at 0.
    small = angle < 1e-4
    a2 = angle * angle
    safe = torch.where(small, torch.ones_like(angle), angle)
    sin_c = torch.where(small, 1.0 - a2 / 6.0, torch.sin(safe) / safe)
    cos_c = torch.where(small, 0.5 - a2 / 24.0, (1.0 - torch.cos(safe)) / (safe * safe))
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1)
    skew = skew.reshape(axis_angle.shape[:-1] + (3, 3))
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + sin_c[..., None] * skew + cos_c[..., None] * (skew @ skew)


def matrix_to_axis_angle(matrix):
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, angle in [0, pi].

    Goes through a unit quaternion (Shepperd's method: pick the best-conditioned of four
    formulas), which stays accurate near angle 0 and angle pi where the trace formula fails.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def matrix_to_quaternion(matrix):
    """(..., 3, 3) -> (..., 4) unit quaternion (w, x, y, z) with w >= 0."""
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 * the squares of (w, x, y, z); the largest one gives a well-conditioned division.
    sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                      1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1).clamp_min(1e-12)
    r = sq.sqrt()  # 2 * |component|
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], \
        m[..., 1, 0] - m[..., 0, 1]
    s21, s02, s10 = m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] + m[..., 2, 0], \
        m[..., 1, 0] + m[..., 0, 1]
    # Row i: the quaternion (times 4 * component_i) computed from component i.
    cand = torch.stack([
        torch.stack([r[..., 0] ** 2, d21, d02, d10], -1),
        torch.stack([d21, r[..., 1] ** 2, s10, s02], -1),
        torch.stack([d02, s10, r[..., 2] ** 2, s21], -1),
        torch.stack([d10, s02, s21, r[..., 3] ** 2], -1),
    ], -2) / (2.0 * r[..., None])
    best = sq.argmax(-1)
    q = torch.gather(cand, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(quaternion):
    """(..., 4) unit quaternion (w, x, y, z) -> (..., 3) axis-angle, angle in [0, pi]."""
    q = torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)
    xyz = q[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, q[..., :1])
    small = sin_half < 1e-6
    # angle / sin(angle/2) -> 2 as the angle goes to 0.
    scale = torch.where(small, torch.full_like(angle, 2.0),
                        angle / torch.where(small, torch.ones_like(sin_half), sin_half))
    return xyz * scale


def matrix_to_rot6d(matrix):
    """(..., 3, 3) -> (..., 6): the first two columns, column-major."""
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], -1)


def rot6d_to_matrix(rot6d):
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two columns (any input is valid)."""
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], -1)


def rot6d_interleaved_to_matrix(rot6d):
    """6D rotation in the HMR/SPIN/VPoser layout: (..., 6) read as a row-major 3x2 matrix.

    Its two columns (x[0::2], x[1::2]) are orthonormalised as in `rot6d_to_matrix`. DPMesh's
    root-orientation head and VPoser use this layout, so released weights keep their meaning.
    """
    m = rot6d.reshape(rot6d.shape[:-1] + (3, 2))
    return rot6d_to_matrix(torch.cat([m[..., 0], m[..., 1]], dim=-1))


def project_to_rotation(matrix):
    """Rotation-like projection of raw (..., 3, 3) matrices by Gram-Schmidt on two columns.

    Used on VQ-VAE outputs, which are regressed as 9 free numbers per joint.
    """
    return rot6d_to_matrix(matrix_to_rot6d(matrix))


def axis_angle_to_rot6d(axis_angle):
    """(..., 3) axis-angle -> (..., 6)."""
    return matrix_to_rot6d(axis_angle_to_matrix(axis_angle))


def rot6d_to_axis_angle(rot6d):
    """(..., 6) -> (..., 3) axis-angle."""
    return matrix_to_axis_angle(rot6d_to_matrix(rot6d))


def axis_angle_to_quaternion(axis_angle):
    """(..., 3) -> (..., 4) unit quaternion (w, x, y, z)."""
    angle = axis_angle.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    small = angle < 1e-6
    # sin(a/2)/a -> 1/2 as a -> 0.
    scale = torch.where(small, 0.5 - angle * angle / 48.0,
                        torch.sin(half) / torch.where(small, torch.ones_like(angle), angle))
    return torch.cat([torch.cos(half), axis_angle * scale], -1)


def quaternion_nlerp(q0, q1, weight):
    """Normalised linear interpolation of unit quaternions (..., 4), weight (...) in [0, 1].

    Takes the short way (q and -q are the same rotation). Between video frames the rotations
    are close, where nlerp and slerp agree to well below a degree.
    """
    q1 = torch.where((q0 * q1).sum(-1, keepdim=True) < 0, -q1, q1)
    w = weight[..., None]
    return F.normalize((1.0 - w) * q0 + w * q1, dim=-1)
