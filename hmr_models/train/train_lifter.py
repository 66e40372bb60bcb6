"""Train DPMesh's keypoint lifter on keypoint-only synthetic people, teacher then NKR student.

    python -m hmr_models.data.synth.generate --out data/synth/kp --split train --scenes 3000 \
        --samples --sample-every 3 --seed 7          # no rendering: ~2 scenes/s per core
    python -m hmr_models.train.train_lifter --config lifter_compact.yaml --stage teacher
    python -m hmr_models.train.train_lifter --config lifter_compact.yaml --stage student \
        --out-dir runs/lifter_student --set teacher=runs/lifter_teacher/final

Stages, as DPMesh's: the teacher lifts the true 2D keypoints; the student starts from it and
lifts the simulated detector's keypoints (misses under occlusion, jitter, swaps, neighbours)
while Noisy Keypoint Reasoning pulls its hidden features towards the frozen teacher's features
of the clean keypoints of the same person (MSE, weight `w_nkr`; 0 = the ablation without NKR),
plus, with `w_nkr_nce` > 0, DPMesh's SimCLR term (the student's view of a person must be
nearer the teacher's view of that person than of the others in the batch).
`grow_blocks` (e.g. 3) adds residual blocks to the starting lifter, each starting as about
the identity (`grow_blocks` in keypoint_lifter.py): more depth without starting over.
`init` starts either stage from a saved lifter instead of a fresh one (teacher) or the
teacher (student): e.g. a teacher fine-tuned on true keypoints from a trained student, so
that teacher and student share one feature space.
With `lifter.scores: true` the student reads the detector's keypoint scores (the teacher's
clean keypoints count as score 1).
Losses are DPMesh's (2D, 3D, SMPL; `loss` section). The result folder (`final/`) holds
a checkpoint folder (hmr_models.checkpoints); DPMesh's `keypoint_lifter.weights` points at it.
"""
from dataclasses import asdict
import logging
from pathlib import Path
import sys

import torch
from torch import nn

from hmr_models.config import build_dataclass
from hmr_models.dpmesh.config import LossConfig
from hmr_models.dpmesh.parts.keypoint_lifter import (KeypointLifter, KeypointLifterConfig,
                                                     box_features, grow_blocks,
                                                     load_lifter_weights)
from hmr_models.dpmesh.training.losses import NKRLoss, dpmesh_losses
from hmr_models.dpmesh.model import CropCameras, lifter_output, pose_body
from hmr_models.eval.metrics import mpjpe, pa_mpjpe

from .config_io import staged_main
from .trainer import TrainConfig, Trainer, seed_everything, unwrap

log = logging.getLogger(__name__)
STAGES = ('teacher', 'student')


class LifterTraining(nn.Module):
    """The lifter, the body model, (student) the frozen teacher, and the loss."""

    def __init__(self, lifter, body, loss=None, teacher=None, w_nkr=0.0, w_nkr_nce=0.0,
                 nce_temperature=0.1):
        super().__init__()
        self.lifter, self.body, self.teacher = lifter, body, teacher
        self.loss_cfg = loss or LossConfig()
        self.w_nkr, self.w_nkr_nce = float(w_nkr), float(w_nkr_nce)
        # DPMesh's NKR loss (MSE + SimCLR) only where the SimCLR term is wanted: its projection
        # head trains with the student; MSE alone needs no parameters.
        self.nkr = NKRLoss(lifter.config.hidden, temperature=nce_temperature) \
            if teacher is not None and self.w_nkr_nce > 0 else None
        body.requires_grad_(False)
        if teacher is not None:
            teacher.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        self.body.eval()
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def run(self, batch):
        cams = CropCameras(focal=batch['focal'], principal=batch['principal'],
                           box_center=batch['box_center'], box_size=batch['box_size'],
                           image_to_crop=batch['image_to_crop'])
        box = box_features(cams, batch['focal'].shape[0], batch['focal'].device, torch.float32)
        lifted = self.lifter(batch['keypoints'], batch['keypoints_valid'], box,
                             batch.get('keypoints_score'))
        out = pose_body(lifter_output(lifted), cams, self.body, 1.0)   # CLIFF camera, as compact
        total, parts = dpmesh_losses(out, batch, self.loss_cfg, (), 1.0)
        if self.teacher is not None and (self.w_nkr > 0 or self.nkr is not None):
            with torch.no_grad():
                target = self.teacher.encode(batch['gt_keypoints'], batch['gt_keypoints_valid'],
                                             box)
            if self.nkr is not None:
                parts['nkr_mse'], parts['nkr_nce'] = self.nkr(lifted['hidden'][..., None, None],
                                                              target[..., None, None])
                total = total + self.w_nkr_nce * parts['nkr_nce']
            else:
                parts['nkr_mse'] = nn.functional.mse_loss(lifted['hidden'], target)
            total = total + self.w_nkr * parts['nkr_mse']
        return total, parts, out

    def forward(self, batch):
        total, parts, _ = self.run(batch)
        return total, {k: v.detach() for k, v in parts.items()}

    @torch.no_grad()
    def evaluate(self, batch):
        total, parts, out = self.run(batch)
        res = {k: float(v) for k, v in parts.items()}
        res['loss'] = float(total)
        pred = out.joints.double().cpu().numpy() * 1000.0
        gt = batch['joints3d'].double().cpu().numpy() * 1000.0
        res['mpjpe_mm'], res['pa_mpjpe_mm'] = mpjpe(pred, gt), pa_mpjpe(pred, gt)
        return res


def save_lifter(lifter, directory):
    """A checkpoint folder (hmr_models.checkpoints); its config holds num_keypoints too."""
    from hmr_models.checkpoints import save_checkpoint
    return save_checkpoint(directory, {'num_keypoints': lifter.num_keypoints,
                                       **asdict(lifter.config)}, lifter.state_dict(),
                           'keypoint_lifter')


def load_lifter(directory):
    """A saved lifter (folder written by `save_lifter`)."""
    from hmr_models.checkpoints import read_config
    d = Path(directory).expanduser()
    meta = dict(read_config(d, 'keypoint lifter checkpoint'))
    k = meta.pop('num_keypoints', 17)
    lifter = KeypointLifter(k, KeypointLifterConfig(**meta))
    return load_lifter_weights(lifter, d)


def _datasets(spec, input_keypoints):
    from hmr_models.data.datasets import SyntheticKeypoints
    if not spec:
        return None
    spec = dict(spec)
    return SyntheticKeypoints(spec.pop('paths'), input_keypoints=spec.pop('input_keypoints',
                                                                          input_keypoints),
                              **spec)


def run(run_config, stage=None, out_dir=None):
    """Train from a run-config dict; returns (training module, history, exported folder)."""
    from hmr_models.body import load_body_model
    stage = stage or run_config.get('stage', 'teacher')
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got '{stage}'")
    train_cfg = TrainConfig.from_dict({'broadcast_buffers': False,
                                       **(run_config.get('train') or {})})
    if out_dir:
        train_cfg.out_dir = str(out_dir)
    seed_everything(train_cfg.seed)
    body = load_body_model(run_config.get('body_model_path') or None)
    teacher = None
    if stage == 'student':
        if not run_config.get('teacher'):
            raise ValueError("stage 'student' needs 'teacher': the trained teacher lifter folder")
        teacher = load_lifter(run_config['teacher']).eval()
        # The student starts as the teacher unless `init` names another lifter.
        lifter = load_lifter(run_config.get('init') or run_config['teacher'])
        # The student may take the detector's scores where the teacher (true keypoints) had 1s.
        lifter.config.scores = bool((run_config.get('lifter') or {}).get('scores',
                                                                         lifter.config.scores))
    elif run_config.get('init'):
        lifter = load_lifter(run_config['init'])
    else:
        lifter = KeypointLifter(17, build_dataclass(KeypointLifterConfig,
                                                    run_config.get('lifter') or {}, 'lifter'))
    if run_config.get('grow_blocks'):
        grow_blocks(lifter, int(run_config['grow_blocks']))
        log.info('lifter grown to %d residual blocks', lifter.config.blocks)
    data = run_config.get('data') or {}
    train_set = _datasets(data.get('train'), 'gt' if stage == 'teacher' else 'detected')
    if train_set is None:
        raise ValueError('no training data: set data.train in the config')
    val_set = _datasets(data.get('val'), 'detected')
    loss = build_dataclass(LossConfig, run_config.get('loss') or {}, 'loss')
    student = stage == 'student'
    module = LifterTraining(lifter, body, loss, teacher,
                            run_config.get('w_nkr', 0.0) if student else 0.0,
                            run_config.get('w_nkr_nce', 0.0) if student else 0.0,
                            run_config.get('nkr_temperature', 0.1))
    trainer = Trainer(module, lambda m, b: m(b), train_set, train_cfg, val_set=val_set,
                      save_fn=lambda m, d: save_lifter(m.lifter, d),
                      load_fn=lambda m, d: load_lifter_weights(m.lifter, d),
                      val_fn=lambda m, b: unwrap(m).evaluate(b))
    history = trainer.fit()
    final = Path(train_cfg.out_dir) / 'final'
    if trainer.is_main:
        save_lifter(lifter, final)
        log.info('keypoint lifter (%s) written to %s', stage, final)
    return module, history, final


def main(argv=None):
    return staged_main(run, "Train DPMesh's keypoint lifter (teacher on true keypoints, NKR "
                       'student on simulated detections).', STAGES, argv)


if __name__ == '__main__':
    sys.exit(main())
