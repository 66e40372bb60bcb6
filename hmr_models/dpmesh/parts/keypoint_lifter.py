"""Keypoint lifter: 2D keypoints of one crop -> a first SMPL estimate that DPMesh refines.

The compact profile's image model cannot learn full articulation and global orientation in the
CPU-hours it gets (SynthOcc, README), while lifting 2D keypoints to 3D is a well-posed regression
that learns in minutes from keypoints alone (Martinez et al. 2017; CLIFF's box information makes
the orientation relative to the camera, not to the crop). The lifter is trained on keypoint-only
synthetic people (`hmr_models.train.train_lifter`, thousands of scenes without rendering) and
then sits inside DPMesh: its estimate is the starting point that the cascade heads correct from
the diffusion features (residual heads, zero at the start of joint training).

Inputs: crop-normalised keypoints (B, K, 2) in [0, 1] with a validity mask (B, K), and the crop
box relative to the camera, ((cx - px) / f, (cy - py) / f, size / f) (CLIFF). With `scores` on,
the per-keypoint channel carries the detector's confidence (0 where missing) instead of 0/1: a
low-score keypoint is often a guess under occlusion or a neighbour's joint, and the lifter
learns how far to trust it (SynthOcc: 9 mm lower MPJPE than the binary mask, README). Outputs: root
orientation and 23 body rotations as interleaved 6D, betas, and the raw crop camera in the
parametrisation of DPMesh's camera head.
"""
from dataclasses import dataclass, field

import torch
from torch import nn

from hmr_models.config import Config


@dataclass
class KeypointLifterConfig(Config):
    """Lifter width and its pretrained weights (DPMeshConfig.keypoint_lifter)."""

    enabled: bool = False
    hidden: int = 1024
    blocks: int = 2
    dropout: float = 0.1
    scores: bool = field(default=False, metadata={
        'help': 'confidence channel = detector scores (True) or the 0/1 mask'})
    flip_test: bool = field(default=False, metadata={
        'help': 'inference: also lift the mirrored keypoints, average (COCO-17 only)'})
    weights: str = field(default='', metadata={
        'help': 'train_lifter output folder/file, loaded when a fresh DPMesh is built'})


# The identity rotation in the interleaved 6D layout (rows of the 3x2 matrix [e1 e2]).
IDENTITY_6D = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
# Mirroring x (M = diag(-1, 1, 1)) maps a rotation R to M R M: its first two columns
# (c1, c2) become (-M c1, M c2); in the interleaved layout that is this sign pattern.
MIRROR_6D = (1.0, -1.0, -1.0, 1.0, -1.0, 1.0)


def box_features(cameras, batch, device, dtype):
    """(B, 3) CLIFF box information of CropCameras (zeros when there are no cameras)."""
    if cameras is None:
        return torch.zeros(batch, 3, device=device, dtype=dtype)
    focal = cameras.focal[:, :1] if cameras.focal.dim() == 2 else cameras.focal[:, None]
    centre = (cameras.box_center - cameras.principal) / focal
    return torch.cat([centre, cameras.box_size[:, None] / focal], -1).to(device, dtype)


class ResidualBlock(nn.Module):
    def __init__(self, width, dropout):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(width, width),
                                 nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x):
        return x + self.net(x)


class KeypointLifter(nn.Module):
    """MLP (Martinez-style residual blocks, LayerNorm) from keypoints + box to SMPL."""

    def __init__(self, num_keypoints, config=None):
        super().__init__()
        cfg = config or KeypointLifterConfig()
        self.config, self.num_keypoints = cfg, int(num_keypoints)
        self.inp = nn.Sequential(nn.Linear(self.num_keypoints * 3 + 3, cfg.hidden),
                                 nn.LayerNorm(cfg.hidden), nn.ReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(cfg.hidden, cfg.dropout)
                                      for _ in range(cfg.blocks)])
        self.out = nn.Linear(cfg.hidden, 24 * 6 + 10 + 3)
        nn.init.zeros_(self.out.weight)   # start at the identity pose, mean shape, centred camera
        with torch.no_grad():
            self.out.bias.zero_()
            self.out.bias[:24 * 6] = torch.tensor(IDENTITY_6D).repeat(24)

    def encode(self, keypoints, valid, box, scores=None):
        """Hidden features (B, hidden): what NKR distillation aligns.

        scores (B, K) in [0, 1] are used only by a lifter trained with them (config.scores);
        None means 1 for every valid keypoint (ground-truth input).
        """
        ok = valid.to(keypoints.dtype)[..., None]
        kp = (torch.nan_to_num(keypoints) - 0.5) * 2.0 * ok      # crop centre at 0, [-1, 1]
        conf = ok
        if self.config.scores and scores is not None:
            conf = torch.nan_to_num(scores.to(kp.dtype)).clamp(0.0, 1.0)[..., None] * ok
        x = torch.cat([kp.flatten(1), conf.flatten(1), box.to(kp.dtype)], -1)
        return self.blocks(self.inp(x))

    def decode(self, hidden):
        y = self.out(hidden)
        return {'root6d': y[:, :6], 'body6d': y[:, 6:144].reshape(-1, 23, 6),
                'betas': y[:, 144:154], 'camera': y[:, 154:157]}

    def forward(self, keypoints, valid, box, scores=None):
        """dict of root6d (B, 6), body6d (B, 23, 6), betas (B, 10), camera (B, 3), hidden."""
        hidden = self.encode(keypoints, valid, box, scores)
        out = self.decode(hidden)
        if self.config.flip_test and not self.training and self.num_keypoints == 17:
            out = self._average_with_mirror(out, keypoints, valid, box, scores)
        return {**out, 'hidden': hidden}

    def _average_with_mirror(self, out, keypoints, valid, box, scores):
        """Test-time flip: lift the mirrored person too and average.

        The left/right mirrored keypoints are lifted, the answer is mirrored back and averaged
        with the direct one (a common 3D-pose trick against one-sided biases).
        """
        from hmr_models.skeleton import COCO17_NAMES, SMPL24_FLIP, flip_permutation
        perm = torch.as_tensor(flip_permutation(COCO17_NAMES), device=keypoints.device)
        kp = keypoints[:, perm].clone()
        kp[..., 0] = 1.0 - kp[..., 0]
        sign = torch.tensor([-1.0, 1.0, 1.0], device=box.device, dtype=box.dtype)
        mirrored = self.decode(self.encode(kp, valid[:, perm], box * sign,
                                           None if scores is None else scores[:, perm]))
        s6 = torch.tensor(MIRROR_6D, device=kp.device, dtype=out['root6d'].dtype)
        body_perm = torch.as_tensor(SMPL24_FLIP[1:] - 1, device=kp.device)
        back = {'root6d': mirrored['root6d'] * s6,
                'body6d': mirrored['body6d'][:, body_perm] * s6,
                'betas': mirrored['betas'],
                'camera': mirrored['camera'] * s6.new_tensor([1.0, -1.0, 1.0])}   # tx flips
        return {k: 0.5 * (out[k] + back[k]) for k in out}


def grow_blocks(lifter, blocks, gain=1e-3):
    """Add residual blocks to a trained lifter up to `blocks`; the grown lifter answers as before.

    More depth for a lifter that has levelled off (docs/TRAINING.md) without training it from
    scratch. A new block's last LayerNorm starts with gain and bias `gain`, so the block adds
    about `gain` to the features at first; not exactly 0, because its ReLU would then pass no
    gradient and the block would never learn.
    """
    width = lifter.config.hidden
    while len(lifter.blocks) < blocks:
        block = ResidualBlock(width, lifter.config.dropout).to(lifter.out.weight.device)
        last_norm = block.net[-3]
        with torch.no_grad():
            last_norm.weight.fill_(gain)
            last_norm.bias.fill_(gain)
        lifter.blocks.append(block)
    lifter.config.blocks = len(lifter.blocks)
    return lifter


def load_lifter_weights(lifter, path):
    """Load a train_lifter result (a checkpoint folder, hmr_models.checkpoints).

    The input convention the weights were trained with (`scores`, from the checkpoint's
    config) is a property of the weights: it replaces the lifter's configured one.
    """
    from pathlib import Path
    from hmr_models.checkpoints import is_checkpoint, read_config, read_weights
    from hmr_models.paths import MissingModelFile
    p = Path(path).expanduser()
    if not is_checkpoint(p):
        raise MissingModelFile(f'keypoint lifter checkpoint not found: {p} (train it with '
                               'python -m hmr_models.train.train_lifter, docs/TRAINING.md)')
    lifter.load_state_dict(read_weights(p))
    lifter.config.scores = bool(read_config(p).get('scores', False))
    return lifter
