"""Train the DiffMesh temporal refiner on real motion with simulated per-frame estimates.

    python -m hmr_models.train.train_diffmesh --config diffmesh.yaml [--set train.epochs=2]
    torchrun --nproc_per_node 4 -m hmr_models.train.train_diffmesh --config diffmesh.yaml

Config (YAML; every section optional, defaults below):
    init: ''                              # start from these DiffMesh weights (a fine-tune)
    model: {width: 64, num_tokens: 6}     # DiffMeshConfig fields
    data:
      corpus: ~/.cache/hmr_ros/mocap_corpus/<body key>   # hmr_models.data.mocap corpus
      free_only: false         # CMU + DeepMimic only (Bandai is CC BY-NC: so are its weights)
      motion_classes: ''       # share of windows per motion class ('training', 'balanced',
                               # 'sitting=0.2,...'; '' = every frame alike)
      body: null               # joint model: null = the corpus' rest joints (no shape
                               # directions); 'open' = bundled open body; or an SMPL .npz path
      synthetic: 0             # > 0: that many smooth random motions instead of a corpus
                               # (smoke tests only)
      windows_per_item: 16     # windows simulated together (one dataset item)
      train_items: 2000        # items per epoch (fresh random windows every epoch)
      val_items: 64            # fixed validation windows = val_items * windows_per_item
      strides: [1, 2, 3]       # frame strides at 30 fps: cameras at 30 / 15 / 10 fps
      mirror: true
      errors: {}               # data.synth.estimator_noise.EstimatorNoiseConfig overrides
      estimates: []            # tracks of the per-frame model's real estimates over synthetic
                               # scenes (python -m hmr_models.data.synth.estimates): windows
                               # cut from them train on its real errors
      estimates_share: 0.75    # share of each batch from `estimates` (the rest simulated)
      val_estimates: []        # validate on such tracks instead of simulated windows
      camera: {}               # data.synth.camera.PersonCameraConfig overrides
    train: {epochs: 20, batch_size: 4, lr: 3.0e-4, ...}   # TrainConfig; batch_size counts
                               # items, so a step sees batch_size * windows_per_item windows
The run writes `<out_dir>/final/` (hmr_models.checkpoints: config.json, model.safetensors,
meta.json), loadable with
`DiffMesh.from_pretrained` and what the `temporal_weights` parameter points at.
"""
import argparse
from dataclasses import asdict
import logging
from pathlib import Path
import sys

import numpy as np
import torch
from torch.utils.data import Dataset

from hmr_models.diffmesh import DiffMesh, DiffMeshConfig, WindowBatch
from hmr_models.config import build_dataclass
from hmr_models.data.mocap.classes import parse_class_weights
from hmr_models.data.synth.camera import PersonCameraConfig
from hmr_models.data.synth.estimator_noise import EstimatorNoiseConfig
from hmr_models.diffmesh.kinematics import JointModel
from hmr_models.diffmesh.losses import diffmesh_losses
from hmr_models.checkpoints import read_weights, weights_file
from hmr_models.train.diffmesh_data import (MixedSampler, TrackWindowSampler, WindowSampler,
                                            smooth_random_motion)

from .config_io import apply_overrides, load_run_config
from .trainer import TrainConfig, Trainer, seed_everything

log = logging.getLogger(__name__)

DEFAULT_TRAIN = dict(epochs=20, batch_size=4, lr=3e-4, lr_final=3e-5, final_epochs=3,
                     warmup_steps=200, weight_decay=0.01, grad_clip=1.0, log_every=20)
INPUT_KEYS = ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores', 'valid')
TARGET_KEYS = ('target_pose', 'target_betas', 'target_translation', 'mask')


class WindowDataset(Dataset):
    """Items of `windows_per_item` simulated windows each (a dict of arrays).

    Training items are fresh every epoch: the item's generator is seeded from the dataset seed,
    the index and a draw from torch's global generator (itself seeded and checkpointed by the
    trainer, so runs and resumes are reproducible). Validation items (`fixed=True`) never
    change.
    """

    def __init__(self, sampler, items, windows_per_item, seed, fixed=False):
        self.sampler = sampler
        self.items = int(items)
        self.windows = int(windows_per_item)
        self.seed = int(seed)
        self.fixed = fixed

    def __len__(self):
        return self.items

    def __getitem__(self, index):
        salt = 0 if self.fixed else int(torch.randint(0, 2 ** 31 - 1, ()).item())
        rng = np.random.default_rng([self.seed, int(index), salt])
        b = self.sampler.sample(self.windows, rng)
        item = {k: getattr(b.inputs, k) for k in INPUT_KEYS}
        item.update(target_pose=b.target_pose, target_betas=b.target_betas,
                    target_translation=b.target_translation, mask=b.mask)
        return item


def collate_items(items):
    """Concatenate items (dicts of (w, ...) arrays) into one dict of tensors (B, ...)."""
    return {k: torch.from_numpy(np.concatenate([it[k] for it in items])).float()
            for k in items[0]}


def _split(batch):
    inputs = WindowBatch(*(batch[k] for k in INPUT_KEYS))
    return inputs, [batch[k] for k in TARGET_KEYS]


def make_loss_fn(module):
    """loss_fn(model, batch) for the Trainer; `module` is the unwrapped DiffMesh."""
    def loss_fn(model, batch):
        inputs, (pose, betas, trans, mask) = _split(batch)
        out = model(inputs)
        return diffmesh_losses(out, pose, betas, trans, mask, module.joint_model, module.config)
    return loss_fn


def make_val_fn(module):
    """Validation losses and metrics.

    The losses plus MPJPE and ACC-ERR (mm, mm/frame^2, root-relative) of the refined windows
    and of their per-frame inputs.
    """
    loss_fn = make_loss_fn(module)

    def val_fn(model, batch):
        loss, parts = loss_fn(model, batch)
        inputs, (pose, betas, trans, mask) = _split(batch)
        out = model(inputs)
        jm = module.joint_model
        t = pose.shape[1]
        gt = jm.from_axis_angle(pose, betas[:, None].expand(-1, t, -1))
        pred = jm(out.rotmats, out.betas[:, None].expand(-1, t, -1))
        inp = jm.from_axis_angle(inputs.pose, inputs.betas)
        res = dict(parts, loss=float(loss))
        m = mask > 0
        ok = m[:, 2:] & m[:, 1:-1] & m[:, :-2]  # frames whose acceleration is defined
        g = (gt - gt[..., :1, :]) * 1000.0
        for name, j in (('', pred), ('_input', inp)):
            rel = (j - j[..., :1, :]) * 1000.0
            err = (rel - g).norm(dim=-1).mean(-1)  # (B, T)
            res['mpjpe_mm' + name] = float(err[m].mean())
            # The newest frame: what streaming publishes (past context only).
            res['mpjpe_newest_mm' + name] = float(err[:, -1][m[:, -1]].mean())
            acc = _second_difference(rel) - _second_difference(g)
            res['acc_err' + name] = float(acc.norm(dim=-1).mean(-1)[ok].mean())
        return res
    return val_fn


def _second_difference(x):
    """(B, T, ...) -> (B, T-2, ...): per-frame^2 acceleration (as eval.metrics.acceleration)."""
    return x[:, 2:] - 2.0 * x[:, 1:-1] + x[:, :-2]


def load_motions(data, split):
    """Motions (objects with pose, trans, fps) of a split from the `data` section."""
    n_syn = int(data.get('synthetic', 0) or 0)
    if n_syn > 0:
        offset = {'train': 0, 'val': 1, 'test': 2}[split]
        rng = np.random.default_rng(1000 + offset)
        return [smooth_random_motion(300, rng) for _ in range(max(2, n_syn // (1 + 4 * offset)))]
    corpus = data.get('corpus')
    if not corpus:
        raise ValueError("no motion data: set data.corpus to a pose corpus (build it with "
                         "`python -m hmr_models.data.mocap.build_corpus`) or data.synthetic")
    from hmr_models.data.mocap.corpus import PoseCorpus
    c = PoseCorpus(Path(corpus).expanduser())
    motions = [m for _, m in c.motions(split, free_only=bool(data.get('free_only', False)))]
    if not motions:
        raise ValueError(f'pose corpus {corpus} has no {split!r} clips with free_only='
                         f"{data.get('free_only', False)}")
    return motions


def load_joint_model(data, num_betas):
    """The joint model the losses use (saved with the weights, see the module docstring)."""
    body = data.get('body')
    if body:
        from hmr_models.body import load_body_model
        return JointModel.from_body_model(load_body_model(None if body == 'open' else body,
                                                          num_betas=num_betas))
    if data.get('corpus') and not data.get('synthetic'):
        from hmr_models.data.mocap.corpus import PoseCorpus
        rest = PoseCorpus(Path(data['corpus']).expanduser()).rest_joints
        return JointModel.from_rest_joints(rest, num_betas)
    from hmr_models.diffmesh.kinematics import synthetic_rest_joints
    return JointModel.from_rest_joints(synthetic_rest_joints(), num_betas)


def estimate_sampler(paths, num_betas, kw):
    """TrackWindowSampler over tracks files/folders (a path or a list of them)."""
    from hmr_models.data.synth.estimates import load_tracks
    paths = [paths] if isinstance(paths, str) else list(paths)
    return TrackWindowSampler(load_tracks(paths), num_betas, **kw)


def save_diffmesh(module, directory, run_config=None):
    module.save_pretrained(directory, extra={'run_config': run_config} if run_config else None)


def load_diffmesh_weights(module, directory):
    module.load_state_dict(read_weights(directory, 'DiffMesh checkpoint'))


def run(run_config, out_dir=None):
    """Train from a run-config dict; returns (model, history, final folder)."""
    train_cfg = TrainConfig.from_dict({**DEFAULT_TRAIN, **(run_config.get('train') or {})})
    if out_dir:
        train_cfg.out_dir = str(out_dir)
    seed_everything(train_cfg.seed)
    model_cfg = DiffMeshConfig.from_dict(run_config.get('model') or {}, 'model')
    data = dict(run_config.get('data') or {})
    errors = build_dataclass(EstimatorNoiseConfig, data.get('errors'), 'data.errors')
    camera = build_dataclass(PersonCameraConfig, data.get('camera'), 'data.camera')
    joint_model = load_joint_model(data, model_cfg.num_betas)
    model = DiffMesh(model_cfg, joint_model)
    if run_config.get('init'):
        # A fine-tune's start (e.g. the bundled weights); a checkpoint in out_dir still wins.
        load_diffmesh_weights(model, run_config['init'])
        log.info('DiffMesh: starting from %s', run_config['init'])
    kw = dict(num_frames=model_cfg.num_frames, strides=tuple(data.get('strides', (1, 2, 3))),
              camera=camera, errors=errors)
    class_weights = parse_class_weights(data.get('motion_classes', ''))
    train_sampler = WindowSampler(load_motions(data, 'train'), joint_model,
                                  mirror=bool(data.get('mirror', True)),
                                  class_weights=class_weights, **kw)
    val_sampler = WindowSampler(load_motions(data, 'val'), joint_model, mirror=False,
                                class_weights=class_weights, **kw)
    track_kw = dict(num_frames=model_cfg.num_frames, strides=kw['strides'],
                    short_track_prob=errors.short_track_prob)
    if data.get('estimates'):
        real = estimate_sampler(data['estimates'], model_cfg.num_betas, track_kw)
        share = float(data.get('estimates_share', 0.75))
        if not 0.0 < share <= 1.0:
            raise ValueError(f'data.estimates_share must be in (0, 1], got {share}')
        train_sampler = real if share == 1.0 else MixedSampler([real, train_sampler],
                                                               [share, 1.0 - share])
    if data.get('val_estimates'):
        val_sampler = estimate_sampler(data['val_estimates'], model_cfg.num_betas, track_kw)
    per_item = int(data.get('windows_per_item', 16))
    train_set = WindowDataset(train_sampler, data.get('train_items', 2000), per_item,
                              train_cfg.seed)
    val_set = WindowDataset(val_sampler, data.get('val_items', 64), per_item,
                            train_cfg.seed + 1, fixed=True)
    log.info('DiffMesh: %d parameters; %d windows per step', sum(
        p.numel() for p in model.parameters()), train_cfg.batch_size * per_item)
    record = {'model': model_cfg.to_dict(), 'data': data, 'train': asdict(train_cfg)}
    trainer = Trainer(model, make_loss_fn(model), train_set, train_cfg, val_set=val_set,
                      collate_fn=collate_items, val_fn=make_val_fn(model),
                      save_fn=lambda m, d: save_diffmesh(m, d, record),
                      load_fn=load_diffmesh_weights)
    history = trainer.fit()
    final = Path(train_cfg.out_dir) / 'final'
    if trainer.is_main:
        best = Path(train_cfg.out_dir) / 'best'
        source = best if weights_file(best) is not None else None
        if source is not None:
            load_diffmesh_weights(trainer.module, source)
        save_diffmesh(trainer.module, final, record)
        log.info('DiffMesh weights written to %s (%s checkpoint; set temporal_weights to it)',
                 final, 'best validation' if source else 'last')
    return trainer.module, history, final


def main(argv=None):
    parser = argparse.ArgumentParser(description='Train the DiffMesh temporal refiner.')
    parser.add_argument('--config', help='YAML run config (default: built-in defaults)')
    parser.add_argument('--out-dir', help='output folder (overrides train.out_dir)')
    parser.add_argument('--set', action='append', default=[], metavar='SECTION.KEY=VALUE',
                        help='override a config value (repeatable), e.g. --set train.epochs=2')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    cfg = load_run_config(args.config) if args.config else {}
    run(apply_overrides(cfg, args.set), args.out_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
