"""Detector-like corruption of 2D keypoints for the NKR student (paper section 3.4).

The student sees what a real 2D detector gives in crowds: keypoints that are missing, jittered
in proportion to the person's size, swapped left/right, or taken from a neighbouring person.
Everything is vectorised over the batch and driven by an explicit torch.Generator, so a seeded
run corrupts the same way every time. This is the training-batch form (torch, crop-normalised
keypoints, applied on the fly); detector_noise simulates the same kinds of errors on whole
scenes, calibrated to MoveNet, for the written samples and bags.
"""
from dataclasses import dataclass, field

import torch

from hmr_models.config import Config


@dataclass
class KeypointNoiseConfig(Config):
    p_missing: float = field(default=0.1, metadata={
        'help': 'per keypoint: dropped (valid -> False)'})
    jitter: float = field(default=0.03, metadata={
        'help': "per keypoint std, as a fraction of the person's extent"})
    p_outlier: float = field(default=0.05, metadata={
        'help': 'per keypoint: large jitter (5x) as a mis-detection'})
    p_swap: float = field(default=0.1, metadata={
        'help': 'per sample: one left/right pair exchanged'})
    p_flip: float = field(default=0.02, metadata={
        'help': 'per sample: the whole body mirrored (all pairs swapped)'})
    p_neighbor: float = field(default=0.05, metadata={
        'help': "per keypoint: replaced by a neighbour's keypoint"})

    def validate(self):
        for name in ('p_missing', 'p_outlier', 'p_swap', 'p_flip', 'p_neighbor'):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f'keypoint noise {name} must be in [0, 1], got {v}')
        if self.jitter < 0:
            raise ValueError(f'keypoint noise jitter must be >= 0, got {self.jitter}')


def person_extent(keypoints, valid):
    """(B,) diagonal of the valid keypoints' bounding box (crop units); 0.5 when < 2 points."""
    v = valid[..., None]
    big = torch.finfo(keypoints.dtype).max
    lo = torch.where(v, keypoints, torch.full_like(keypoints, big)).amin(1)
    hi = torch.where(v, keypoints, torch.full_like(keypoints, -big)).amax(1)
    ext = (hi - lo).norm(dim=-1)
    enough = valid.sum(1) >= 2
    return torch.where(enough, ext, torch.full_like(ext, 0.5))


def corrupt_keypoints(keypoints, valid, flip_perm, cfg, generator=None, neighbors=None,
                      neighbors_valid=None):
    """Corrupted copies of crop-normalised keypoints (B, K, 2) and valid (B, K).

    flip_perm: (K,) left/right permutation of the keypoint set. neighbors: optional (B, K, 2)
    keypoints of another person in the same crop (same keypoint set); without them a
    neighbour is simulated by another sample of the batch shifted next to this person.
    """
    kp = torch.nan_to_num(keypoints.clone())
    valid = valid.bool().clone()
    b, k, _ = kp.shape
    dev = kp.device
    g = generator

    def rand(*shape):
        return torch.rand(*shape, generator=g, device='cpu').to(dev)

    def randn(*shape):
        return torch.randn(*shape, generator=g, device='cpu').to(dev)

    flip_perm = torch.as_tensor(flip_perm, device=dev, dtype=torch.long)
    # left/right swaps: one random pair per chosen sample, or the whole body
    pairs = torch.nonzero(flip_perm != torch.arange(k, device=dev)).flatten()
    if len(pairs):
        perm = torch.arange(k, device=dev).expand(b, k).clone()
        chosen = pairs[(rand(b) * len(pairs)).long().clamp_max(len(pairs) - 1)]
        swap = rand(b) < cfg.p_swap
        rows = torch.nonzero(swap).flatten()
        perm[rows, chosen[rows]] = flip_perm[chosen[rows]]
        perm[rows, flip_perm[chosen[rows]]] = chosen[rows]
        flip = rand(b) < cfg.p_flip
        perm[flip] = flip_perm
        kp = torch.gather(kp, 1, perm[..., None].expand(b, k, 2))
        valid = torch.gather(valid, 1, perm)
    # jitter in proportion to the person's size, with occasional outliers
    scale = person_extent(kp, valid)[:, None, None]
    sigma = cfg.jitter * torch.where(rand(b, k, 1) < cfg.p_outlier, 5.0, 1.0)
    kp = kp + randn(b, k, 2) * sigma * scale
    # keypoints grabbed from a neighbouring person
    if cfg.p_neighbor > 0 and (neighbors is not None or b > 1):
        if neighbors is None:
            other = torch.roll(torch.nan_to_num(keypoints), 1, 0)
            other_valid = torch.roll(valid, 1, 0)
            centre = lambda x, v: (x * v[..., None]).sum(1) / v.sum(1, keepdim=True).clamp_min(1)  # noqa
            angle = rand(b) * 6.2831853
            offset = torch.stack([angle.cos(), angle.sin()], -1) * (0.25 + 0.25 * rand(b, 1))
            shift = centre(kp, valid) + offset - centre(other, other_valid)
            neighbors = other + shift[:, None]
            neighbors_valid = other_valid
        neighbors_valid = torch.ones_like(valid) if neighbors_valid is None else \
            neighbors_valid.bool()
        grab = (rand(b, k) < cfg.p_neighbor) & neighbors_valid
        kp = torch.where(grab[..., None], torch.nan_to_num(neighbors), kp)
        valid = valid | grab
    # missing keypoints
    valid = valid & (rand(b, k) >= cfg.p_missing)
    return kp, valid
