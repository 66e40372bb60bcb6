"""Train DPMesh's VQ-VAE pose tokenizer (the pose prior) on SMPL poses.

    python -m hmr_models.train.train_vqvae --config vqvae.yaml [--set train.epochs=20]

Config (YAML):
    profile: compact          # take pose_head.vqvae of a DPMesh profile, and/or
    vqvae: {num_tokens: 48}   # VQVAEConfig fields (override the profile's)
    data:
      corpus: ~/.cache/hmr_ros/mocap_corpus/<body key>   # hmr_models.data.mocap corpus
      free_only: false        # CMU + DeepMimic only
      stride: 2               # every n-th frame (consecutive mocap frames are near-duplicates)
      npz: [poses.npz]        # and/or files with a 'pose' (N, 72) array
      mirror: true            # random left/right mirroring
      val_fraction: 0.05      # held-out share when the source has no val split (npz)
    train: {epochs: 30, batch_size: 256, lr: 1.0e-3, ...}   # TrainConfig fields
Input: the body-joint rotation matrices (num_joints x 9: 23 without the root, or 24). Loss:
reconstruction MSE on the matrices + commitment (the codebook follows by EMA, dead codes are
re-seeded). The result (`<out_dir>/final`) is what `pose_head.prior_weights` points at.
"""
import argparse
from dataclasses import asdict
import logging
from pathlib import Path
import sys

import numpy as np
from scipy.spatial.transform import Rotation
import torch
from torch.utils.data import Dataset
import torch.nn.functional as F

from hmr_models.config import build_dataclass
from hmr_models.dpmesh.config import VQVAEConfig, load_config
from hmr_models.geometry.rotations import project_to_rotation
from hmr_models.dpmesh.parts.pose_prior import PoseVQVAE
from hmr_models.skeleton import mirror_pose

from .config_io import add_common_arguments, apply_overrides, load_run_config
from .trainer import TrainConfig, Trainer, seed_everything

log = logging.getLogger(__name__)


def poses_to_rotmats(poses, num_joints=23):
    """(N, 72) axis-angle -> (N, J, 3, 3) float32 (J = 23 drops the root)."""
    n = len(poses)
    rot = Rotation.from_rotvec(np.asarray(poses, np.float64).reshape(-1, 3)).as_matrix()
    rot = rot.reshape(n, 24, 3, 3).astype(np.float32)
    return rot[:, 24 - num_joints:]


class PoseRotations(Dataset):
    """SMPL poses as body-joint rotation matrices, optionally randomly mirrored."""

    def __init__(self, poses, num_joints=23, mirror=False):
        poses = np.asarray(poses, np.float32).reshape(-1, 72)
        if not np.isfinite(poses).all():
            raise ValueError('pose data contains NaN or inf')
        self.rot = poses_to_rotmats(poses, num_joints)
        self.rot_mirror = poses_to_rotmats(mirror_pose(poses), num_joints) if mirror else None

    def __len__(self):
        return len(self.rot)

    def __getitem__(self, i):
        if self.rot_mirror is not None and np.random.rand() < 0.5:
            return torch.from_numpy(self.rot_mirror[i])
        return torch.from_numpy(self.rot[i])


def geodesic_degrees(a, b):
    """Mean rotation angle (degrees) between rotation-matrix stacks a and b (..., 3, 3)."""
    rel = a.transpose(-1, -2) @ b
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos)).mean()


def vqvae_loss(model, rotmats, commitment):
    out = model(rotmats)
    recon = F.mse_loss(out['recon'], rotmats)
    loss = recon + commitment * out['commit']
    with torch.no_grad():
        angle = geodesic_degrees(project_to_rotation(out['recon'].float()), rotmats.float())
    return loss, {'recon': recon.detach(), 'commit': out['commit'].detach(),
                  'perplexity': out['perplexity'].detach(), 'angle_deg': angle}


def corpus_folder(path):
    """The corpus folder (with index.json): `path` itself or its only corpus subfolder."""
    p = Path(path).expanduser()
    if (p / 'index.json').is_file():
        return p
    found = sorted(q.parent for q in p.glob('*/index.json'))
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileNotFoundError(f'no pose corpus in {p} (data.corpus): build it with '
                                '`python -m hmr_models.data.mocap.build_corpus`')
    raise ValueError(f'{p} holds several corpora ({", ".join(q.name for q in found)}): set '
                     'data.corpus to one of them')


def load_pose_data(data):
    """(train poses, val poses) (N, 72) from the `data` section."""
    train, val = [], []
    corpus = data.get('corpus')
    if corpus:
        from hmr_models.data.mocap.corpus import PoseCorpus
        c = PoseCorpus(corpus_folder(corpus))
        kw = dict(free_only=bool(data.get('free_only', False)),
                  stride=int(data.get('stride', 2)))
        train.append(c.pose_array('train', **kw))
        val.append(c.pose_array('val', **kw))
    for f in data.get('npz', []) or []:
        p = Path(f).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f'pose file not found: {p} (data.npz)')
        with np.load(p) as z:
            if 'pose' not in z.files:
                raise ValueError(f"{p}: no 'pose' array (data.npz files need pose (N, 72))")
            poses = z['pose'].reshape(-1, 72)[::int(data.get('stride', 1))]
        rng = np.random.default_rng(0)
        held = rng.random(len(poses)) < float(data.get('val_fraction', 0.05))
        train.append(poses[~held])
        val.append(poses[held])
    if not train:
        raise ValueError("no pose data: set data.corpus and/or data.npz in the config")
    train = np.concatenate(train).astype(np.float32)
    val = np.concatenate(val).astype(np.float32) if val else np.zeros((0, 72), np.float32)
    return train, val


def vqvae_config(run):
    base = {}
    if run.get('profile'):
        base = asdict(load_config(run['profile']).pose_head.vqvae)
    base.update(run.get('vqvae') or {})
    return build_dataclass(VQVAEConfig, base, 'vqvae')


def save_vqvae(model, directory):
    """A checkpoint folder (hmr_models.checkpoints) with the VQVAEConfig as {'vqvae': ...}."""
    from hmr_models.checkpoints import save_checkpoint
    save_checkpoint(directory, {'vqvae': asdict(model.cfg)}, model.state_dict(), 'vqvae')


def run(run_config, out_dir=None):
    """Train from a run-config dict; returns (model, history, output folder)."""
    train_cfg = TrainConfig.from_dict(dict(run_config.get('train') or {}))
    if out_dir:
        train_cfg.out_dir = str(out_dir)
    seed_everything(train_cfg.seed)
    vq_cfg = vqvae_config(run_config)
    data = run_config.get('data') or {}
    train_poses, val_poses = load_pose_data(data)
    log.info('VQ-VAE data: %d train / %d val poses', len(train_poses), len(val_poses))
    train_set = PoseRotations(train_poses, vq_cfg.num_joints, bool(data.get('mirror', True)))
    val_set = PoseRotations(val_poses, vq_cfg.num_joints) if len(val_poses) else None
    model = PoseVQVAE(vq_cfg)
    trainer = Trainer(model, lambda m, b: vqvae_loss(m, b, vq_cfg.commitment), train_set,
                      train_cfg, val_set=val_set, save_fn=save_vqvae)
    history = trainer.fit()
    final = Path(train_cfg.out_dir) / 'final'
    if trainer.is_main:
        save_vqvae(trainer.module, final)
        log.info('VQ-VAE pose prior written to %s (set pose_head.prior_weights to it)', final)
    return trainer.module, history, final


def main(argv=None):
    parser = add_common_arguments(argparse.ArgumentParser(
        description='Train the VQ-VAE pose tokenizer (DPMesh pose prior).'))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    cfg = apply_overrides(load_run_config(args.config), args.set)
    run(cfg, args.out_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
