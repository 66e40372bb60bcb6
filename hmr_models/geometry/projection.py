"""Camera projection in torch: pinhole projection and CLIFF's crop-to-image camera.

Batched (B, ...) and differentiable; the numpy pinhole camera is
`hmr_models.types.CameraIntrinsics`.
"""
import torch


def perspective_project(points, focal, principal):
    """(B, N, 3) camera-frame points -> (B, N, 2) pixels (z clamped to stay in front)."""
    focal = focal if focal.dim() == 2 else torch.stack([focal, focal], -1)
    z = points[..., 2:3].clamp_min(1e-3)
    return points[..., :2] / z * focal[:, None, :] + principal[:, None, :]


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
