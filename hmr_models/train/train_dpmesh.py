"""Train DPMesh: a teacher on ground-truth keypoints, then the NKR student on noisy ones.

    python -m hmr_models.train.train_dpmesh --config dpmesh.yaml --stage teacher
    python -m hmr_models.train.train_dpmesh --config dpmesh.yaml --stage student \
        --set teacher=runs/teacher/final
    torchrun --nproc_per_node 4 -m hmr_models.train.train_dpmesh --config dpmesh.yaml ...

Config (YAML):
    model: compact              # profile name, YAML path, or {base: compact, ...overrides}
    init_checkpoint: ''         # start from a DPMesh checkpoint (student default: the teacher)
    init_partial: ''            # or build `model` and take what fits from this checkpoint
    freeze_lifter: false        # keep a pretrained keypoint lifter fixed (train_lifter)
    teacher: ''                 # student stage: the trained teacher checkpoint (kept frozen)
    body_model_path: ''         # SMPL npz ('' = the bundled open body)
    data:
      train:                    # list of sources, concatenated
        - {type: synthetic, paths: [shards/], input_keypoints: gt}
        - {type: pw3d, root: ~/data/3DPW, split: train, frame_stride: 5}
        - {type: coco, image_dir: ..., annotation_file: ..., smpl_file: ...,
           smpl_format: neuralannot, keypoint_format: coco17}
        - {type: npz, npz_path: h36m_train.npz, image_dir: ~/data/h36m}
      val: [...]
    noise: {p_missing: 0.1, jitter: 0.03, p_swap: 0.1, p_neighbor: 0.05}   # student only
                                # (all 0 when the input is already the detector's)
    train: {epochs: 30, batch_size: 16, lr: 1.0e-4, lr_final: 1.0e-5, final_epochs: 5,
            weight_decay: 1.0e-6}
Losses and their weights are the model config's `loss` section (2D 5.0, 3D 2.0, SMPL 1.0,
NKR 0.1). The trained model is exported to `<out_dir>/final` (DPMesh.from_pretrained loads it).
"""
import logging
import os
from pathlib import Path
import sys

import torch
from torch import nn
from torch.utils.data import ConcatDataset
import torch.nn.functional as F

from hmr_models.dpmesh.checkpoint import adopt_weights
from hmr_models.dpmesh.config import DPMeshConfig, load_config
from hmr_models.data.synth.keypoint_corruption import KeypointNoiseConfig, corrupt_keypoints
from hmr_models.dpmesh.parts.keypoints import flip_permutation, from_coco17, scores_from_coco17
from hmr_models.dpmesh.training.losses import NKRLoss, dpmesh_losses, pose_token_targets
from hmr_models.dpmesh.model import CropCameras, DPMesh, prepare_images
from hmr_models.eval.metrics import mpjpe, pa_mpjpe

from .config_io import staged_main
from .trainer import TrainConfig, Trainer, seed_everything, unwrap

log = logging.getLogger(__name__)
STAGES = ('teacher', 'student')


def model_config(spec):
    """DPMeshConfig from a profile name, a YAML path or a dict (may name a `base`)."""
    if isinstance(spec, DPMeshConfig):
        return spec
    if isinstance(spec, dict):
        return load_config(spec)
    return load_config(str(spec or 'compact'))


def build_dataset(spec, crop_size, body=None):
    """One data source of the config (`type`: synthetic | pw3d | coco | npz)."""
    from hmr_models.data import datasets as ds
    spec = dict(spec)
    kind = spec.pop('type', None)
    if kind == 'synthetic':
        return ds.SyntheticSamples(spec.pop('paths'), **spec)
    if kind == 'pw3d':
        return ds.PW3DSequences(spec.pop('root'), crop_size=crop_size, body=body, **spec)
    if kind == 'coco':
        return ds.COCOKeypoints(crop_size=crop_size, body=body, **spec)
    if kind == 'npz':
        return ds.PreprocessedNPZ(crop_size=crop_size, **spec)
    raise ValueError(f"data source type must be synthetic, pw3d, coco or npz, got '{kind}'")


def build_datasets(specs, crop_size, body=None):
    if not specs:
        return None
    sets = [build_dataset(s, crop_size, body) for s in specs]
    return sets[0] if len(sets) == 1 else ConcatDataset(sets)


class DPMeshTraining(nn.Module):
    """What the trainer optimises: DPMesh (+ the NKR projection head) and its loss.

    forward(batch) -> (loss, parts). The body model and the frozen teacher ride along as
    submodules (so they follow the device) but have no trainable parameters.
    """

    def __init__(self, model, body, stage='teacher', teacher=None, noise=None, seed=0):
        super().__init__()
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got '{stage}'")
        if stage == 'student' and teacher is None:
            raise ValueError("the student stage needs a trained teacher (config 'teacher')")
        self.model, self.body, self.stage = model, body, stage
        cfg = model.config
        self.teacher = teacher
        if teacher is not None:
            teacher.requires_grad_(False)
            if teacher.config.fused_channels != cfg.fused_channels:
                raise ValueError('teacher and student must have the same fused feature width')
        self.nkr = NKRLoss(cfg.fused_channels, cfg.loss.nkr_projection_dim,
                           cfg.loss.nkr_temperature) if stage == 'student' else None
        self.noise = noise or KeypointNoiseConfig()
        self.noise.validate()
        self.flip = flip_permutation('coco17')
        self.generator = torch.Generator().manual_seed(int(seed))
        body.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        self.body.eval()
        lifter = self.model.keypoint_lifter
        if lifter is not None and not any(p.requires_grad for p in lifter.parameters()):
            lifter.eval()              # a frozen lifter: no dropout either
        return self

    def _inputs(self, batch):
        cfg = self.model.config
        dev = batch['focal'].device
        dtype = next(self.model.parameters()).dtype
        images = prepare_images(batch['image'], cfg.image_range, dev, dtype)
        size = images.shape[-1]
        to_crop = batch['image_to_crop'].float()
        if size != cfg.crop_size:
            # crop-normalised labels are resolution-free; only the image and affine rescale
            images = F.interpolate(images, size=(cfg.crop_size, cfg.crop_size), mode='bilinear',
                                   antialias=True, align_corners=False)
            to_crop = to_crop * (cfg.crop_size / size)
        cams = CropCameras(focal=batch['focal'].float(), principal=batch['principal'].float(),
                           box_center=batch['box_center'].float(),
                           box_size=batch['box_size'].float(), image_to_crop=to_crop)
        return images, cams

    def _keypoints(self, batch, noisy, generator=None):
        """(keypoints, valid, scores) in the model's keypoint set, corrupted when `noisy`."""
        kp, ok = batch['keypoints'].float(), batch['keypoints_valid'].bool()
        score = batch.get('keypoints_score')
        score = ok.float() if score is None else score.float()
        if noisy:
            nb = batch.get('neighbor_keypoints')
            nv = batch.get('neighbor_valid')
            use_nb = nv is not None and bool(nv.any())
            kp, new_ok = corrupt_keypoints(kp, ok, self.flip, self.noise,
                                           generator or self.generator,
                                           nb if use_nb else None, nv if use_nb else None)
            # Dropped keypoints lose their score; ones the noise invents get a middling one.
            score = torch.where(new_ok, torch.where(ok, score, torch.full_like(score, 0.5)),
                                torch.zeros_like(score))
            ok = new_ok
        kset = self.model.config.keypoint_set
        kp, ok = from_coco17(kp, ok, kset)
        return kp, ok, scores_from_coco17(score, kset)

    def run(self, batch, generator=None):
        """Forward + losses; returns (loss, parts, DPMeshOutput)."""
        cfg = self.model.config
        images, cams = self._inputs(batch)
        student = self.stage == 'student'
        kp, ok, scores = self._keypoints(batch, noisy=student, generator=generator)
        out = self.model(images, kp, ok, cameras=cams, body=self.body, scores=scores)
        tokens = None
        if cfg.pose_head.type == 'vqvae' and cfg.loss.w_tokens > 0:
            tokens = pose_token_targets(self.model.pose_prior, batch['pose'].float())
        total, parts = dpmesh_losses(out, batch, cfg.loss, cfg.regressor.joint_names,
                                     cfg.regressor.depth_range_m, token_targets=tokens)
        if student:
            # The teacher sees the true keypoints (`keypoints2d`: the same as `keypoints` for
            # ground-truth input, the clean version of the detector's for detected input).
            gt_kp, gt_ok = from_coco17(batch['keypoints2d'].float(),
                                       batch['keypoints2d_valid'].bool(),
                                       cfg.keypoint_set)
            with torch.no_grad():
                gt_kp = gt_kp.to(images.dtype)
                feats = self.teacher.backbone(images, gt_kp, gt_ok,
                                              self.teacher.heatmaps(gt_kp, gt_ok))['features']
            mse, nce = self.nkr(out.features, feats)
            parts['nkr_mse'], parts['nkr_nce'] = mse, nce
            total = total + cfg.loss.w_nkr * (mse + nce)
        return total, {k: v.detach() for k, v in parts.items()}, out

    def forward(self, batch):
        total, parts, _ = self.run(batch)
        return total, parts

    @torch.no_grad()
    def evaluate(self, batch):
        """Validation: the losses plus MPJPE / PA-MPJPE (mm) on the SMPL joints."""
        gen = torch.Generator().manual_seed(1234)   # the same corruption every validation
        total, parts, out = self.run(batch, generator=gen)
        res = {k: float(v) for k, v in parts.items()}
        res['loss'] = float(total)
        valid = batch['joints3d_valid'].bool().all(-1)
        if bool(valid.any()) and out.joints is not None:
            pred = out.joints[valid].double().cpu().numpy() * 1000.0
            gt = batch['joints3d'][valid].double().cpu().numpy() * 1000.0
            res['mpjpe_mm'] = mpjpe(pred, gt)
            res['pa_mpjpe_mm'] = pa_mpjpe(pred, gt)
        return res


def save_training_module(module, directory):
    module.model.save_pretrained(directory)
    if module.nkr is not None:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in module.nkr.state_dict().items()},
                  str(Path(directory) / 'nkr_head.safetensors'))


def load_training_module(module, directory):
    from safetensors.torch import load_file
    d = Path(directory)
    _, unexpected = module.model.load_state_dict(load_file(str(d / 'model.safetensors')),
                                                 strict=False)
    if unexpected:
        raise ValueError(f'{d}: checkpoint has keys the model lacks: {unexpected[:8]}')
    if module.nkr is not None and (d / 'nkr_head.safetensors').is_file():
        module.nkr.load_state_dict(load_file(str(d / 'nkr_head.safetensors')))


def run(run_config, stage=None, out_dir=None):
    """Train from a run-config dict; returns (training module, history, exported folder)."""
    from hmr_models.body import load_body_model
    stage = stage or run_config.get('stage', 'teacher')
    # DPMesh has no BatchNorm and its buffers (SMPL, frozen prior) never change: do not
    # re-broadcast them every step under DDP.
    train_cfg = TrainConfig.from_dict({'broadcast_buffers': False,
                                       **(run_config.get('train') or {})})
    if out_dir:
        train_cfg.out_dir = str(out_dir)
    seed_everything(train_cfg.seed)
    noise = KeypointNoiseConfig(**(run_config.get('noise') or {}))
    body = load_body_model(run_config.get('body_model_path') or None)
    teacher = None
    if stage == 'student':
        if not run_config.get('teacher'):
            raise ValueError("stage 'student' needs 'teacher': the trained teacher checkpoint")
        teacher = DPMesh.from_pretrained(run_config['teacher']).eval()
    partial = run_config.get('init_partial') or ''
    init = run_config.get('init_checkpoint') or (run_config.get('teacher')
                                                 if stage == 'student' and not partial else '')
    model = DPMesh.from_pretrained(init) if init else DPMesh(model_config(
        run_config.get('model')))
    if partial:
        adopt_weights(model, partial)
    if run_config.get('freeze_lifter') and model.keypoint_lifter is not None:
        model.keypoint_lifter.requires_grad_(False)
        model.keypoint_lifter.eval()
    data = run_config.get('data') or {}
    cfg = model.config
    train_set = build_datasets(data.get('train'), cfg.crop_size, body)
    if train_set is None:
        raise ValueError('no training data: set data.train in the config')
    val_set = build_datasets(data.get('val'), cfg.crop_size, body)
    rank = int(os.environ.get('RANK', '0'))   # each process corrupts keypoints differently
    module = DPMeshTraining(model, body, stage, teacher, noise, seed=train_cfg.seed + rank)
    trainer = Trainer(module, lambda m, b: m(b), train_set, train_cfg, val_set=val_set,
                      save_fn=save_training_module, load_fn=load_training_module,
                      val_fn=lambda m, b: unwrap(m).evaluate(b))
    history = trainer.fit()
    final = Path(train_cfg.out_dir) / 'final'
    if trainer.is_main:
        model.save_pretrained(final)
        log.info('DPMesh %s written to %s', stage, final)
    return module, history, final


def main(argv=None):
    return staged_main(run, 'Train DPMesh (teacher on ground-truth keypoints, NKR student on '
                       'noisy).', STAGES, argv)


if __name__ == '__main__':
    sys.exit(main())
