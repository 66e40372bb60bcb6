"""Per-frame SMPL estimates as a per-frame HMR model would produce them (DiffMesh's inputs).

One simulator, `simulate_estimates`, used for DiffMesh's training windows and benchmark
(sequences.simulate_sequences: motions seen by random cameras) and for synthetic scenes
(`simulate_scene`: every track of a scene, `hmr-synth --sequences`). Errors, per track
(rotations in radians, applied as R_est = R_gt @ exp(noise)):

- a constant bias per joint, a slowly varying drift and white jitter: per-frame models are
  wrong in correlated ways, not only noisy;
- failures ("spikes"): for 1-4 frames some limbs are thrown far off, and the 2D detector loses
  half the keypoints; in scenes, optionally, the body turned around (front/back);
- in scenes, joints the camera cannot see err more (the occlusion of every joint is known);
- depth error proportional to distance (bias + jitter), smaller sideways error; betas bias and
  jitter; noisy 2D keypoints and dropped frames;
- identity switches: for a few frames a track receives another person's estimate.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from hmr_models.config import Config
from hmr_models.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmr_models.types import NUM_JOINTS


@dataclass
class EstimatorNoiseConfig(Config):
    """What a per-frame estimator gets wrong (radians, metres, fractions of box size).

    The defaults give per-frame inputs of about 90 mm MPJPE and 30-35 mm/frame^2 ACC-ERR at
    30 fps (measured on smooth synthetic motion; mostly bias, plus jitter and spikes), the
    range image-based models show on 3DPW.
    """

    bias_rot: float = field(default=0.08, metadata={
        'help': 'per-window constant error per joint'})
    drift_rot: float = field(default=0.04, metadata={
        'help': 'slowly varying error per joint (amplitude)'})
    drift_hz: tuple = field(default=(0.2, 1.5), metadata={'help': 'its frequency'})
    jitter_rot: float = field(default=0.008, metadata={'help': 'independent per frame and joint'})
    root_jitter_rot: float = field(default=0.006, metadata={
        'help': 'extra jitter of the global orientation'})
    spike_prob: float = field(default=0.03, metadata={
        'help': 'per frame: an occlusion-like failure starts'})
    spike_len: tuple = field(default=(1, 4), metadata={'help': 'frames'})
    spike_rot: float = field(default=0.6, metadata={'help': 'on the affected joints'})
    spike_joints: float = field(default=0.3, metadata={
        'help': 'fraction of joints affected (limbs first)'})
    betas_bias: float = 0.4
    betas_jitter: float = 0.15
    trans_jitter: float = field(default=0.01, metadata={'help': 'metres, x/y'})
    depth_jitter: float = field(default=0.025, metadata={'help': 'fraction of depth'})
    depth_bias: float = field(default=0.06, metadata={'help': 'fraction of depth, per window'})
    kp_jitter: float = field(default=0.012, metadata={'help': 'fraction of box size'})
    kp_miss_prob: float = 0.05
    drop_prob: float = field(default=0.03, metadata={'help': 'per frame: no detection'})
    drop_len: tuple = (1, 5)
    id_switch_prob: float = field(default=0.04, metadata={
        'help': 'per window: frames taken from another person'})
    id_switch_len: tuple = (1, 4)
    short_track_prob: float = field(default=0.2, metadata={
        'help': 'per window: the track starts inside the window'})
    occluded_factor: float = field(default=2.0, metadata={
        'help': 'x bias, drift and jitter on joints the camera cannot see'})
    occlusion_memory: float = field(default=0.7, metadata={
        'help': 'smoothing of that state (errors grow, not jump)'})
    flip_prob: float = field(default=0.0, metadata={
        'help': 'per track with failures: they turn the body around'})

    @classmethod
    def exact(cls):
        """A simulator that makes no error at all (the ground truth comes out; for tests)."""
        return cls(bias_rot=0, drift_rot=0, jitter_rot=0, root_jitter_rot=0, spike_prob=0,
                   betas_bias=0, betas_jitter=0, trans_jitter=0, depth_jitter=0, depth_bias=0,
                   kp_jitter=0, kp_miss_prob=0, drop_prob=0, id_switch_prob=0,
                   short_track_prob=0, occluded_factor=1.0)


# Joints an occlusion most often corrupts (limbs), in order of preference.
_LIMBS = np.array([18, 19, 20, 21, 4, 5, 7, 8, 16, 17, 22, 23, 10, 11])


def _segments(rng, shape, prob, length):
    """Boolean (B, T) mask of random segments: each frame starts one with `prob`."""
    b, t = shape
    starts = rng.random((b, t)) < prob
    lens = rng.integers(length[0], length[1] + 1, (b, t))
    # Frame j is covered if some start s <= j has s + len > j: a running max of the ends.
    ends = np.where(starts, np.arange(t)[None] + lens, 0)
    return np.maximum.accumulate(ends, axis=1) > np.arange(t)[None]


def simulate_estimates(pose, betas, trans, keypoints_px, boxes, fps, rng, err, occluded=None):
    """Per-frame estimates of a per-frame model from ground truth.

    Args:
        pose (B, T, 72), betas (B, nb), trans (B, T, 3): camera-frame ground truth.
        keypoints_px (B, T, 17, 2), boxes (B, T, 4): true keypoints and person boxes (px).
        fps: frame rate of the T frames (for the drift frequency).
        occluded: optional (B, T, 24) bool, joints the camera cannot see: their bias, drift
            and jitter grow by err.occluded_factor (smoothed in time by occlusion_memory).
    Returns:
        dict of noisy pose (B, T, 72), betas (B, T, nb), translation (B, T, 3),
        keypoints (B, T, 17, 2) px (NaN where missed), keypoint_scores (B, T, 17),
        boxes (B, T, 4), observed (B, T) bool (False: the frame was dropped), spike (B, T)
        bool (a failure frame) and source (B, T) int (whose ground truth the frame comes from:
        another row after an identity switch).
    """
    b, t = pose.shape[:2]
    nb = betas.shape[-1]
    time = np.arange(t) / float(fps)
    # Rotation error per joint: bias + slow drift + jitter (+ spikes), composed locally.
    bias = rng.normal(0, err.bias_rot, (b, 1, NUM_JOINTS, 3))
    hz = rng.uniform(*err.drift_hz, (b, 1, NUM_JOINTS, 1))
    phase = rng.uniform(0, 2 * np.pi, (b, 1, NUM_JOINTS, 3))
    wave = np.sin(2 * np.pi * hz * time[None, :, None, None] + phase)
    drift = err.drift_rot * rng.normal(0, 1, (b, 1, NUM_JOINTS, 3)) * wave
    jitter = rng.normal(0, err.jitter_rot, (b, t, NUM_JOINTS, 3))
    jitter[:, :, 0] += rng.normal(0, err.root_jitter_rot, (b, t, 3))
    spikes = _segments(rng, (b, t), err.spike_prob, err.spike_len)
    n_spiked = max(1, int(round(err.spike_joints * len(_LIMBS))))
    # A random subset of limb joints per spiked frame (argsort of uniforms = a permutation).
    pick = _LIMBS[rng.random((b, t, len(_LIMBS))).argsort(-1)[..., :n_spiked]]
    hit = np.zeros((b, t, NUM_JOINTS), bool)
    np.put_along_axis(hit, pick, True, axis=-1)
    hit &= spikes[..., None]
    spike_err = np.where(hit[..., None], rng.normal(0, err.spike_rot, (b, t, NUM_JOINTS, 3)),
                         0.0)
    steady = bias + drift + jitter
    if occluded is not None:
        # Occluded joints err more; the state is smoothed in time so that a joint flickering
        # between visible and hidden does not make its error flicker.
        occ = np.asarray(occluded, np.float64).copy()
        for f in range(1, t):
            occ[:, f] = err.occlusion_memory * occ[:, f - 1] + \
                (1 - err.occlusion_memory) * occ[:, f]
        steady = steady * (1.0 + (err.occluded_factor - 1.0) * occ)[..., None]
    noise = (steady + spike_err).astype(np.float32)
    gt_rot = axis_angle_to_matrix(torch.from_numpy(pose.reshape(b, t, NUM_JOINTS, 3)).float())
    noisy_rot = gt_rot @ axis_angle_to_matrix(torch.from_numpy(noise))
    noisy_pose = matrix_to_axis_angle(noisy_rot).reshape(b, t, -1).numpy()
    if err.flip_prob > 0:
        # Front/back confusion: a failing track's global orientation turned half around.
        half_turn = axis_angle_to_matrix(torch.tensor([0.0, np.pi, 0.0]))
        for i in np.flatnonzero(spikes.any(1) & (rng.random(b) < err.flip_prob)):
            g = axis_angle_to_matrix(torch.from_numpy(noisy_pose[i, spikes[i], :3])) @ half_turn
            noisy_pose[i, spikes[i], :3] = matrix_to_axis_angle(g).numpy()

    noisy_betas = (betas[:, None] + rng.normal(0, err.betas_bias, (b, 1, nb))
                   + rng.normal(0, err.betas_jitter, (b, t, nb))).astype(np.float32)
    depth = trans[..., 2:3]
    tn = np.concatenate([rng.normal(0, err.trans_jitter, (b, t, 2)),
                         depth * (rng.normal(0, err.depth_bias, (b, 1, 1))
                                  + rng.normal(0, err.depth_jitter, (b, t, 1)))], -1)
    noisy_trans = (trans + tn).astype(np.float32)

    size = np.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    kp_sigma = (err.kp_jitter * size)[..., None, None]
    kp = keypoints_px + rng.normal(0, 1, keypoints_px.shape) * kp_sigma
    # Spiked frames: the 2D detector struggles too (occlusion): lose half the keypoints.
    miss = rng.random(kp.shape[:3]) < err.kp_miss_prob
    miss |= spikes[..., None] & (rng.random(kp.shape[:3]) < 0.5)
    kp = np.where(miss[..., None], np.nan, kp).astype(np.float32)
    scores = np.where(miss, 0.0, rng.uniform(0.4, 1.0, kp.shape[:3])).astype(np.float32)

    out = {'pose': noisy_pose, 'betas': noisy_betas, 'translation': noisy_trans,
           'keypoints': kp, 'keypoint_scores': scores, 'boxes': boxes.astype(np.float32),
           'spike': spikes.copy(), 'source': np.repeat(np.arange(b)[:, None], t, 1)}
    # Identity switches: a few frames come from another window's person (and its position).
    if b > 1:
        for i in np.flatnonzero(rng.random(b) < err.id_switch_prob):
            j = (i + rng.integers(1, b)) % b
            n = int(rng.integers(err.id_switch_len[0], err.id_switch_len[1] + 1))
            s = int(rng.integers(0, max(1, t - n)))
            for v in out.values():
                v[i, s:s + n] = v[j, s:s + n]
    observed = ~_segments(rng, (b, t), err.drop_prob, err.drop_len)
    out['observed'] = observed
    return out


@dataclass
class TrackEstimates:
    """Simulated per-frame estimates of one scene track (camera frame, like PersonTrack)."""

    pose: np.ndarray              # (T, 72)
    betas: np.ndarray             # (T, B)
    transl: np.ndarray            # (T, 3)
    joint_confidence: np.ndarray  # (T, 24) in [0, 1]
    spike: np.ndarray             # (T,) bool: a failure frame
    source_track: np.ndarray      # (T,) int: whose estimate this frame really is


def simulate_scene(scene, rng, config=None):
    """simulate_estimates for every track of a scene (one row per person, same order).

    Occluded joints err more (scene joint codes); identity switches take frames of another
    person of the scene. Returns a list of TrackEstimates.
    """
    cfg = config or EstimatorNoiseConfig()
    people = scene.people
    if not people:
        return []
    stack = lambda key: np.stack([getattr(p, key) for p in people])  # noqa: E731
    occluded = stack('joint_codes') != 0
    est = simulate_estimates(stack('pose').astype(np.float32), stack('betas').astype(np.float32),
                             stack('transl').astype(np.float32),
                             stack('keypoints2d').astype(np.float32),
                             stack('boxes').astype(np.float32), scene.fps, rng, cfg, occluded)
    # What the model would report: lower confidence on hidden joints and in failures.
    conf = np.where(occluded, 0.35, 0.9) * np.where(est['spike'], 0.6, 1.0)[..., None]
    ids = np.array([p.track_id for p in people], np.int64)
    return [TrackEstimates(pose=est['pose'][i], betas=est['betas'][i],
                           transl=est['translation'][i],
                           joint_confidence=conf[i].astype(np.float32), spike=est['spike'][i],
                           source_track=ids[est['source'][i]])
            for i in range(len(people))]


def simulate_track(track, rng, config=None, fps=30.0):
    """simulate_scene for one track alone (no identity switches)."""
    from types import SimpleNamespace
    return simulate_scene(SimpleNamespace(people=[track], fps=fps), rng, config)[0]
