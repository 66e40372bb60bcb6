"""Gaussian keypoint heatmaps at the crop's latent resolution (DPMesh's ControlNet condition).

One unnormalised Gaussian (peak 1) per keypoint, all zeros for a missing keypoint, as 3DCrowdNet
renders its joint heatmaps. Grid convention: heatmap cell u covers crop pixels
[u * stride - 0.5, (u + 1) * stride - 0.5] (stride = crop_size / size, pixel centres at integers),
so a keypoint at crop pixel x sits at heatmap coordinate (x + 0.5) / stride - 0.5.
Works on numpy arrays and on torch tensors (same device and dtype out as in).
"""
import numpy as np


def default_sigma(size):
    """3DCrowdNet's sigma of 2.5 cells at 64 x 64, scaled to a `size` x `size` heatmap."""
    return 2.5 * size / 64.0


def crop_to_heatmap(points, crop_size=256, size=32):
    """Crop pixel coordinates -> heatmap cell coordinates (same convention as the heatmaps)."""
    stride = crop_size / size
    return (points + 0.5) / stride - 0.5


def gaussian_heatmaps(points, valid, crop_size=256, size=32, sigma=None):
    """Heatmaps (N, K, size, size) for keypoints (N, K, 2) given in crop pixels.

    valid (N, K) bool or float: keypoints where it is False/0 (or whose coordinates are NaN)
    get an all-zero map. sigma is in heatmap cells (default `default_sigma(size)`).
    The Gaussian is separable, so it is built as an outer product of two 1D profiles.
    """
    sigma = default_sigma(size) if sigma is None else float(sigma)
    if sigma <= 0:
        raise ValueError(f'heatmap sigma must be > 0, got {sigma}')
    try:
        import torch
        is_torch = isinstance(points, torch.Tensor)
    except ImportError:   # pragma: no cover - torch is a project requirement
        is_torch = False
    if is_torch:
        return _torch_heatmaps(points, valid, crop_size, size, sigma)

    points = np.asarray(points, np.float32)
    uv = crop_to_heatmap(points, crop_size, size)
    ok = np.asarray(valid).astype(bool) & np.isfinite(uv).all(-1)
    uv = np.where(ok[..., None], uv, 0.0)
    grid = np.arange(size, dtype=np.float32)
    gx = np.exp(-((grid - uv[..., 0:1]) ** 2) / (2 * sigma ** 2))    # (N, K, size)
    gy = np.exp(-((grid - uv[..., 1:2]) ** 2) / (2 * sigma ** 2))
    maps = gy[..., :, None] * gx[..., None, :]
    return (maps * ok[..., None, None]).astype(np.float32)


def _torch_heatmaps(points, valid, crop_size, size, sigma):
    import torch
    uv = crop_to_heatmap(points, crop_size, size)
    valid = torch.as_tensor(valid, device=points.device)
    ok = valid.bool() & torch.isfinite(uv).all(-1)
    uv = torch.where(ok[..., None], uv, torch.zeros_like(uv))
    grid = torch.arange(size, device=points.device, dtype=points.dtype)
    gx = torch.exp(-((grid - uv[..., 0:1]) ** 2) / (2 * sigma ** 2))
    gy = torch.exp(-((grid - uv[..., 1:2]) ** 2) / (2 * sigma ** 2))
    return gy[..., :, None] * gx[..., None, :] * ok[..., None, None].to(points.dtype)
