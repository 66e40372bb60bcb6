"""Gaussian keypoint heatmaps: argmax at the keypoint, zeros for missing, numpy == torch."""
import numpy as np
import pytest
import torch

from hmr_models.frontend import gaussian_heatmaps, make_crops
from hmr_models.frontend.heatmaps import crop_to_heatmap, default_sigma


def test_keypoint_from_the_image_lands_on_the_heatmap_argmax():
    """Image keypoints -> crop (affine) -> 32x32 heatmaps: each map peaks at its keypoint."""
    rng = np.random.default_rng(0)
    boxes = np.array([[100, 50, 180, 290], [400, 200, 520, 330]], np.float32)
    crops = make_crops(np.zeros((480, 640, 3), np.uint8), boxes)
    size = boxes[:, None, 2:] - boxes[:, None, :2]
    inside = boxes[:, None, :2] + rng.uniform(0, 1, (2, 17, 2)) * size
    in_crop = crops.to_crop(inside.astype(np.float32))
    maps = gaussian_heatmaps(in_crop, np.ones((2, 17), bool), crop_size=256, size=32)
    assert maps.shape == (2, 17, 32, 32) and maps.dtype == np.float32
    flat = maps.reshape(2, 17, -1).argmax(-1)
    peak = np.stack([flat % 32, flat // 32], -1)                     # (x, y) cells
    expected = np.clip(np.round(crop_to_heatmap(in_crop, 256, 32)), 0, 31)
    np.testing.assert_array_equal(peak, expected)       # the nearest cell
    assert maps.max() <= 1.0 + 1e-6


def test_peak_value_sigma_and_grid_convention():
    # Crop pixel 131.5 is the centre of heatmap cell 16 (cells of 8 px: 128..135 -> 131.5).
    pts = np.array([[[131.5, 67.5]]], np.float32)
    maps = gaussian_heatmaps(pts, [[True]], size=32, sigma=1.25)
    assert np.isclose(maps[0, 0, 8, 16], 1.0)
    assert np.isclose(maps[0, 0, 8, 17], np.exp(-1 / (2 * 1.25 ** 2)), atol=1e-6)
    assert np.isclose(default_sigma(32), 1.25) and np.isclose(default_sigma(64), 2.5)
    with pytest.raises(ValueError, match='sigma'):
        gaussian_heatmaps(pts, [[True]], sigma=0)


def test_missing_keypoints_give_zero_maps():
    pts = np.full((1, 3, 2), 100.0, np.float32)
    pts[0, 2] = np.nan                                   # NaN but flagged valid: still zero
    maps = gaussian_heatmaps(pts, np.array([[1.0, 0.0, 1.0]]))
    assert maps[0, 0].max() > 0.9 and maps[0, 1].max() == 0 and maps[0, 2].max() == 0
    assert np.isfinite(maps).all()


def test_torch_matches_numpy_and_keeps_dtype():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-20, 270, (3, 17, 2)).astype(np.float32)
    valid = rng.random((3, 17)) > 0.3
    pts[0, 0] = np.nan
    ref = gaussian_heatmaps(pts, valid, size=16)
    out = gaussian_heatmaps(torch.from_numpy(pts), torch.from_numpy(valid), size=16)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-6)
    out64 = gaussian_heatmaps(torch.from_numpy(pts).double(), torch.from_numpy(valid), size=16)
    assert out64.dtype == torch.float64
