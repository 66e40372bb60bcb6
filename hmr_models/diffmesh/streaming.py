"""StreamingSmoother: DiffMesh run online, one sliding window per track, one forward per tick.

Every call of `update` adds the people of one frame to their tracks' ring buffers, builds for
each track present a window of `num_frames` samples on a regular time grid that ends at the
current stamp, runs ONE batched DiffMesh forward over all of them and returns the refined
estimate of the newest frame (low latency). With `temporal_delay_frames = d > 0`, `step` also
returns the frame d samples back, which has d frames of future context (smoother, delayed),
for every held track seen then (also one missed in this frame, or gone); at the end of a
stream `flush` gives the last d frames, which no later frame will bring.

Robustness rules (all tested):
- a track shorter than the window is padded on the left with its first frame, marked invalid;
- stamps are resampled to the grid: an observation within half a period of a grid time is
  used as is, grid times between two observations closer than `temporal_max_gap_frames`
  periods are interpolated (quaternion nlerp for rotations), grid times inside longer gaps
  copy the nearest observation and are marked invalid, so the model fills them in;
- the grid period is `temporal_frame_period`, or (0) the median interval of the track's stamps;
- tracks unseen for `temporal_track_timeout` seconds are dropped (a person coming back after
  that starts a fresh buffer); a track whose time runs backwards is reset;
- people without a track id (< 0) or with a repeated id are passed through unchanged; a new
  track starts with the untracked person of the frames just before whose box it overlaps
  (the tracker gives an id only after `track_min_hits` frames), so that its first frames
  are in its window and in the delayed stream.
"""
from collections import deque
from dataclasses import dataclass, field, replace
import logging
import time

import numpy as np
import torch

from hmr_models.config import Config
from hmr_models.types import BodyEstimate, NUM_JOINTS
from hmr_models.diffmesh.features import normalise_keypoints
from hmr_models.diffmesh.model import WindowBatch
from hmr_models.geometry.rotations import axis_angle_to_quaternion, matrix_to_axis_angle, \
    quaternion_nlerp, quaternion_to_axis_angle
from hmr_models.diffmesh.tracks import STAMP_EPS, TrackBuffer, TrackTable
from hmr_models.frontend.boxes import box_iou

log = logging.getLogger(__name__)

DEFAULT_PERIOD = 1.0 / 30.0
MIN_PERIOD, MAX_PERIOD = 1.0 / 240.0, 1.0
# Fraction of a period within which an observation is taken as the grid sample: half a
# period maps any stream with stamp jitter below that one-to-one (no blurring interpolation).
SNAP = 0.5
# A new track takes over the untracked people of the last frames before it (the tracker's
# tentative hits) whose box overlaps its own this much, at most this many frames back.
JOIN_IOU = 0.3
JOIN_FRAMES = 4


@dataclass
class StreamingConfig(Config):
    """Online smoothing settings. Same names as the hmr_node ROS parameters."""

    temporal_frame_period: float = field(default=0.0, metadata={
        'help': 'seconds between window samples; 0 = median interval of each track'})
    temporal_max_gap_frames: float = field(default=3.0, metadata={
        'help': 'observations further apart than this many periods are not interpolated: '
                'the samples between them are marked missing'})
    temporal_track_timeout: float = field(default=1.0, metadata={
        'help': 'seconds after which the buffer of an unseen track is dropped'})
    temporal_delay_frames: int = field(default=0, metadata={
        'help': '0: newest frame only; d > 0: also a fully smoothed estimate d frames late'})
    temporal_jit: bool = field(default=True, metadata={
        'help': 'trace and freeze the model with TorchScript for inference (faster on CPU)'})
    temporal_buffer_frames: int = field(default=0, metadata={
        'help': 'ring buffer length per track; 0 = twice the model window'})

    def validate(self):
        if self.temporal_frame_period < 0:
            raise ValueError('temporal_frame_period must be >= 0 (0 = automatic), got '
                             f'{self.temporal_frame_period}')
        if self.temporal_max_gap_frames < 1:
            raise ValueError('temporal_max_gap_frames must be >= 1, got '
                             f'{self.temporal_max_gap_frames}')
        if self.temporal_track_timeout <= 0:
            raise ValueError('temporal_track_timeout must be > 0 seconds, got '
                             f'{self.temporal_track_timeout}')
        if self.temporal_delay_frames < 0:
            raise ValueError(f'temporal_delay_frames must be >= 0, got '
                             f'{self.temporal_delay_frames}')


@dataclass
class WindowIndex:
    """How to read a regular grid of f samples from a track's observations.

    sample = (1 - weight) * obs[lo] + weight * obs[hi]; valid is 0 for padding and gaps.
    stamps are the grid times (seconds).
    """

    lo: np.ndarray
    hi: np.ndarray
    weight: np.ndarray
    valid: np.ndarray
    stamps: np.ndarray


def resample_index(obs_stamps, num_frames, period, max_gap_frames=3.0, snap=SNAP):
    """Grid of `num_frames` samples `period` apart ending at the newest observation.

    Args:
        obs_stamps: (n,) increasing observation times, n >= 1.
    Returns:
        WindowIndex with arrays of shape (num_frames,).
    """
    s = np.asarray(obs_stamps, np.float64)
    n = len(s)
    grid = s[-1] - period * np.arange(num_frames - 1, -1, -1, dtype=np.float64)
    hi = np.clip(np.searchsorted(s, grid, side='left'), 0, n - 1)
    lo = np.clip(hi - 1, 0, n - 1)
    # Nearest observation and whether it is close enough to stand for the grid sample.
    near = np.where(np.abs(s[lo] - grid) <= np.abs(s[hi] - grid), lo, hi)
    snapped = np.abs(s[near] - grid) <= snap * period
    span = s[hi] - s[lo]
    inside = (s[lo] <= grid) & (grid <= s[hi]) & (hi > lo)
    interp = ~snapped & inside & (span <= max_gap_frames * period + 1e-9)
    weight = np.where(interp, (grid - s[lo]) / np.maximum(span, 1e-12), 0.0)
    lo_out = np.where(interp, lo, near)
    hi_out = np.where(interp, hi, near)
    valid = (snapped | interp).astype(np.float32)
    stamps = np.where(snapped, s[near], grid)
    return WindowIndex(lo_out, hi_out, weight.astype(np.float32), valid, stamps)


def track_period(obs_stamps, fixed=0.0, fallback=DEFAULT_PERIOD):
    """The grid period of a track: `fixed` if > 0, else the median observed interval."""
    if fixed > 0:
        return float(fixed)
    if len(obs_stamps) < 2:
        return float(fallback)
    return float(np.clip(np.median(np.diff(obs_stamps)), MIN_PERIOD, MAX_PERIOD))


@dataclass
class DelayedEstimate:
    """Fully smoothed estimates of past frames: for track_ids (M,) at stamps (M,) seconds."""

    stamps: np.ndarray
    track_ids: np.ndarray
    estimate: BodyEstimate


@dataclass
class StreamingResult:
    current: BodyEstimate
    delayed: DelayedEstimate = None
    # untracked people of earlier frames a new track took over: (stamp, track id, box)
    joined: list = field(default_factory=list)


_ONNX_INPUTS = ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores', 'valid',
                'frames')


class _TracedModel(torch.nn.Module):
    """The model plus its output decoding, tensor in / tensor out so TorchScript can trace it.

    Only the window frames in `frames` (long (F,)) are decoded: axis-angle pose (M, F, 72),
    window betas (M, nb), translation (M, F, 3) and joints of the model's joint model
    (M, F, 24, 3).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pose, betas, translation, keypoints, keypoint_scores, valid, frames):
        out = self.model(WindowBatch(pose, betas, translation, keypoints, keypoint_scores,
                                     valid))
        rot = out.rotmats.index_select(1, frames)
        trans = out.translation.index_select(1, frames)
        m, f = rot.shape[:2]
        aa = matrix_to_axis_angle(rot).reshape(m, f, NUM_JOINTS * 3)
        joints = self.model.joint_model(rot, out.betas[:, None].expand(m, f, -1), trans)
        return aa, out.betas, trans, joints


class StreamingSmoother:
    """Per-track DiffMesh smoothing of a stream of per-frame estimates.

    Args:
        model: a trained hmr_models.diffmesh.DiffMesh (eval mode is set here).
        config: StreamingConfig.
        body: optional BodyModel: when given, output joints and vertices come from it;
            otherwise joints come from the model's own joint model and vertices are None.
        refiner: optional hmr_models.fitting.KeypointRefiner: the newest frame's estimate is
            fitted to that frame's keypoints (anchored at DiffMesh's output), so the smoothed
            stream does not trail the person on fast motion.
    """

    def __init__(self, model, config=None, body=None, runtime=None, refiner=None):
        self.model = model.eval()
        self.config = config or StreamingConfig()
        self.body = body
        self.refiner = refiner
        self.last_refine_ms = 0.0     # the keypoint fits (newest, delayed frame) of the last step
        cfg = model.config
        self.num_frames = cfg.num_frames
        self.delay = int(self.config.temporal_delay_frames)
        if self.delay >= self.num_frames:
            raise ValueError(f'temporal_delay_frames ({self.delay}) must be smaller than the '
                             f'model window ({self.num_frames})')
        capacity = self.config.temporal_buffer_frames or 2 * self.num_frames
        if capacity < 2:
            raise ValueError('temporal_buffer_frames must be >= 2 (0 = automatic)')
        shapes = {'pose': (NUM_JOINTS * 3,), 'betas': (cfg.num_betas,), 'translation': (3,),
                  'keypoints': (cfg.num_keypoints, 2), 'keypoint_scores': (cfg.num_keypoints,),
                  'size': (),    # log size factor a known floor gave the frame (NaN: none)
                  # the frame's own keypoints in pixels and box, for the delayed frame's fit
                  # (its scores are keypoint_scores: 0 where a keypoint is missing)
                  'pixel_keypoints': (cfg.num_keypoints, 2), 'box': (4,)}
        self.tracks = TrackTable(self.config.temporal_track_timeout,
                                 lambda: TrackBuffer(capacity, shapes))
        self._delayed_upto = -np.inf  # the newest delayed frame returned (stamps stay in order)
        self._output_like = None      # (betas width, body model, profile) of the estimates
        self._camera = None           # the newest frame's camera (the end-of-stream fits)
        self._untracked = deque(maxlen=JOIN_FRAMES)   # (stamp, rows) of the last frames
        self._eager = _TracedModel(self.model).eval()
        self._traced = None
        self._device = next(model.parameters()).device
        self._onnx = None
        if runtime is not None and runtime.backend in ('onnxruntime', 'tensorrt'):
            self._onnx = self._export(runtime)
        self.backend = 'torch' if self._onnx is None else runtime.backend
        self._graphed = None          # backend 'cuda_graphs': a graph per padded track count
        if runtime is not None and runtime.backend == 'cuda_graphs':
            from hmr_models.cuda_graphs import GraphedCallable
            self._graphed = GraphedCallable(self._eager, (True,) * 6 + (False,),
                                            capture=self._device.type == 'cuda', name='DiffMesh')
            self.backend = runtime.backend

    @property
    def counters(self):
        return self.tracks.counters

    def reset(self):
        """Forget every track (e.g. when the input stream changes)."""
        self.tracks.reset()
        self._delayed_upto = -np.inf
        self._untracked.clear()

    def update(self, stamp, track_ids, estimate, people, camera=None):
        """Smoothed estimate of the newest frame for the N people of `estimate`."""
        return self.step(stamp, track_ids, estimate, people, camera).current

    def step(self, stamp, track_ids, estimate, people, camera=None):
        """Add one frame; return the newest smoothed estimate and, if configured, the delayed one.

        Args:
            stamp: frame time in seconds.
            track_ids: (N,) int track ids (-1 = untracked), aligned with `estimate` and `people`.
            estimate: BodyEstimate of the per-frame model for these N people.
            people: People of the front-end (boxes and keypoints; used as model inputs).
            camera: CameraIntrinsics of the frame; with a `refiner`, the newest estimate is
                fitted to these people's keypoints through it (None: no fit).
        """
        stamp = float(stamp)
        self.last_refine_ms = 0.0
        n = len(estimate)
        if len(people) != n or len(track_ids) != n:
            raise ValueError(f'estimate ({n}), people ({len(people)}) and track_ids '
                             f'({len(track_ids)}) must describe the same people')
        out = _copy_estimate(estimate)
        idx, ids, states = self.tracks.assign(stamp, track_ids)
        # Untracked people pass through as the per-frame model estimated them, flagged so.
        out.temporal = np.zeros(n, bool)
        out.temporal[idx] = True
        rows = self._buffer_rows(estimate, people)
        untracked = [rows[i] for i in sorted(set(range(n)) - set(idx.tolist()))]
        if len(idx) == 0:
            self._untracked.append((stamp, untracked))
            return StreamingResult(out, self._delayed_step(stamp, None, camera))
        self._output_like = (out.betas.shape[1], estimate.body_model, estimate.model_profile)
        self._camera = camera
        joined = []
        for i, tid, buf in zip(idx, ids, states):
            if buf.size == 0:            # a new track: its tentative frames first
                for earlier, row in self._take_untracked(stamp, rows[i]['box']):
                    buf.push(earlier, **row)
                    joined.append((earlier, int(tid), row['box']))
            buf.push(stamp, **rows[i])
        self._untracked.append((stamp, untracked))
        windows = [self._window(buf) for buf in states]
        batch = gather_windows([buf.views() for buf in states], windows)
        last = self.num_frames - 1
        frames = [last, last - self.delay] if self.delay else [last]
        pose, betas, translation, joints = self._forward(batch, frames)
        betas = fit_betas(betas, out.betas.shape[1])

        out.pose[idx] = pose[:, 0]
        out.betas[idx] = betas
        out.translation[idx] = translation[:, 0]
        if self._fits(camera):
            out.pose[idx], out.betas[idx], out.translation[idx], scale = self._fit(
                out.pose[idx], out.betas[idx], out.translation[idx], people.keypoints[idx],
                people.keypoint_scores[idx], people.boxes[idx], states, camera)
            if scale is not None:
                out.size = np.full(n, np.nan, np.float32) if out.size is None \
                    else out.size.copy()
                out.size[idx] = scale
        if self.body is not None:
            out.joints, out.vertices = self._posed(out.pose, out.betas, out.translation)
        else:
            out.joints[idx] = joints[:, 0]
            # No body model: the smoothed people have no mesh; drop the stale per-frame ones.
            out.vertices = None
        present = None
        if self.delay:
            sizes = np.full(len(idx), np.nan, np.float32) if out.size is None else out.size[idx]
            present = ((pose[:, 1], betas, translation[:, 1], joints[:, 1]), states, windows,
                       ids, sizes, np.full(len(idx), last - self.delay))
        return StreamingResult(out, self._delayed_step(stamp, present, camera), joined)

    def flush(self):
        """The delayed estimates still owed at the end of a stream: a DelayedEstimate or None.

        `step` gives each frame `delay` frames late, so a stream's last `delay` frames get no
        delayed estimate from it. Here every track still held estimates them from the window
        it has, with what future context that holds (less towards its newest frame), fitted
        to their frames' keypoints as in `step`. Only frames after the newest delayed frame
        already given come out, so that stamps stay in order (a track that ended earlier
        had its last frames given by the steps after it); a second call gives nothing new.
        """
        if not self.delay or self._output_like is None or not len(self.tracks):
            return None
        ids = list(self.tracks.states)
        states = [self.tracks.states[t] for t in ids]
        last = self.num_frames - 1
        owed = list(range(last - self.delay + 1, last + 1))
        # every track's last `delay` samples (_delayed keeps those newer than any given)
        return self._delayed(*self._rows(ids, states, [self._window(buf) for buf in states],
                                         [owed] * len(states)), self._camera)

    # ---- internals -------------------------------------------------------------------------

    def _buffer_rows(self, estimate, people):
        """What a track buffer keeps of each of the N people of a frame (a dict each)."""
        n = len(estimate)
        if n == 0:
            return []
        kp, kps = normalise_keypoints(people.keypoints, people.keypoint_scores, people.boxes)
        nb = self.model.config.num_betas
        betas_in, transl_in = self._usual_size(estimate, np.arange(n))
        size = np.full(n, np.nan, np.float32) if estimate.size is None else estimate.size
        return [dict(pose=estimate.pose[i].copy(), betas=fit_betas(betas_in[i], nb),
                     translation=transl_in[i].copy(), keypoints=kp[i], keypoint_scores=kps[i],
                     size=size[i], pixel_keypoints=people.keypoints[i].copy(),
                     box=people.boxes[i].copy()) for i in range(n)]

    def _take_untracked(self, stamp, box):
        """The untracked people of the frames just before `stamp` that a new track follows.

        Walks back frame by frame from the newest, each time taking the untracked person whose
        box overlaps the one after it most (IoU >= JOIN_IOU), and stops at the first frame
        without one. Returns [(stamp, row)] oldest first; the rows taken are removed.
        """
        chain = []
        for earlier, rows in reversed(self._untracked):
            if earlier >= stamp - STAMP_EPS or not rows or \
                    earlier < stamp - self.config.temporal_track_timeout:
                break
            iou = box_iou(box, np.stack([r['box'] for r in rows]))[0]
            best = int(np.argmax(iou))
            if iou[best] < JOIN_IOU:
                break
            row = rows.pop(best)
            chain.append((earlier, row))
            box, stamp = row['box'], earlier
        return chain[::-1]

    def _window(self, buf):
        """A track's window: its grid of `num_frames` samples ending at its last observation."""
        obs = buf.observed_stamps()
        return resample_index(obs, self.num_frames,
                              track_period(obs, self.config.temporal_frame_period),
                              self.config.temporal_max_gap_frames)

    def _delayed_step(self, stamp, present, camera):
        """This step's DelayedEstimate (or None): the frame `delay` samples back of every track.

        present: the rows of the tracks in this frame (decoded, states, windows, ids, sizes,
        window samples), or None. A held track that is not in this frame (missed by the
        detector, or gone) still has its frame of that time estimated, from its own window
        (which ends at its last observation), so that a person is not left out of the
        delayed stream for a frame the detector missed later.
        """
        if not self.delay or self._output_like is None:
            return None
        absent = self._absent_rows(stamp, set() if present is None else set(present[3].tolist()))
        rows = [r for r in (present, absent) if r is not None]
        if not rows:
            return None
        decoded = tuple(np.concatenate([r[0][i] for r in rows]) for i in range(4))
        states = [s for r in rows for s in r[1]]
        windows = [w for r in rows for w in r[2]]
        ids, sizes, ks = (np.concatenate([r[i] for r in rows]) for i in (3, 4, 5))
        return self._delayed(decoded, states, windows, ids, sizes, ks, camera)

    def _absent_rows(self, stamp, present):
        """Rows (as `_delayed_step` takes them) of held tracks absent now, seen back then.

        The tracks not in this frame that were seen at the delayed frame's time; None if none.
        """
        found = []
        for tid, buf in self.tracks.states.items():
            if tid in present:
                continue
            period = track_period(buf.observed_stamps(), self.config.temporal_frame_period)
            target = stamp - self.delay * period
            if buf.last_stamp < target - SNAP * period:
                continue        # seen last before that time: its frames have all been given
            w = self._window(buf)
            k = int(np.argmin(np.abs(w.stamps - target)))
            if abs(w.stamps[k] - target) <= SNAP * period:
                found.append((tid, buf, w, k))
        if not found:
            return None
        ids, states, windows, ks = zip(*found)
        return self._rows(ids, states, windows, [[k] for k in ks])

    def _rows(self, ids, states, windows, samples):
        """Rows for `_delayed`: the window samples `samples[i]` (a list) of each track i.

        One DiffMesh pass over the tracks decodes every sample asked for.
        """
        wanted = sorted({k for ks in samples for k in ks})
        pose, betas, translation, joints = self._forward_frames(
            gather_windows([buf.views() for buf in states], windows), wanted)
        t = np.array([i for i, ks in enumerate(samples) for _ in ks], np.int64)
        k = np.array([k for ks in samples for k in ks], np.int64)
        c = np.searchsorted(wanted, k)
        decoded = (pose[t, c], fit_betas(betas, self._output_like[0])[t], translation[t, c],
                   joints[t, c])
        sizes = np.array([_track_size(states[i]) for i in t], np.float32)
        return (decoded, [states[i] for i in t], [windows[i] for i in t],
                np.asarray(ids, np.int64)[t], sizes, k)

    def _delayed(self, decoded, states, windows, ids, sizes, ks, camera):
        """DelayedEstimate of window samples `ks` (one per row: a track and its window), or None.

        decoded: DiffMesh's pose, betas, translation, joints of each row's sample; sizes: the
        rows' sizes (None: no floor). Only samples on or between observed frames (valid), and
        later than every delayed frame given before, are given.
        """
        # a frame already given (an end of stream announced too early) is not given again:
        # the delayed stream's stamps only go forward
        ok = np.array([w.valid[k] > 0 and w.stamps[k] > self._delayed_upto + STAMP_EPS
                       for w, k in zip(windows, ks)])
        if not ok.any():
            return None
        ks, windows = ks[ok], [w for w, o in zip(windows, ok) if o]
        pose, betas, transl, joints = (x[ok] for x in decoded)
        size = None if sizes is None else sizes[ok]
        if self._fits(camera):
            # fitted to its own frame's keypoints, as the newest frame is: DiffMesh alone
            # drifts off the body (real footage: 4-6x the per-frame 2D error)
            pose, betas, transl, size = self._fit_delayed(
                [s for s, o in zip(states, ok) if o], windows, ks, pose, betas, transl, camera)
        elif size is not None and np.isfinite(size).any():      # the track's size
            betas, transl = self._sized(betas, transl, np.nan_to_num(size))
        verts = None
        if self.body is not None:
            joints, verts = self._posed(pose, betas, transl)
        _, body_model, profile = self._output_like
        est = BodyEstimate(pose, betas, transl, joints,
                           np.ones((len(pose), NUM_JOINTS), np.float32), verts,
                           temporal=True, body_model=body_model, model_profile=profile,
                           size=size)
        stamps = np.array([w.stamps[k] for w, k in zip(windows, ks)])
        self._delayed_upto = max(self._delayed_upto, float(stamps.max()))
        return DelayedEstimate(stamps, ids[ok], est)

    def _fits(self, camera):
        return self.refiner is not None and self.refiner.config.enabled and camera is not None

    def _fit(self, pose, betas, translation, keypoints, scores, boxes, states, camera):
        """The smoothed stream's keypoint fit of the tracks `states` (timed in last_refine_ms).

        Each is sized by its track's median size. Returns pose, betas, translation and the
        sizes the fit gave (None: no floor).
        """
        t0 = time.perf_counter()
        cfg = self.refiner.config
        fit = self.refiner.refine(pose, betas, translation, keypoints, scores, boxes, camera,
                                  iterations=cfg.refine_smoothed_iterations,
                                  keypoint_sigma=cfg.refine_smoothed_keypoint_sigma,
                                  size=[_track_size(s) for s in states])
        scale = np.asarray(fit.scale, np.float32) if np.isfinite(fit.scale).any() else None
        self.last_refine_ms += 1e3 * (time.perf_counter() - t0)
        return fit.pose, fit.betas, fit.translation, scale

    def _fit_delayed(self, states, windows, ks, pose, betas, translation, camera):
        """The delayed frame's estimates fitted to the keypoints of the frame they stand for.

        A window sample between two observations takes the nearer one's keypoints (a delayed
        estimate is published only for a sample on an observed frame). The camera is the
        newest frame's: one camera per stream.
        """
        near = [w.hi[k] if w.weight[k] >= 0.5 else w.lo[k] for w, k in zip(windows, ks)]

        def take(key):
            return np.stack([s.view(key)[i] for s, i in zip(states, near)])
        return self._fit(pose, betas, translation, take('pixel_keypoints'),
                         take('keypoint_scores'), take('box'), states, camera)

    def _usual_size(self, estimate, idx):
        """Betas and translations of people `idx` without the size a known floor gave them.

        DiffMesh was trained on the body model's usual sizes: fed floor-sized people (betas far
        out) it lost 2-3 mm PA-MPJPE on real footage (docs/RESULTS.md). The smoothed fit sizes
        the output again, by the track's median size.
        """
        betas, transl = estimate.betas[idx], estimate.translation[idx]
        if estimate.size is None or self.refiner is None or \
                not np.isfinite(estimate.size[idx]).any():
            return betas, transl
        return self._sized(betas, transl, -np.nan_to_num(estimate.size[idx]))

    def _sized(self, betas, transl, ell):
        nb = self.refiner.num_betas
        b = fit_betas(betas, nb).astype(np.float64)
        b, t = self.refiner.floor.rescale(b, transl, ell)
        return fit_betas(b.astype(np.float32), betas.shape[1]), t.astype(np.float32)

    def _export(self, runtime, tracks=2):
        """An OnnxRunner of the model and its decoding, or None (then torch runs it)."""
        from hmr_models.onnx_runner import ExportError, OnnxRunner
        cfg, f = self.model.config, self.num_frames
        # Any number of decoded frames (a dynamic axis): one file serves every delay, so a node
        # started with delay_frames > 0 does not export (and simplify) a second one.
        frames = [f - 1, f - 2]
        example = (torch.zeros(tracks, f, NUM_JOINTS * 3), torch.zeros(tracks, f, cfg.num_betas),
                   torch.zeros(tracks, f, 3) + torch.tensor([0.0, 0.0, 4.0]),
                   torch.full((tracks, f, cfg.num_keypoints, 2), 0.5),
                   torch.ones(tracks, f, cfg.num_keypoints), torch.ones(tracks, f),
                   torch.as_tensor(frames, dtype=torch.long))
        names = list(_ONNX_INPUTS)
        outputs = ['pose_out', 'betas_out', 'translation_out', 'joints_out']
        dynamic = {n: {0: 'tracks'} for n in names[:6] + outputs}
        dynamic.update({n: {0: 'tracks', 1: 'frames'} for n in outputs if n != 'betas_out'})
        dynamic['frames'] = {0: 'frames'}
        try:
            return OnnxRunner(self._eager.cpu(), example, names, outputs, dynamic, runtime,
                              'diffmesh', simplify=True)   # it runs every frame
        except ExportError as exc:
            log.warning('DiffMesh runs with torch: the %s backend could not use it (%s)',
                        runtime.backend, exc)
            return None

    @torch.inference_mode()
    def _forward(self, batch, frames):
        """Decoded outputs of the given window frames, as numpy (see _TracedModel)."""
        if self._onnx is not None:
            arrays = {k: getattr(batch, k) for k in _ONNX_INPUTS[:6]}
            outs = self._onnx(frames=np.asarray(frames, np.int64), **arrays)
            return tuple(np.asarray(x, np.float32) for x in outs)
        tensors = [torch.from_numpy(getattr(batch, k)).to(self._device) for k in
                   ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores', 'valid')]
        tensors.append(torch.as_tensor(frames, dtype=torch.long, device=self._device))
        if self._graphed is not None:
            return tuple(x.cpu().numpy().astype(np.float32) for x in self._graphed(*tensors))
        if self.config.temporal_jit and self._traced is None:
            self._traced = self._trace(tensors)
        run = self._traced or self._eager
        return tuple(x.cpu().numpy().astype(np.float32) for x in run(*tensors))

    def _forward_frames(self, batch, frames):
        """`_forward` of any number of window frames, two at a time.

        The exported and graphed models take exactly the frames they were built with (two
        with a delay); an odd last one is run as a pair with itself.
        """
        frames = list(frames)
        parts = [self._forward(batch, (frames[i:i + 2] * 2)[:2])
                 for i in range(0, len(frames), 2)]
        pose, translation, joints = (np.concatenate([p[j] for p in parts], axis=1)[:, :len(frames)]
                                     for j in (0, 2, 3))
        return pose, parts[0][1], translation, joints

    def _trace(self, tensors):
        """TorchScript trace + freeze (about a third faster on CPU); False if it fails."""
        try:
            import warnings
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter('ignore', torch.jit.TracerWarning)
                # torch 2.13 marks TorchScript deprecated; it still runs fastest here.
                warnings.simplefilter('ignore', DeprecationWarning)
                traced = torch.jit.trace(self._eager, tuple(tensors), check_trace=False)
                return torch.jit.freeze(traced)
        except Exception as exc:  # noqa: BLE001 - any tracing failure means: run eager
            log.warning('TorchScript tracing of DiffMesh failed (%s): running eager', exc)
            return False

    def _posed(self, pose, betas, translation):
        """Joints (M, 24, 3) and vertices (M, V, 3) of M parameter sets, from the body."""
        t = [torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(self.body.device)
             for a in (pose, betas, translation)]
        with torch.inference_mode():
            vertices, joints = self.body(*t).numpy()
        return joints, vertices


def _track_size(buf):
    """A track's log size factor: the median of its buffered frames' (NaN if none had one).

    A person's size does not change; a frame's estimate from the floor jitters with the ankles.
    """
    sizes = buf.view('size')
    sizes = sizes[np.isfinite(sizes)]
    return float(np.median(sizes)) if len(sizes) else np.nan


def fit_betas(betas, nb):
    """Betas (..., k) cut or zero-padded to (..., nb)."""
    betas = np.asarray(betas, np.float32)
    out = np.zeros(betas.shape[:-1] + (nb,), np.float32)
    k = min(nb, betas.shape[-1])
    out[..., :k] = betas[..., :k]
    return out


def gather_windows(sources, windows):
    """Resample M tracks' observations onto their grids and stack them: a numpy WindowBatch.

    Args:
        sources: M dicts of observation arrays with keys pose (n, 72), betas (n, nb),
            translation (n, 3), keypoints (n, K, 2), keypoint_scores (n, K).
        windows: M WindowIndex (resample_index) of T samples each.
    Returns:
        WindowBatch of numpy float32 arrays (M, T, ...). Rotations are interpolated as
        quaternions (nlerp), everything else linearly.
    """
    weight = np.stack([w.weight for w in windows]).astype(np.float32)  # (M, T)

    def take(key):
        lo = np.stack([src[key][w.lo] for src, w in zip(sources, windows)])
        hi = np.stack([src[key][w.hi] for src, w in zip(sources, windows)])
        return lo, hi

    out = {}
    for key in ('betas', 'translation', 'keypoints', 'keypoint_scores'):
        lo, hi = take(key)
        wb = weight.reshape(weight.shape + (1,) * (lo.ndim - 2))
        out[key] = ((1.0 - wb) * lo + wb * hi).astype(np.float32)
    lo, hi = take('pose')
    m, t = weight.shape
    if np.any(weight > 0):
        q0 = axis_angle_to_quaternion(torch.from_numpy(lo).float().view(m, t, NUM_JOINTS, 3))
        q1 = axis_angle_to_quaternion(torch.from_numpy(hi).float().view(m, t, NUM_JOINTS, 3))
        w = torch.from_numpy(weight)[..., None].expand(m, t, NUM_JOINTS)
        pose = quaternion_to_axis_angle(quaternion_nlerp(q0, q1, w)).reshape(m, t, -1).numpy()
    else:
        pose = lo
    valid = np.stack([w.valid for w in windows]).astype(np.float32)
    return WindowBatch(pose.astype(np.float32), out['betas'], out['translation'],
                       out['keypoints'], out['keypoint_scores'], valid)


def _copy_estimate(est):
    return replace(est, pose=est.pose.copy(), betas=est.betas.copy(),
                   translation=est.translation.copy(), joints=est.joints.copy(),
                   joint_confidence=est.joint_confidence.copy(),
                   vertices=None if est.vertices is None else est.vertices.copy())
