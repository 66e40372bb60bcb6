"""Helpers shared by the DPMesh tests.

Imported by name: conftest modules are not importable reliably when several test folders
each have one.
"""
import torch

from hmr_models.dpmesh import DPMesh, load_config


def make_model(overrides=None, seed=0):
    """A tiny DPMesh, seeded."""
    torch.manual_seed(seed)
    return DPMesh(load_config('tiny', overrides))


def random_inputs(cfg, batch, seed=0):
    """(images in the VAE range, crop-normalised keypoints, valid) for `batch` crops."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, cfg.crop_size, cfg.crop_size, generator=g) * 2 - 1
    keypoints = 0.2 + 0.6 * torch.rand(batch, cfg.num_keypoints, 2, generator=g)
    valid = torch.rand(batch, cfg.num_keypoints, generator=g) > 0.2
    return images, keypoints, valid
