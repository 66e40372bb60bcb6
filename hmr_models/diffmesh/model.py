"""DiffMesh refiner: per-frame SMPL estimates of one track window in, smoothed window out.

One forward runs the N reverse steps of hmr_models.diffmesh.schedule: a mesh state starts from
a learned template ("the initial distribution"), the first N - f steps bring it to the last
frame, then each step removes one frame's motion ("noise") to reach the previous frame. Each
step is a two-stream transformer (mesh stream / condition stream, fused by cross-attention)
that predicts the motion term and the previous frame's condition feature. The emitted mesh
states are decoded into a residual pose per frame (6D), a residual translation per frame and
one betas per window (the authors' refine variant). Ours adds the residuals to a learned
average of the observed input frames (`mix_inputs`) instead of to each raw input frame.
"""
from dataclasses import dataclass
import logging
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from hmr_models.types import NUM_JOINTS
from hmr_models.diffmesh.config import DiffMeshConfig
from hmr_models.diffmesh.kinematics import JointModel, synthetic_rest_joints
from hmr_models.diffmesh.layers import ConditionGenerator, MLP, TwoStreamBlock, \
    timestep_embedding
from hmr_models.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle, \
    matrix_to_rot6d, rot6d_to_matrix
from hmr_models.diffmesh.schedule import reverse_schedule

log = logging.getLogger(__name__)

MIN_DEPTH = 0.5  # metres: floor for the depth that normalises translations


@dataclass
class WindowBatch:
    """Model input: B track windows of T = num_frames frames, oldest first (torch tensors).

    pose (B, T, 72) axis-angle; betas (B, T, nb); translation (B, T, 3) camera frame, metres;
    keypoints (B, T, K, 2) normalised to the person box (centre 0, half-size 1; 0 if missing);
    keypoint_scores (B, T, K) in [0, 1]; valid (B, T) 1 for an observed frame, 0 for padding
    or a gap (its values are copies of a neighbour and carry no information).
    """

    pose: torch.Tensor
    betas: torch.Tensor
    translation: torch.Tensor
    keypoints: torch.Tensor
    keypoint_scores: torch.Tensor
    valid: torch.Tensor

    def to(self, device, dtype=torch.float32):
        return WindowBatch(*(getattr(self, n).to(device=device, dtype=dtype) for n in
                             ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores',
                              'valid')))


@dataclass
class DiffMeshOutput:
    """Refined window.

    rotmats (B, T, 24, 3, 3); betas (B, nb) one per window; translation (B, T, 3);
    cond_pred / cond_target (B, T-1, D): predicted and actual condition feature of each step's
    previous frame (auxiliary loss).
    """

    rotmats: torch.Tensor
    betas: torch.Tensor
    translation: torch.Tensor
    cond_pred: torch.Tensor
    cond_target: torch.Tensor

    def axis_angle(self):
        """(B, T, 72) axis-angle pose."""
        b, t = self.rotmats.shape[:2]
        return matrix_to_axis_angle(self.rotmats).reshape(b, t, NUM_JOINTS * 3)


class StepNetwork(nn.Module):
    """One reverse step: (mesh state, condition, time embedding) -> (motion eps, previous cond)."""

    def __init__(self, cfg):
        super().__init__()
        self.blocks = nn.ModuleList(
            TwoStreamBlock(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout)
            for _ in range(cfg.depth))
        self.norm_m = nn.LayerNorm(cfg.width)
        self.norm_c = nn.LayerNorm(cfg.width)
        self.eps_head = nn.Linear(cfg.width, cfg.width)
        self.cond_head = nn.Linear(cfg.width, cfg.width)

    def forward(self, mesh, cond, temb):
        """mesh, cond (B, L, C); temb (C,) -> eps (B, L, C), cond_prev (B, L, C)."""
        mesh = mesh + temb
        cond = cond + temb
        for blk in self.blocks:
            mesh, cond = blk(mesh, cond)
        return self.eps_head(self.norm_m(mesh)), self.cond_head(self.norm_c(cond))


class DiffMesh(nn.Module):
    """The refiner.

    `forward(WindowBatch) -> DiffMeshOutput`; `joint_model` maps SMPL parameters to the 24
    joints of the body it was trained with (saved with the weights).
    """

    def __init__(self, config=None, joint_model=None):
        super().__init__()
        cfg = self.config = config or DiffMeshConfig()
        sched = self.schedule = reverse_schedule(cfg.num_frames, cfg.num_steps, cfg.beta_start,
                                                 cfg.beta_end, cfg.beta_kind)
        self.joint_model = joint_model or JointModel.from_rest_joints(synthetic_rest_joints(),
                                                                      cfg.num_betas)
        d = cfg.num_tokens * cfg.width
        k = cfg.num_keypoints * 3 if cfg.use_keypoints else 0
        in_dim = NUM_JOINTS * 6 + cfg.num_betas + 3 + k + 1
        self.embed = nn.Sequential(nn.Linear(in_dim, d), nn.GELU(), nn.Linear(d, d))
        self.pad_slot = nn.Parameter(torch.zeros(1, 1, d))
        self.cond_gen = ConditionGenerator(cfg.num_steps, d, cfg.cond_width, cfg.cond_depth,
                                           cfg.heads, cfg.mlp_ratio, cfg.dropout)
        self.template = nn.Parameter(torch.randn(1, cfg.num_tokens, cfg.width) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(cfg.width, cfg.width), nn.GELU(),
                                      nn.Linear(cfg.width, cfg.width))
        self.step_net = StepNetwork(cfg)
        # The DDIM coefficients of one step are ~1e-3 (betas 1e-4..1e-3): rescale eps so a
        # unit-size network output is a unit-size change of the mesh state.
        emit = sched.emitting_steps
        eps_scale = 1.0 / float(abs(sched.coef_eps[emit]).mean())
        self.register_buffer('timesteps', torch.as_tensor(sched.timestep), persistent=False)
        self.register_buffer('coef_x', torch.as_tensor(sched.coef_x), persistent=False)
        self.register_buffer('coef_eps', torch.as_tensor(sched.coef_eps * eps_scale),
                             persistent=False)
        self.emit_frame = [int(f) for f in sched.frame]
        # Decoder: emitted mesh state + the frame's condition -> residuals.
        self.decode = nn.Sequential(nn.LayerNorm(d), MLP(d, 1.0))
        h = cfg.head_hidden
        self.head_in = nn.Linear(d + NUM_JOINTS * 6 + 3, h)
        self.head_conv = nn.Conv1d(h, h, cfg.head_kernel, padding=cfg.head_kernel // 2,
                                   padding_mode='replicate')
        self.head_pose = nn.Linear(h, NUM_JOINTS * 6 + 3)
        self.head_betas = nn.Linear(h, cfg.num_betas)
        for lin in (self.head_pose, self.head_betas):
            nn.init.xavier_uniform_(lin.weight, gain=cfg.residual_init_gain)
            nn.init.zeros_(lin.bias)
        # Residual base: a learned temporal average of the input window (see `mix_inputs`).
        # The static part starts close to identity (weight ~0.78 on the frame itself, ~0.1 on
        # each neighbour: little lag at the window's newest frame); the input-dependent part
        # (queries/keys of the head features, zero-initialised) learns to drop outlier frames.
        pos = torch.arange(cfg.num_frames, dtype=torch.float32)
        self.mix_prior = nn.Parameter(-2.0 * (pos[:, None] - pos[None]) ** 2)
        self.mix_q = nn.Linear(h, cfg.mix_dim)
        self.mix_k = nn.Linear(h, cfg.mix_dim)
        nn.init.zeros_(self.mix_q.weight)
        nn.init.zeros_(self.mix_q.bias)

    @property
    def num_frames(self):
        return self.config.num_frames

    def encode_frames(self, batch):
        """Per-frame input features and the normalisers the outputs need."""
        cfg = self.config
        b, t = batch.pose.shape[:2]
        rot6d = matrix_to_rot6d(axis_angle_to_matrix(batch.pose.reshape(b, t, NUM_JOINTS, 3)))
        rot6d = rot6d.reshape(b, t, NUM_JOINTS * 6)
        valid = batch.valid
        weight = valid / valid.sum(1, keepdim=True).clamp_min(1.0)
        # Translations relative to the window's mean and divided by its depth: the motion a
        # person makes looks the same at 2 m and at 8 m.
        ref = (batch.translation * weight[..., None]).sum(1)
        depth = ref[:, 2:3].clamp_min(MIN_DEPTH)
        trans = (batch.translation - ref[:, None]) / depth[:, None]
        parts = [rot6d, batch.betas[..., :cfg.num_betas], trans]
        if cfg.use_keypoints:
            parts += [batch.keypoints.reshape(b, t, -1), batch.keypoint_scores]
        parts.append(valid[..., None])
        return torch.cat(parts, -1), rot6d, trans, ref, depth, weight

    def forward(self, batch):
        cfg = self.config
        b, t = batch.pose.shape[:2]
        if t != cfg.num_frames:
            raise ValueError(f'DiffMesh expects windows of {cfg.num_frames} frames, got {t}')
        x_in, rot6d, trans, ref, depth, weight = self.encode_frames(batch)
        frames = self.embed(x_in)  # (B, T, D)
        warm = cfg.num_steps - cfg.num_frames
        # Slot k conditions reverse step k: pads, then frames from the last to the first.
        slots = torch.cat([self.pad_slot.expand(b, warm, -1), frames.flip(1)], 1)
        slots = self.cond_gen(slots)  # (B, N, D)
        cond_tok = slots.view(b, cfg.num_steps, cfg.num_tokens, cfg.width)
        temb = self.time_mlp(timestep_embedding(self.timesteps, cfg.width).to(slots))

        mesh = self.template.expand(b, -1, -1)
        emitted, cond_pred = [], []
        for k in range(cfg.num_steps):
            eps, prev = self.step_net(mesh, cond_tok[:, k], temb[k])
            mesh = self.coef_x[k] * mesh + self.coef_eps[k] * eps
            if self.emit_frame[k] >= 0:
                emitted.append(mesh)
                cond_pred.append(prev)
        # Emitted in run order (last frame first): flip back to time order.
        state = torch.stack(emitted[::-1], 1).reshape(b, t, -1)
        cond_time = slots[:, warm:].flip(1)
        # Step emitting frame i predicts frame i-1's condition (the next step's slot).
        pred = torch.stack(cond_pred[:-1], 1).reshape(b, t - 1, -1)
        target = slots[:, warm + 1:].detach()

        feat = self.decode(state) + cond_time
        h = F.gelu(self.head_in(torch.cat([feat, rot6d, trans], -1)))
        h = F.gelu(self.head_conv(h.transpose(1, 2))).transpose(1, 2) + h
        res = self.head_pose(h)
        mix = self.mix_inputs(h, batch.valid)
        rotmats = rot6d_to_matrix((mix @ rot6d + res[..., :NUM_JOINTS * 6])
                                  .reshape(b, t, NUM_JOINTS, 6))
        translation = mix @ batch.translation + res[..., NUM_JOINTS * 6:] * depth[:, None]
        pooled = (h * weight[..., None]).sum(1)
        betas_in = (batch.betas[..., :cfg.num_betas] * weight[..., None]).sum(1)
        betas = betas_in + self.head_betas(pooled)
        return DiffMeshOutput(rotmats, betas, translation, pred, target)

    def mix_inputs(self, h, valid):
        """(B, T, T) weights averaging the observed input frames into each output frame.

        Refining around a smoothed base (rather than the raw input, as the authors' refine
        variant does) means the network does not have to reproduce each frame's jitter
        exactly in order to cancel it; missing or padded frames get no weight.
        """
        logits = self.mix_prior + self.mix_q(h) @ self.mix_k(h).transpose(1, 2) * \
            self.config.mix_dim ** -0.5
        logits = logits.masked_fill(valid[:, None, :] <= 0, float('-inf'))
        return torch.softmax(logits, -1)

    # ---- persistence (hmr_models.checkpoints: config.json + model.safetensors + meta.json) --

    def save_pretrained(self, directory, extra=None):
        """Write the checkpoint folder (weights incl. the joint model; `extra` -> meta.json)."""
        from hmr_models.checkpoints import save_checkpoint
        return save_checkpoint(directory, self.config.to_dict(), self.state_dict(), 'diffmesh',
                               **(extra or {}))

    @classmethod
    def from_pretrained(cls, path, map_location='cpu'):
        """Load a model saved by save_pretrained or a training checkpoint.

        `path` is a checkpoint folder (also one written before the common format:
        config.json + diffmesh.pt), or a training checkpoint file that holds 'config' (or
        'model_config') and 'model' state dicts.
        """
        from hmr_models.checkpoints import read_config, read_weights
        from hmr_models.paths import require_file
        path = Path(path).expanduser()
        if path.is_dir():
            cfg = read_config(path, 'DiffMesh checkpoint', 'temporal_weights')
            state = read_weights(path, 'DiffMesh checkpoint', 'temporal_weights')
        else:
            ckpt = torch.load(require_file(path, 'DiffMesh checkpoint', 'temporal_weights'),
                              map_location=map_location, weights_only=False)
            cfg = ckpt.get('model_config') or ckpt.get('config')
            if isinstance(cfg, dict) and 'model' in cfg and isinstance(cfg['model'], dict):
                cfg = cfg['model']
            state = ckpt.get('model', ckpt.get('state_dict'))
            if cfg is None or state is None:
                raise ValueError(f'{path} is not a DiffMesh checkpoint (no config/model inside)')
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in state.items()}
        config = DiffMeshConfig.from_dict(cfg)
        rest, dirs = state['joint_model.rest'], state['joint_model.shape_dirs']
        model = cls(config, JointModel(rest, dirs))
        model.load_state_dict(state)
        return model.eval()
