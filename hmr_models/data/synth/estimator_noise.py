"""Per-frame SMPL estimates as a per-frame HMR model would produce them (DiffMesh inputs).

Errors, per track of a scene (rotations in radians, applied as R_est = R_gt @ exp(noise)):

- a constant bias per joint and a slowly varying (AR(1)) error: per-frame models are wrong in
  correlated ways, not only noisy;
- white jitter per frame, larger for distal joints;
- occlusion: joints the camera cannot see get a larger error (growing over a few frames), and
  rare failures throw random limbs (and sometimes the global orientation, front/back) far off
  for 1-4 frames;
- depth error proportional to distance (bias + jitter), smaller sideways error;
- betas: a per-track bias plus per-frame jitter;
- identity noise: for a few frames a track receives the estimate of an overlapping person
  (what a tracker does when two people cross).
"""
import copy
from dataclasses import dataclass

import numpy as np

from hmr_models.geometry.rotations_np import axis_angle_to_matrix, matrix_to_axis_angle

# Relative error level per SMPL joint: trunk small, distal joints large.
JOINT_LEVEL = np.array([0.6, 1.0, 1.0, 0.5, 1.2, 1.2, 0.5, 1.4, 1.4, 0.5, 1.6, 1.6, 0.8, 0.8,
                        0.8, 1.2, 1.0, 1.0, 1.3, 1.3, 1.6, 1.6, 1.8, 1.8])


@dataclass
class EstimatorNoiseConfig:
    """Spreads of the simulated per-frame estimator."""

    bias_rot: float = 0.08          # constant per track and joint
    drift_rot: float = 0.05         # AR(1) slowly varying error (stationary std)
    drift_rho: float = 0.97         # its frame-to-frame correlation
    jitter_rot: float = 0.008       # white, per frame and joint
    occluded_factor: float = 2.0    # x error on joints the camera cannot see
    occlusion_memory: float = 0.7   # smoothing of the occlusion state (errors grow, not jump)
    p_spike: float = 0.01           # per frame: a failure starts
    spike_len: tuple = (1, 4)
    spike_rot: float = 0.8
    spike_joints: float = 0.25      # fraction of joints a failure throws off
    p_flip: float = 0.2             # a failure turns the body around (front/back)
    depth_bias: float = 0.05        # x depth
    depth_jitter: float = 0.02      # x depth
    lateral_jitter: float = 0.004   # x depth, for x and y
    betas_bias: float = 0.3
    betas_jitter: float = 0.1
    p_id_switch: float = 0.003      # per frame and track with an overlapping neighbour
    id_switch_len: tuple = (1, 6)


@dataclass
class TrackEstimates:
    """Simulated per-frame estimates of one track (camera frame, like PersonTrack)."""

    pose: np.ndarray              # (T, 72)
    betas: np.ndarray             # (T, B)
    transl: np.ndarray            # (T, 3)
    joint_confidence: np.ndarray  # (T, 24) in [0, 1]
    spike: np.ndarray             # (T,) bool: a failure frame
    source_track: np.ndarray      # (T,) int: whose estimate this frame really is


def _segments(rng, t, prob, length):
    """(T,) bool mask: each frame starts a segment with `prob`, lasting length[0..1] frames."""
    starts = np.flatnonzero(rng.random(t) < prob)
    mask = np.zeros(t, bool)
    for s in starts:
        mask[s:s + rng.integers(length[0], length[1] + 1)] = True
    return mask


def _rotate(pose, noise):
    """Apply axis-angle noise (T, 24, 3) on the right of each joint's rotation."""
    r = axis_angle_to_matrix(pose.reshape(-1, 24, 3)) @ axis_angle_to_matrix(noise)
    return matrix_to_axis_angle(r).reshape(-1, 72)


def simulate_track(track, rng, config=None):
    """Noisy per-frame estimates of one PersonTrack (no identity noise: see simulate_scene)."""
    cfg = config or EstimatorNoiseConfig()
    t = track.pose.shape[0]
    level = JOINT_LEVEL[None, :, None]
    occluded = track.joint_codes != 0                                   # (T, 24)
    bias = rng.normal(0, cfg.bias_rot, (1, 24, 3)) * level
    drift = np.empty((t, 24, 3))
    drift[0] = rng.normal(0, cfg.drift_rot, (24, 3))
    innov = np.sqrt(1 - cfg.drift_rho ** 2) * cfg.drift_rot
    for f in range(1, t):
        drift[f] = cfg.drift_rho * drift[f - 1] + rng.normal(0, innov, (24, 3))
    jitter = rng.normal(0, cfg.jitter_rot, (t, 24, 3))
    noise = bias + drift * level + jitter * level
    # Occluded joints err more; the state is smoothed in time so that a joint flickering
    # between visible and hidden does not make its error flicker.
    occ = occluded.astype(np.float64)
    for f in range(1, t):
        occ[f] = cfg.occlusion_memory * occ[f - 1] + (1 - cfg.occlusion_memory) * occ[f]
    noise *= (1.0 + (cfg.occluded_factor - 1.0) * occ)[..., None]
    spike = _segments(rng, t, cfg.p_spike, cfg.spike_len)
    if spike.any():
        thrown = rng.random((t, 24)) < cfg.spike_joints
        noise += np.where((spike[:, None] & thrown)[..., None],
                          rng.normal(0, cfg.spike_rot, (t, 24, 3)), 0.0)
    pose = _rotate(track.pose.astype(np.float64), noise)
    if spike.any() and rng.random() < cfg.p_flip:
        # Front/back confusion: the global orientation turned half around the vertical.
        flip = axis_angle_to_matrix(np.array([0.0, np.pi, 0.0]))
        g = axis_angle_to_matrix(pose[spike, :3]) @ flip
        pose[spike, :3] = matrix_to_axis_angle(g)
    depth = np.maximum(track.transl[:, 2:3].astype(np.float64), 0.1)
    transl = track.transl + depth * np.concatenate([
        rng.normal(0, cfg.lateral_jitter, (t, 2)),
        rng.normal(0, cfg.depth_bias) + rng.normal(0, cfg.depth_jitter, (t, 1))], -1)
    betas = track.betas[None] + rng.normal(0, cfg.betas_bias, track.betas.shape) + \
        rng.normal(0, cfg.betas_jitter, (t,) + track.betas.shape)
    conf = np.clip(np.where(occluded, 0.35, 0.9) + rng.normal(0, 0.05, (t, 24)), 0, 1)
    conf[spike] *= 0.6
    return TrackEstimates(pose=pose.astype(np.float32), betas=betas.astype(np.float32),
                          transl=transl.astype(np.float32),
                          joint_confidence=conf.astype(np.float32), spike=spike,
                          source_track=np.full(t, track.track_id, np.int64))


def simulate_scene(scene, rng, config=None):
    """Estimates for every track of a scene, with identity switches between overlapping ones.

    Returns:
        list of TrackEstimates (one per scene.people, same order).
    """
    cfg = config or EstimatorNoiseConfig()
    base = [simulate_track(p, rng, cfg) for p in scene.people]
    ests = copy.deepcopy(base)  # switched frames copy from the unswitched estimates
    for i, p in enumerate(scene.people):
        for j, q in enumerate(scene.people):
            if i == j:
                continue
            # Frames where the boxes overlap: a tracker can confuse the two.
            a, b = p.boxes, q.boxes
            ix = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
            iy = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
            overlap = (ix > 0) & (iy > 0)
            switch = _segments(rng, len(overlap), cfg.p_id_switch, cfg.id_switch_len) & overlap
            if switch.any():
                src = base[j]
                for key in ('pose', 'betas', 'transl', 'joint_confidence'):
                    getattr(ests[i], key)[switch] = getattr(src, key)[switch]
                ests[i].source_track[switch] = q.track_id
    return ests
