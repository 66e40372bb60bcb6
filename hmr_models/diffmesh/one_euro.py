"""One-Euro filter baseline (Casiez et al., CHI 2012) on the smoothers' per-track interface.

What ROMP and ros4hri smooth SMPL outputs with in practice: a first-order low-pass filter
whose cutoff rises with the signal's speed (little lag on fast motion, strong smoothing when
still). Rotations are filtered in the continuous 6D representation and re-orthonormalised;
betas and translation as they are. Timestamps are real seconds, so dropped frames and
irregular stamps change the filter gain correctly.
"""
from dataclasses import dataclass, field
import math

import numpy as np
import torch

from hmr_models.config import Config
from hmr_models.types import NUM_BETAS, NUM_JOINTS
from hmr_models.geometry.rotations import axis_angle_to_rot6d, rot6d_to_axis_angle
from hmr_models.diffmesh.tracks import TrackTable

MIN_DT = 1e-3  # seconds


def smoothing_factor(cutoff, dt):
    """Exponential smoothing factor of a first-order low-pass at `cutoff` Hz over dt seconds."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / np.asarray(dt))


def one_euro_step(x, x_prev, dx_prev, dt, min_cutoff, beta, d_cutoff):
    """One filter update, element-wise and vectorised over any shape.

    Args:
        x: (..., D) new raw sample; x_prev, dx_prev: (..., D) previous filtered value and
            filtered derivative; dt: (...,) or scalar seconds since the previous sample.
        min_cutoff: Hz at rest; beta: cutoff increase per unit/s of speed; d_cutoff: Hz of the
            derivative's own low-pass.
    Returns:
        (x_hat, dx_hat), each (..., D).
    """
    dt = np.maximum(np.asarray(dt, np.float64), MIN_DT)[..., None]
    dx = (x - x_prev) / dt
    a_d = smoothing_factor(d_cutoff, dt)
    dx_hat = a_d * dx + (1.0 - a_d) * dx_prev
    a = smoothing_factor(min_cutoff + beta * np.abs(dx_hat), dt)
    return a * x + (1.0 - a) * x_prev, dx_hat


@dataclass
class OneEuroConfig(Config):
    """One-Euro smoother settings (same names as the hmr_node ROS parameters)."""

    one_euro_min_cutoff: float = field(default=1.0, metadata={
        'help': 'Hz: cutoff at rest (lower = smoother and laggier when still)'})
    one_euro_beta: float = field(default=0.5, metadata={
        'help': 'cutoff increase per unit/s of speed (higher = less lag when moving)'})
    one_euro_d_cutoff: float = field(default=1.0, metadata={
        'help': 'Hz: cutoff of the speed estimate'})
    temporal_track_timeout: float = field(default=1.0, metadata={
        'help': 'seconds after which the state of an unseen track is dropped'})

    def validate(self):
        for name in ('one_euro_min_cutoff', 'one_euro_d_cutoff', 'temporal_track_timeout'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if self.one_euro_beta < 0:
            raise ValueError(f'one_euro_beta must be >= 0, got {self.one_euro_beta}')


class _FilterState:
    __slots__ = ('stamp', 'x', 'dx')

    def __init__(self):
        self.stamp = None
        self.x = None
        self.dx = None


class OneEuroSmoother:
    """Per-track One-Euro filtering of BodyEstimates; same interface as StreamingSmoother.

    Args:
        config: OneEuroConfig.
        joint_model: optional JointModel; body: optional BodyModel. Joints (and vertices, with a
            body) are recomputed from the filtered parameters; with neither, the input joints
            are filtered as well (root-relative) so the output stays self-consistent enough.
    """

    def __init__(self, config=None, joint_model=None, body=None, num_betas=NUM_BETAS):
        self.config = config or OneEuroConfig()
        self.joint_model = joint_model
        self.body = body
        self.num_betas = num_betas
        self.tracks = TrackTable(self.config.temporal_track_timeout, _FilterState)

    @property
    def counters(self):
        return self.tracks.counters

    def reset(self):
        self.tracks.reset()

    def update(self, stamp, track_ids, estimate, people=None, camera=None):
        """Filtered estimate of the N people of this frame (BodyEstimate, temporal=True).

        people and camera are accepted for the smoothers' common interface and not used.
        """
        stamp = float(stamp)
        n = len(estimate)
        if len(track_ids) != n:
            raise ValueError(f'estimate ({n}) and track_ids ({len(track_ids)}) differ in size')
        idx, _, states = self.tracks.assign(stamp, track_ids)
        out = _copy(estimate)
        # Untracked people pass through unfiltered, flagged so.
        out.temporal = np.zeros(n, bool)
        out.temporal[idx] = True
        if len(idx) == 0:
            return out
        x = self._pack(estimate, idx)
        fresh = np.array([s.x is None for s in states])
        prev_x = np.stack([x[j] if f else s.x for j, (s, f) in enumerate(zip(states, fresh))])
        prev_dx = np.stack([np.zeros_like(x[j]) if f else s.dx
                            for j, (s, f) in enumerate(zip(states, fresh))])
        dt = np.array([1.0 if f else stamp - s.stamp for s, f in zip(states, fresh)])
        c = self.config
        x_hat, dx_hat = one_euro_step(x, prev_x, prev_dx, dt, c.one_euro_min_cutoff,
                                      c.one_euro_beta, c.one_euro_d_cutoff)
        x_hat[fresh] = x[fresh]  # the first sample of a track passes through
        for j, s in enumerate(states):
            s.stamp, s.x, s.dx = stamp, x_hat[j], dx_hat[j]
        self._unpack(out, idx, x_hat)
        return out

    def _pack(self, est, idx):
        """(M, D) float64 channels: 6D rotations, betas, translation (+ joints if needed)."""
        pose = torch.from_numpy(np.asarray(est.pose[idx], np.float32))
        rot6d = axis_angle_to_rot6d(pose.view(-1, NUM_JOINTS, 3)).reshape(len(idx), -1).numpy()
        parts = [rot6d, est.betas[idx], est.translation[idx]]
        if self.body is None and self.joint_model is None:
            j = est.joints[idx]
            parts.append((j - j[:, :1]).reshape(len(idx), -1))
        return np.concatenate(parts, 1).astype(np.float64)

    def _unpack(self, out, idx, x_hat):
        m = len(idx)
        r = NUM_JOINTS * 6
        raw_translation = out.translation[idx].copy()
        nb = out.betas.shape[1]
        rot6d = torch.from_numpy(x_hat[:, :r].astype(np.float32)).view(m, NUM_JOINTS, 6)
        out.pose[idx] = rot6d_to_axis_angle(rot6d).reshape(m, -1).numpy()
        out.betas[idx] = x_hat[:, r:r + nb]
        out.translation[idx] = x_hat[:, r + nb:r + nb + 3]
        tail = x_hat[:, r + nb + 3:]
        if self.body is not None:
            with torch.inference_mode():
                dev = self.body.device
                res = self.body(*(torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(dev)
                                  for a in (out.pose, out.betas, out.translation)))
            out.vertices, out.joints = res.numpy()
        elif self.joint_model is not None:
            with torch.inference_mode():
                j = self.joint_model.from_axis_angle(
                    *(torch.from_numpy(np.ascontiguousarray(a[idx], np.float32))
                      for a in (out.pose, out.betas[:, :self.joint_model.num_betas],
                                out.translation)))
            out.joints[idx] = j.numpy()
            out.vertices = None
        else:
            rel = tail.reshape(m, NUM_JOINTS, 3).astype(np.float32)
            # The root moves with the translation: shift it by the smoothing's change.
            root = out.joints[idx, 0] + (out.translation[idx] - raw_translation)
            out.joints[idx] = rel + root[:, None]
            out.vertices = None


def _copy(est):
    from dataclasses import replace
    return replace(est, pose=est.pose.copy(), betas=est.betas.copy(),
                   translation=est.translation.copy(), joints=est.joints.copy(),
                   joint_confidence=est.joint_confidence.copy(),
                   vertices=None if est.vertices is None else est.vertices.copy())
