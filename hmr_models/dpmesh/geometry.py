"""Pure torch geometry for DPMesh: rotation representations, cameras, projection.

Rotation matrices act on column vectors (x' = R x). All functions are batched over leading
dimensions and differentiable.
"""
import math

import torch
import torch.nn.functional as F


def axis_angle_to_matrix(aa):
    """Rodrigues: (..., 3) axis-angle (radians) -> (..., 3, 3)."""
    angle = aa.norm(dim=-1, keepdim=True)
    # Taylor-safe sin(t)/t and (1-cos t)/t^2 near zero keep gradients finite at the identity.
    small = angle < 1e-4
    safe = torch.where(small, torch.ones_like(angle), angle)
    a = torch.where(small, 1.0 - angle ** 2 / 6.0, torch.sin(safe) / safe)
    b = torch.where(small, 0.5 - angle ** 2 / 24.0, (1.0 - torch.cos(safe)) / safe ** 2)
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(aa.shape + (3,))
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(skew.shape)
    return eye + a[..., None] * skew + b[..., None] * (skew @ skew)


def matrix_to_axis_angle(rot):
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, robust near 0 and pi."""
    q = matrix_to_quaternion(rot)
    return quaternion_to_axis_angle(q)


def matrix_to_quaternion(rot):
    """(..., 3, 3) -> (..., 4) unit quaternion (w, x, y, z), w >= 0.

    Picks, per matrix, the best-conditioned of the four classic formulas (largest diagonal
    term), so it is stable for every rotation.
    """
    m = rot
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = torch.stack([
        1.0 + m00 + m11 + m22,
        1.0 + m00 - m11 - m22,
        1.0 - m00 + m11 - m22,
        1.0 - m00 - m11 + m22,
    ], dim=-1)
    r = torch.sqrt(candidates.clamp_min(1e-12))
    q_w = torch.stack([r[..., 0] ** 2, m[..., 2, 1] - m[..., 1, 2],
                       m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1)
    q_x = torch.stack([m[..., 2, 1] - m[..., 1, 2], r[..., 1] ** 2,
                       m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0]], -1)
    q_y = torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1],
                       r[..., 2] ** 2, m[..., 2, 1] + m[..., 1, 2]], -1)
    q_z = torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 2, 0] + m[..., 0, 2],
                       m[..., 2, 1] + m[..., 1, 2], r[..., 3] ** 2], -1)
    all_q = torch.stack([q_w, q_x, q_y, q_z], dim=-2) / (2.0 * r[..., None])
    best = candidates.argmax(dim=-1)
    q = torch.gather(all_q, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(q):
    """(..., 4) quaternion (w, x, y, z) -> (..., 3) axis-angle."""
    w = q[..., :1].clamp(-1.0, 1.0)
    xyz = q[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    half = torch.atan2(sin_half, w)
    small = sin_half < 1e-6
    scale = torch.where(small, 2.0 / w.clamp_min(1e-6),
                        2.0 * half / torch.where(small, torch.ones_like(sin_half), sin_half))
    return xyz * scale


def rot6d_to_matrix(x):
    """Zhou et al. continuous 6D representation (..., 6) -> (..., 3, 3).

    The 6 numbers are the first two columns (a1 = x[..., 0:3], a2 = x[..., 3:6]); Gram-Schmidt
    gives an orthonormal frame.
    """
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def rot6d_interleaved_to_matrix(x):
    """6D rotation in the HMR/SPIN/VPoser layout: (..., 6) read as a row-major 3x2 matrix.

    Its two columns (x[0::2], x[1::2]) are orthonormalised as in `rot6d_to_matrix`. DPMesh's
    root-orientation head and VPoser use this layout, so released weights keep their meaning.
    """
    m = x.reshape(x.shape[:-1] + (3, 2))
    return rot6d_to_matrix(torch.cat([m[..., 0], m[..., 1]], dim=-1))


def matrix_to_rot6d(rot):
    """(..., 3, 3) -> (..., 6): the first two columns (inverse of rot6d_to_matrix)."""
    return torch.cat([rot[..., :, 0], rot[..., :, 1]], dim=-1)


def project_to_rotation(m):
    """Nearest-rotation-like projection of raw (..., 3, 3) matrices via Gram-Schmidt columns.

    Used on VQ-VAE outputs, which are regressed as 9 free numbers per joint.
    """
    return rot6d_to_matrix(matrix_to_rot6d(m))


# ------------------------------------------------------------------------------ cameras
def weak_perspective_to_translation(cam, box_center, box_size, focal, principal):
    """CLIFF: crop weak-perspective camera -> translation in the full-image camera frame.

    Args:
        cam: (B, 3) (s, tx, ty): scale and shift of the normalised crop ([-1, 1] over the crop).
        box_center: (B, 2) crop centre in image pixels.
        box_size: (B,) side of the square crop in image pixels.
        focal: (B,) or (B, 2) focal length in pixels (fx, fy).
        principal: (B, 2) principal point in pixels.
    Returns:
        (B, 3) translation in metres (body root placed so it projects as the crop camera says).
    """
    focal = focal if focal.dim() == 2 else torch.stack([focal, focal], -1)
    s = cam[:, 0].clamp_min(1e-4)
    bs = box_size * s
    tz = 2.0 * focal[:, 0] / bs
    tx = cam[:, 1] + 2.0 * (box_center[:, 0] - principal[:, 0]) / bs
    # Depth follows fx; the y terms are rescaled by fx/fy so non-square pixels stay consistent.
    ratio = focal[:, 0] / focal[:, 1]
    ty = ratio * (cam[:, 2] + 2.0 * (box_center[:, 1] - principal[:, 1]) / bs)
    return torch.stack([tx, ty, tz], dim=-1)


def authors_camera_to_weak_perspective(raw, camera_3d_size=2.5):
    """The authors' camera head (t_x, t_y, gamma) -> the (s, tx, ty) of the same projection.

    Their head puts the body at depth t_z = k * sigmoid(gamma) with k = f * size / box (a
    virtual camera of the image's focal f looking at the crop), offset by (t_x, t_y) metres. A
    point X then lands at crop-normalised u = f / (box/2 * t_z) * (X + t_x)
    = 2 / (size * sigmoid(gamma)) * (X + t_x): a weak-perspective camera, focal-independent.
    """
    s = 2.0 / (camera_3d_size * torch.sigmoid(raw[:, 2]).clamp_min(1e-6))
    return torch.stack([s, raw[:, 0], raw[:, 1]], dim=-1)


def perspective_project(points, focal, principal):
    """(B, N, 3) camera-frame points -> (B, N, 2) pixels (z clamped to stay in front)."""
    focal = focal if focal.dim() == 2 else torch.stack([focal, focal], -1)
    z = points[..., 2:3].clamp_min(1e-3)
    return points[..., :2] / z * focal[:, None, :] + principal[:, None, :]


def apply_affine(points, affine):
    """(B, N, 2) points and (B, 2, 3) affine transforms -> (B, N, 2)."""
    return points @ affine[:, :, :2].transpose(1, 2) + affine[:, None, :, 2]


def sine_embedding_2d(batch, height, width, dim, device, dtype=torch.float32):
    """DETR sine positional embedding (B, dim, H, W) with normalised coordinates."""
    half = dim // 2
    y = torch.arange(1, height + 1, device=device, dtype=dtype) / height * 2 * math.pi
    x = torch.arange(1, width + 1, device=device, dtype=dtype) / width * 2 * math.pi
    freq = 10000.0 ** (2 * (torch.arange(half, device=device, dtype=dtype) // 2) / half)
    py = y[:, None] / freq
    px = x[:, None] / freq
    py = torch.stack([py[:, 0::2].sin(), py[:, 1::2].cos()], dim=2).flatten(1)   # (H, half)
    px = torch.stack([px[:, 0::2].sin(), px[:, 1::2].cos()], dim=2).flatten(1)   # (W, half)
    pos = torch.cat([py[:, None, :].expand(height, width, half),
                     px[None, :, :].expand(height, width, half)], dim=-1)
    return pos.permute(2, 0, 1)[None].expand(batch, dim, height, width)


def sine_table_1d(n, dim):
    """Transformer sinusoid table (n, dim) for flattened volume positions."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode='floor') / dim)
    table = torch.zeros(n, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()
