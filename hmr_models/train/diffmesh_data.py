"""DiffMesh's training windows.

Motions seen by random cameras with simulated per-frame estimates (hmr_models.data.synth:
sequences, estimator_noise, camera), and tracks of real per-frame predictions on synthetic
scenes (hmr_models.data.synth.estimates). Windows are built by the very functions the streaming
smoother uses at run time (`resample_index` + `gather_windows`), so training sees what
inference sees.
"""
from dataclasses import dataclass, field
import logging

import numpy as np
import torch

from hmr_models.data.mocap.classes import clip_sampling_weights, motion_class_of
from hmr_models.data.synth.camera import PersonCameraConfig
from hmr_models.data.synth.estimator_noise import EstimatorNoiseConfig
from hmr_models.data.synth.sequences import simulate_sequences
from hmr_models.diffmesh.features import normalise_keypoints
from hmr_models.diffmesh.model import WindowBatch
from hmr_models.diffmesh.streaming import fit_betas, gather_windows, resample_index
from hmr_models.skeleton import mirror_pose
from hmr_models.types import NUM_JOINTS, NUM_KEYPOINTS

log = logging.getLogger(__name__)


@dataclass
class TrainBatch:
    """Model inputs and ground truth.

    inputs WindowBatch (B, T, ...); target_pose (B, T, 72) and target_translation (B, T, 3)
    in the camera frame; target_betas (B, nb); mask (B, T) 1 where the frame has ground truth
    (0 for padding before the track started).
    """

    inputs: WindowBatch
    target_pose: np.ndarray
    target_betas: np.ndarray
    target_translation: np.ndarray
    mask: np.ndarray

    def torch(self, device='cpu'):
        t = (lambda a: torch.as_tensor(a, dtype=torch.float32, device=device))
        return TrainBatch(self.inputs.to(device) if torch.is_tensor(self.inputs.pose) else
                          WindowBatch(*(t(getattr(self.inputs, k)) for k in
                                        ('pose', 'betas', 'translation', 'keypoints',
                                         'keypoint_scores', 'valid'))),
                          t(self.target_pose), t(self.target_betas),
                          t(self.target_translation), t(self.mask))


def mirror_motion(pose, trans):
    """Left/right mirror of SMPL poses (..., 72) and translations (..., 3) (world x -> -x)."""
    return mirror_pose(pose), trans * np.array([-1.0, 1.0, 1.0], np.float32)


class WindowSampler:
    """Random training windows from a list of motions.

    Args:
        motions: objects with pose (T, 72), trans (T, 3) world arrays and fps (e.g.
            hmr_models.data.mocap.SMPLMotion); they are used at `fps` (nearest-frame
            resampling if a clip's rate differs).
        joint_model: JointModel of the training body.
        num_frames: window length (the model's f).
        strides: frame strides sampled per window: 1, 2, 3 at 30 fps = cameras at 30/15/10 fps.
        max_gap_frames: as StreamingConfig.temporal_max_gap_frames at run time.
    """

    def __init__(self, motions, joint_model, num_frames=16, fps=30.0, strides=(1, 2, 3),
                 mirror=True, betas_std=1.0, camera=None, errors=None, max_gap_frames=3.0,
                 class_weights=None):
        self.joint_model = joint_model
        self.num_frames = int(num_frames)
        self.fps = float(fps)
        self.strides = tuple(int(s) for s in strides)
        self.mirror = mirror
        self.betas_std = betas_std
        self.camera = camera or PersonCameraConfig()
        self.errors = errors or EstimatorNoiseConfig()
        self.max_gap_frames = max_gap_frames
        need = (self.num_frames - 1) * min(self.strides) + 1
        self.clips, classes = [], []
        for m in motions:
            pose, trans = _at_fps(m, self.fps)
            if len(pose) >= need:
                self.clips.append((pose, trans))
                classes.append(motion_class_of(getattr(m, 'meta', None)))
        if not self.clips:
            raise ValueError(f'no motion has the {need} frames a window needs at {self.fps} fps')
        lengths = np.array([len(p) for p, _ in self.clips], np.float64)
        # Every frame alike, or classes in the given shares (class_weights, see
        # hmr_models.data.mocap.classes).
        self.weights = clip_sampling_weights(lengths, classes, class_weights, power=1.0)
        log.info('WindowSampler: %d clips, %.1f min at %g fps', len(self.clips),
                 lengths.sum() / self.fps / 60.0, self.fps)

    def sample(self, batch_size, rng):
        """One TrainBatch of `batch_size` windows (numpy)."""
        f = self.num_frames
        nb = self.joint_model.num_betas
        strides = rng.choice(self.strides, batch_size)
        pose_w = np.zeros((batch_size, f, 72), np.float32)
        trans_w = np.zeros((batch_size, f, 3), np.float32)
        for i, s in enumerate(strides):
            s = int(s)
            for _ in range(100):
                pose, trans = self.clips[rng.choice(len(self.clips), p=self.weights)]
                span = (f - 1) * s + 1
                if len(pose) >= span:
                    break
            else:
                s, span = min(self.strides), (f - 1) * min(self.strides) + 1
                strides[i] = s
            start = int(rng.integers(0, len(pose) - span + 1))
            pose_w[i] = pose[start:start + span:s]
            trans_w[i] = trans[start:start + span:s]
        if self.mirror:
            flip = rng.random(batch_size) < 0.5
            pose_w[flip], trans_w[flip] = mirror_motion(pose_w[flip], trans_w[flip])
        betas = np.clip(rng.normal(0, self.betas_std, (batch_size, nb)), -2.5, 2.5)
        betas = betas.astype(np.float32)
        # Drift frequencies are per second: the window's own rate is fps / stride; one rate
        # per batch is close enough for the error model.
        gt, est = simulate_sequences(pose_w, trans_w, betas, self.joint_model,
                                     self.fps / float(np.mean(strides)), rng, self.camera,
                                     self.errors)
        return self._windows(gt, est, strides, rng)

    def _windows(self, gt, est, strides, rng):
        return make_windows(gt, est, np.asarray(strides, np.float64) / self.fps, rng,
                            self.errors.short_track_prob, self.max_gap_frames)


def make_windows(gt, est, periods, rng, short_track_prob=0.2, max_gap_frames=3.0):
    """A TrainBatch of B windows of f frames, built as the streaming smoother builds them.

    gt: pose (B, f, 72), betas (B, nb), trans (B, f, 3) camera-frame ground truth. est:
    observed (B, f) bool, pose (B, f, 72), betas (B, f, nb), translation (B, f, 3), keypoints
    (B, f, 17, 2) pixels (NaN missing), keypoint_scores (B, f, 17), boxes (B, f, 4): the
    per-frame estimates and detections (values of unobserved frames are ignored). periods:
    (B,) seconds between frames. With probability short_track_prob a window's track starts
    inside it (earlier frames unobserved and without ground truth).
    """
    b, f = gt['pose'].shape[:2]
    observed = est['observed'].copy()
    observed[:, -1] = True  # the window ends at the frame being smoothed: always seen
    mask = np.ones((b, f), np.float32)
    short = rng.random(b) < short_track_prob
    for i in np.flatnonzero(short):
        first = int(rng.integers(1, f))  # the track starts at frame `first`
        observed[i, :first] = False
        mask[i, :first] = 0.0
    kp, kps = normalise_keypoints(est['keypoints'].reshape(-1, NUM_KEYPOINTS, 2),
                                  est['keypoint_scores'].reshape(-1, NUM_KEYPOINTS),
                                  est['boxes'].reshape(-1, 4))
    kp = kp.reshape(b, f, NUM_KEYPOINTS, 2)
    kps = kps.reshape(b, f, NUM_KEYPOINTS)
    sources, windows = [], []
    for i in range(b):
        obs = np.flatnonzero(observed[i])
        period = float(periods[i])
        sources.append({'pose': est['pose'][i, obs], 'betas': est['betas'][i, obs],
                        'translation': est['translation'][i, obs],
                        'keypoints': kp[i, obs], 'keypoint_scores': kps[i, obs]})
        windows.append(resample_index(obs * period, f, period, max_gap_frames))
    inputs = gather_windows(sources, windows)
    return TrainBatch(inputs, gt['pose'].astype(np.float32), gt['betas'].astype(np.float32),
                      gt['trans'].astype(np.float32), mask)


class TrackWindowSampler:
    """Training windows cut from the per-frame model's real estimates over synthetic scenes.

    Args:
        tracks: dict of arrays from hmr_models.data.synth.estimates.load_tracks.
        num_betas: the model's betas (estimates and ground truth are cut or zero-padded).
        num_frames, strides, max_gap_frames: as WindowSampler.
        short_track_prob: as EstimatorNoiseConfig.short_track_prob.
    Windows end at a frame where the person was detected (the frame the stream publishes);
    frames the detector missed are gaps, exactly as at run time.
    """

    def __init__(self, tracks, num_betas, num_frames=16, strides=(1, 2, 3),
                 short_track_prob=0.2, max_gap_frames=3.0):
        self.tracks = tracks
        self.num_betas = int(num_betas)
        self.num_frames = int(num_frames)
        self.strides = tuple(int(s) for s in strides)
        self.short_track_prob = short_track_prob
        self.max_gap_frames = max_gap_frames
        t = tracks['observed'].shape[1]
        need = (self.num_frames - 1) * min(self.strides) + 1
        if t < need:
            raise ValueError(f'tracks of {t} frames are shorter than a window ({need} frames)')
        # Possible window ends per track: observed frames with a full window before them.
        ends = tracks['observed'].copy()
        ends[:, :need - 1] = False
        counts = ends.sum(1).astype(np.float64)
        if counts.sum() == 0:
            raise ValueError('no track is observed late enough for one window')
        self.weights = counts / counts.sum()
        log.info('TrackWindowSampler: %d tracks, %d window ends', len(counts), int(counts.sum()))

    def sample(self, batch_size, rng):
        f, tr = self.num_frames, self.tracks
        t = tr['observed'].shape[1]
        rows = rng.choice(len(self.weights), batch_size, p=self.weights)
        strides = rng.choice(self.strides, batch_size)
        idx = np.zeros((batch_size, f), np.int64)

        def ends(r, s):            # observed frames with a whole window of stride s before them
            first = (f - 1) * s
            return np.flatnonzero(tr['observed'][r, first:]) + first

        for i, (r, s) in enumerate(zip(rows, strides)):
            s = int(s)
            choices = ends(r, s)
            if len(choices) == 0:        # only the smallest stride fits this track
                s = strides[i] = min(self.strides)
                choices = ends(r, s)
            idx[i] = int(rng.choice(choices)) - (f - 1) * s + np.arange(f) * s
        assert idx.min() >= 0 and idx.max() < t
        take = lambda key: tr[key][rows[:, None], idx]  # noqa: E731
        gt = {'pose': take('gt_pose'), 'trans': take('gt_transl'),
              'betas': fit_betas(tr['gt_betas'][rows], self.num_betas)}
        est = {'observed': take('observed'), 'pose': take('est_pose'),
               'betas': fit_betas(take('est_betas'), self.num_betas),
               'translation': take('est_transl'), 'keypoints': take('keypoints'),
               'keypoint_scores': take('keypoint_scores'), 'boxes': take('boxes')}
        periods = strides / tr['fps'][rows].astype(np.float64)
        return make_windows(gt, est, periods, rng, self.short_track_prob, self.max_gap_frames)


class MixedSampler:
    """Windows from several samplers in fixed shares of every batch (e.g. real + simulated)."""

    def __init__(self, samplers, shares):
        if len(samplers) != len(shares) or not samplers:
            raise ValueError('MixedSampler needs one share per sampler')
        total = float(sum(shares))
        self.samplers = list(samplers)
        self.shares = [float(s) / total for s in shares]

    def sample(self, batch_size, rng):
        counts = np.floor(np.array(self.shares) * batch_size).astype(int)
        counts[0] += batch_size - counts.sum()
        parts = [s.sample(int(n), rng) for s, n in zip(self.samplers, counts) if n > 0]
        cat = lambda xs: np.concatenate(xs)  # noqa: E731
        inputs = WindowBatch(*(cat([getattr(p.inputs, k) for p in parts]) for k in
                               ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores',
                                'valid')))
        return TrainBatch(inputs, cat([p.target_pose for p in parts]),
                          cat([p.target_betas for p in parts]),
                          cat([p.target_translation for p in parts]),
                          cat([p.mask for p in parts]))


def _at_fps(motion, fps):
    """(pose, trans) of a motion at `fps` (nearest frame when its own rate differs)."""
    pose = np.asarray(motion.pose, np.float32).reshape(-1, 72)
    trans = np.asarray(motion.trans, np.float32).reshape(-1, 3)
    src = float(getattr(motion, 'fps', fps))
    if abs(src - fps) < 1e-3:
        return pose, trans
    idx = np.round(np.arange(0, len(pose) * fps / src) * src / fps).astype(np.int64)
    idx = idx[idx < len(pose)]
    return pose[idx], trans[idx]


@dataclass
class SyntheticMotion:
    """A smooth random motion (sums of sinusoids per joint).

    For tests and smoke runs, not a substitute for motion capture.
    """

    pose: np.ndarray
    trans: np.ndarray
    fps: float = 30.0
    name: str = 'synthetic'
    meta: dict = field(default_factory=dict)


def smooth_random_motion(num_frames, rng, fps=30.0, amplitude=0.35, max_hz=1.2, walk=True):
    """A SyntheticMotion of `num_frames` frames.

    Every joint rotates smoothly, the body turns slowly and (walk=True) moves across the
    floor.
    """
    time = np.arange(num_frames) / fps
    hz = rng.uniform(0.1, max_hz, (1, NUM_JOINTS, 3, 2))
    amp = rng.uniform(0, amplitude, (1, NUM_JOINTS, 3, 2)) / 2
    phase = rng.uniform(0, 2 * np.pi, (1, NUM_JOINTS, 3, 2))
    aa = (amp * np.sin(2 * np.pi * hz * time[:, None, None, None] + phase)).sum(-1)
    aa[:, 0] = 0.0
    heading = rng.uniform(-np.pi, np.pi) + 0.3 * np.sin(2 * np.pi * 0.1 * time)
    aa[:, 0, 1] = heading
    speed = rng.uniform(0.0, 1.2) if walk else 0.0
    dirn = rng.uniform(-np.pi, np.pi)
    trans = np.zeros((num_frames, 3), np.float32)
    trans[:, 0] = speed * time * np.cos(dirn)
    trans[:, 2] = speed * time * np.sin(dirn)
    trans[:, 1] = 0.9 + 0.02 * np.sin(2 * np.pi * 1.5 * time)
    return SyntheticMotion(aa.reshape(num_frames, 72).astype(np.float32), trans, fps)
