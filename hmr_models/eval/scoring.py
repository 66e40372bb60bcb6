"""Score replayed sequences: mesh accuracy, detection, tracking, timing, smoothness, 2D agreement.

Input: `hmr_models.eval.sequence.Sequence` objects (the node's streams, optional ground truth).
Output: an `EvalResult` (summary, per sequence, per track, per frame and per person-frame rows,
and what the report plots). Conventions (written into the result as `conventions`):

- Prediction <-> ground truth, per frame: maximum-similarity one-to-one matching (Hungarian) on
  OKS of the predicted COCO-17 keypoints against the ground truth's visible ones (scale: the
  ground-truth box area; a missing predicted keypoint scores 0), threshold `match_threshold`;
  `match: iou` uses box IoU instead; `match: ids` pairs equal track ids (predictions that
  carry ground-truth ids, e.g. hmr_node fed the simulated detections: a perfect tracker).
- Ground-truth people with fewer than `min_visible_keypoints` visible keypoints in the image
  are 'ignore' for detection and tracking (neither finding nor missing them counts); a mesh
  estimated for them is still scored, like every matched person.
- Occluded joint (OCC-MPJPE, occlusion levels): ground-truth joint_confidence < 0.5 and the
  joint projects inside the image (SynthOcc's bags write 1 = visible, 0 = hidden; a 3DPW
  conversion has no occlusion labels: all 1).
- MPJPE / MPVE after pelvis alignment, PA-MPJPE after Procrustes, CAM-MPJPE without any
  alignment (where the body is in the camera frame: what a robot acts on), ACC-ERR per ground-truth
  track over runs of three consecutive bag frames with a matched estimate (mm/frame^2), as
  benchmarks/eval_synthocc_sequences.py computes them; millimetres throughout.
- Tracking metrics use predictions with a track id (>= 0); untracked people count for detection.
- Without ground truth: rates and latency on the recorder's clock (message arrival), drops,
  people per frame, track lengths and fragments, jitter (joint acceleration of each predicted
  track, pelvis-aligned, mm/frame^2, and of its pelvis in the camera frame), and 2D agreement
  (COCO-17 keypoints of the mesh projected into the image vs the keypoints it was made from,
  in % of the box height, keypoints scored >= 0.3).
"""
from dataclasses import asdict, dataclass, field
import math

import numpy as np

from hmr_models.config import Config
from hmr_models.eval.metrics import (acceleration_errors, keypoint_agreement_2d,
                                     per_joint_error, procrustes_align)
from hmr_models.eval.tracking import assign, clear_mot, idf1, TrackingFrame
from hmr_models.types import CameraIntrinsics

MM = 1000.0
STREAMS = ('persons', 'persons_smoothed', 'persons_delayed')
OCCLUSION_BINS = (0.0, 1e-9, 0.25, 0.5, 1.0 + 1e-9)
OCCLUSION_LABELS = ('none', '< 25 %', '25-50 %', '> 50 %')


@dataclass
class EvalConfig(Config):
    match: str = field(default='oks', metadata={'help': "'oks', 'iou' or 'ids'"})
    match_threshold: float = 0.5
    min_visible_keypoints: int = 4
    occluded_confidence: float = 0.5
    agreement_min_score: float = 0.3
    worst_frames: int = 6

    def validate(self):
        if self.match not in ('oks', 'iou', 'ids'):
            raise ValueError(f"match must be 'oks', 'iou' or 'ids', got {self.match!r}")


# ---- per frame ----------------------------------------------------------------------------

def gt_visible_keypoints(gt, camera=None):
    """(N, 17) bool: ground-truth keypoints marked visible (score > 0) and inside the image."""
    vis = (gt.keypoint_scores > 0) & np.isfinite(gt.keypoints).all(-1)
    if camera is not None:
        vis &= camera.inside(gt.keypoints)
    return vis


def similarity(gt, pred, method='oks', camera=None):
    """(N_gt, M_pred) similarity in [0, 1] (NaN: not comparable)."""
    from hmr_models.frontend.boxes import box_area, box_iou, keypoint_similarity
    n, m = len(gt), len(pred)
    if n == 0 or m == 0:
        return np.zeros((n, m))
    if method == 'ids':
        return (gt.track_ids[:, None] == pred.track_ids[None, :]).astype(np.float64)
    if method == 'iou':
        return box_iou(gt.boxes, pred.boxes).astype(np.float64)
    vis = gt_visible_keypoints(gt, camera)
    pred_kp = np.where(pred.keypoint_scores[..., None] > 0, pred.keypoints, np.nan)
    sim = keypoint_similarity(gt.keypoints, vis, pred_kp, np.ones(pred_kp.shape[:2], bool),
                              box_area(gt.boxes)[:, None])
    return sim.astype(np.float64)


def occluded_joints(gt, camera=None, threshold=0.5):
    """(N, 24) bool: ground-truth joints hidden (confidence < threshold) inside the image."""
    occ = gt.joint_confidence < threshold
    if camera is not None:
        occ &= camera.inside(camera.project(gt.joints))
    return occ


# ---- accumulation -------------------------------------------------------------------------

class _MeshStream:
    """Matched person-frames of one output stream, for the mesh metrics."""

    def __init__(self):
        self.rows = []             # per person-frame dicts
        self.joint_err = []        # (24,) mm each
        self.occluded = []         # (24,) bool each
        self.pa = []
        self.cam = []
        self.mpve = []
        self.acc_sum = 0.0
        self.acc_n = 0

    def summary(self):
        if not self.rows:
            return {'person-frames': 0}
        err = np.stack(self.joint_err)
        occ = np.stack(self.occluded)
        out = {'person-frames': len(self.rows), 'MPJPE': float(err.mean()),
               'PA-MPJPE': float(np.mean(self.pa)), 'CAM-MPJPE': float(np.mean(self.cam)),
               'OCC-MPJPE': float(err[occ].mean()) if occ.any() else float('nan'),
               'ACC-ERR': self.acc_sum / self.acc_n if self.acc_n else float('nan')}
        mpve = [v for v in self.mpve if np.isfinite(v)]
        out['MPVE'] = float(np.mean(mpve)) if mpve else float('nan')
        return out


@dataclass
class EvalResult:
    """Everything a report or a comparison needs (JSON-able except the numpy helpers)."""

    summary: dict = field(default_factory=dict)
    sequences: list = field(default_factory=list)     # per sequence dicts
    tracks: list = field(default_factory=list)        # per predicted track dicts
    frames: list = field(default_factory=list)        # per frame rows
    people: list = field(default_factory=list)        # per matched person-frame rows
    plots: dict = field(default_factory=dict)         # arrays for the figures
    conventions: dict = field(default_factory=dict)
    has_ground_truth: bool = False

    def to_json(self):
        d = asdict(self)
        d.pop('plots')
        return _finite(d)


def _finite(x):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.ndarray):
        return _finite(x.tolist())
    return x


# ---- bodies -------------------------------------------------------------------------------

class Bodies:
    """Vertices and mesh keypoints of SMPL parameters, with the body model a stream names."""

    def __init__(self, body):
        self.body = body

    def usable(self, body_model):
        return self.body is not None and (not body_model or body_model == self.body.name)

    def vertices(self, pose, betas, transl, batch=256):
        import torch
        out = []
        with torch.no_grad():
            for i in range(0, len(pose), batch):
                res = self.body(torch.as_tensor(pose[i:i + batch], dtype=torch.float32),
                                torch.as_tensor(betas[i:i + batch], dtype=torch.float32),
                                torch.as_tensor(transl[i:i + batch], dtype=torch.float32))
                out.append(res.vertices.numpy())
        n = self.body.num_vertices if hasattr(self.body, 'num_vertices') else 0
        return np.concatenate(out) if out else np.zeros((0, n, 3), np.float32)

    def coco17(self, vertices):
        import torch
        return self.body.regress(torch.as_tensor(vertices), 'coco17').numpy() \
            if len(vertices) else np.zeros((0, 17, 3), np.float32)


# ---- scoring ------------------------------------------------------------------------------

def score(sequences, config=None, body=None):
    """EvalResult of a list of Sequence (one bag each), pooled over all of them."""
    config = config or EvalConfig()
    bodies = Bodies(body)
    result = EvalResult(conventions=dict(asdict(config), doc=__doc__.split('\n\n', 1)[1]))
    result.has_ground_truth = any(s.ground_truth for s in sequences)
    mesh = {}
    track_frames = []
    latencies = []
    per_joint_plot = {}
    for seq in sequences:
        seq_summary = {'name': seq.name}
        seq_summary.update(_runtime(seq, latencies))
        seq_summary.update(_people_stats(seq, result))
        for stream in STREAMS:
            if stream in seq.streams:
                seq_summary[f'{stream}: jitter'] = _jitter(seq, stream)
                seq_summary[f'{stream}: 2D agreement %'] = _agreement(
                    seq, stream, bodies, config, result)
        if seq.ground_truth:
            s_mesh = {}
            frames = _score_sequence_gt(seq, config, bodies, s_mesh, result)
            track_frames.append(frames)
            seq_summary.update(_tracking_summary([frames], config))
            for stream, acc in s_mesh.items():
                for k, v in acc.summary().items():
                    seq_summary[f'{stream}: {k}'] = v
                total = mesh.setdefault(stream, _MeshStream())
                total.rows += acc.rows
                total.joint_err += acc.joint_err
                total.occluded += acc.occluded
                total.pa += acc.pa
                total.cam += acc.cam
                total.mpve += acc.mpve
                total.acc_sum += acc.acc_sum
                total.acc_n += acc.acc_n
        result.sequences.append(seq_summary)
    # Pooled summary.
    summary = {}
    summary['runtime'] = _pool_runtime(result.sequences, latencies)
    summary['people'] = _pool_people(result)
    for stream in STREAMS:
        key_j, key_a = f'{stream}: jitter', f'{stream}: 2D agreement %'
        vals = [s for s in result.sequences if key_j in s]
        if vals:
            summary.setdefault(stream, {})
            summary[stream]['jitter'] = _pool_weighted(vals, key_j)
            summary[stream]['2D agreement %'] = _pool_weighted(vals, key_a)
    if result.has_ground_truth:
        summary['tracking'] = _tracking_summary(track_frames, config)
        for stream, acc in mesh.items():
            summary.setdefault(stream, {}).update(acc.summary())
            err = np.stack(acc.joint_err) if acc.joint_err else np.zeros((0, 24))
            occ = np.stack(acc.occluded) if acc.occluded else np.zeros((0, 24), bool)
            per_joint_plot[stream] = err.mean(0) if len(err) else np.zeros(24)
            result.people += acc.rows
            result.plots.setdefault('occlusion', {})[stream] = _by_occlusion(err, occ)
        result.plots['per_joint'] = per_joint_plot
    result.plots['latency_ms'] = np.asarray(latencies, np.float64)
    result.summary = summary
    return result


def _score_sequence_gt(seq, config, bodies, mesh, result):
    """Match and score every ground-truth frame of one sequence; returns its TrackingFrames."""
    order = {int(s): i for i, s in enumerate(np.sort(np.asarray(seq.image_stamps, np.int64)))}
    gt_frames = sorted(seq.ground_truth.items())
    camera = seq.camera
    track_frames, track_index = [], []
    votes = {}                 # predicted track id -> {gt id: frames matched}
    n_frames = len(order)
    track_arrays = {}          # (stream, gt id) -> (pred (F,24,3), gt (F,24,3), valid (F,))
    for stamp, gt in gt_frames:
        f = order.get(int(stamp))
        if f is None:
            continue
        ignore = gt_visible_keypoints(gt, camera).sum(1) < config.min_visible_keypoints
        frame_row = {'sequence': seq.name, 'frame': f, 'stamp': int(stamp), 'gt': len(gt),
                     'gt_counted': int((~ignore).sum())}
        for stream in STREAMS:
            preds = seq.streams.get(stream, {}).get(int(stamp))
            if stream not in seq.streams:
                continue
            if preds is None:
                if stream == 'persons':
                    track_frames.append(TrackingFrame(gt.track_ids, np.zeros(0, np.int64),
                                                      np.zeros((len(gt), 0)), ignore))
                    track_index.append(f)
                    frame_row['processed'] = False
                continue
            sim = similarity(gt, preds, config.match, camera)
            threshold = 0.5 if config.match == 'ids' else config.match_threshold
            pairs = assign(sim, threshold)
            if stream == 'persons':
                frame_row['processed'] = True
                frame_row['predictions'] = len(preds)
                tracked = preds.track_ids >= 0
                track_frames.append(TrackingFrame(gt.track_ids, preds.track_ids[tracked],
                                                  sim[:, tracked], ignore))
                track_index.append(f)
                for i, j in pairs:
                    tid = int(preds.track_ids[j])
                    if tid >= 0:
                        v = votes.setdefault(tid, {})
                        v[int(gt.track_ids[i])] = v.get(int(gt.track_ids[i]), 0) + 1
            pairs = [(i, j) for i, j in pairs if preds.has_mesh[j] and gt.has_mesh[i]]
            if not pairs:
                continue
            acc = mesh.setdefault(stream, _MeshStream())
            frame_row[f'{stream}: matched'] = len(pairs)
            gi = np.array([i for i, _ in pairs])
            pj = np.array([j for _, j in pairs])
            occ = occluded_joints(gt, camera, config.occluded_confidence)[gi]
            err = per_joint_error(preds.joints[pj] * MM, gt.joints[gi] * MM)
            frame_row[f'{stream}: MPJPE'] = float(err.mean())
            aligned = procrustes_align(preds.joints[pj] * MM, gt.joints[gi] * MM)
            pa = np.linalg.norm(aligned - gt.joints[gi] * MM, axis=-1).mean(-1)
            cam = per_joint_error(preds.joints[pj] * MM, gt.joints[gi] * MM, root=None).mean(-1)
            cam = per_joint_error(preds.joints[pj] * MM, gt.joints[gi] * MM, root=None).mean(-1)
            mpve = np.full(len(pairs), np.nan)
            if bodies.usable(preds.body_model) and bodies.usable(gt.body_model):
                pv = bodies.vertices(preds.pose[pj], preds.betas[pj], preds.translation[pj])
                gv = bodies.vertices(gt.pose[gi], gt.betas[gi], gt.translation[gi])
                pv = pv - preds.joints[pj][:, None, 0]
                gv = gv - gt.joints[gi][:, None, 0]
                mpve = np.linalg.norm(pv - gv, axis=-1).mean(-1) * MM
            for k, (i, j) in enumerate(pairs):
                acc.joint_err.append(err[k])
                acc.occluded.append(occ[k])
                acc.pa.append(pa[k])
                acc.cam.append(cam[k])
                acc.cam.append(cam[k])
                acc.mpve.append(mpve[k])
                acc.rows.append({
                    'sequence': seq.name, 'stream': stream, 'frame': f, 'stamp': int(stamp),
                    'gt_id': int(gt.track_ids[i]), 'pred_id': int(preds.track_ids[j]),
                    'MPJPE': float(err[k].mean()), 'PA-MPJPE': float(pa[k]),
                    'CAM-MPJPE': float(cam[k]),
                    'MPVE': float(mpve[k]),
                    'OCC-MPJPE': float(err[k][occ[k]].mean()) if occ[k].any() else float('nan'),
                    'occluded_fraction': float(occ[k].mean()), 'similarity': float(sim[i, j])})
                key = (stream, int(gt.track_ids[i]))
                if key not in track_arrays:
                    track_arrays[key] = (np.full((n_frames, 24, 3), np.nan),
                                         np.full((n_frames, 24, 3), np.nan),
                                         np.zeros(n_frames, bool))
                p_arr, g_arr, valid = track_arrays[key]
                p_arr[f], g_arr[f], valid[f] = preds.joints[j] * MM, gt.joints[i] * MM, True
        result.frames.append(frame_row)
    for (stream, gid), (p_arr, g_arr, valid) in track_arrays.items():
        acc_err, ok = acceleration_errors(p_arr, np.nan_to_num(g_arr), valid)
        mesh[stream].acc_sum += float(acc_err[ok].sum())
        mesh[stream].acc_n += int(ok.sum())
    result.plots.setdefault('gt_of_track', {})[seq.name] = {
        tid: max(v, key=v.get) for tid, v in votes.items()}
    threshold = 0.5 if config.match == 'ids' else config.match_threshold
    result.plots.setdefault('switches', {})[seq.name] = [
        (track_index[k], g, old, new)
        for k, g, old, new in clear_mot(track_frames, threshold)['switch_frames']]
    return track_frames


def _tracking_summary(track_frame_lists, config):
    threshold = 0.5 if config.match == 'ids' else config.match_threshold
    mot = {k: 0 for k in ('gt', 'predictions', 'matches', 'fn', 'fp', 'id_switches',
                          'fragmentations')}
    ident = dict(IDTP=0, IDFN=0, IDFP=0)
    for frames in track_frame_lists:
        m = clear_mot(frames, threshold)
        for k in mot:
            mot[k] += m[k]
        i = idf1(frames, threshold)
        for k in ident:
            ident[k] += i[k]
    gt = mot['gt']
    out = {'MOTA': 1.0 - (mot['fn'] + mot['fp'] + mot['id_switches']) / gt if gt else math.nan,
           'IDF1': 2 * ident['IDTP'] / (2 * ident['IDTP'] + ident['IDFN'] + ident['IDFP'])
           if ident['IDTP'] + ident['IDFN'] + ident['IDFP'] else math.nan,
           'ID switches': mot['id_switches'], 'fragmentations': mot['fragmentations'],
           'recall': mot['matches'] / gt if gt else math.nan,
           'precision': mot['matches'] / mot['predictions'] if mot['predictions'] else math.nan,
           'GT people': gt, 'FN': mot['fn'], 'FP': mot['fp']}
    return out


# ---- without ground truth ------------------------------------------------------------------

def _runtime(seq, latencies):
    persons = seq.streams.get('persons', {})
    stamps = [int(s) for s in seq.image_stamps]
    arrived = np.array(sorted(seq.image_received.values()), np.float64)
    out_times = np.array(sorted(p.received for p in persons.values()
                                if np.isfinite(p.received)), np.float64)

    def rate(t):
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else math.nan
    lat = []
    for s, p in persons.items():
        r = seq.image_received.get(int(s))
        if r is not None and np.isfinite(p.received):
            lat.append((p.received - r) * 1e3)
    latencies += lat
    processed = sum(1 for s in stamps if s in persons)
    lat = np.asarray(lat)
    return {'frames': len(stamps), 'processed': processed, 'dropped': len(stamps) - processed,
            'never acknowledged': len(set(stamps) - set(seq.acknowledged))
            if seq.acknowledged else 0,
            'FPS in': rate(arrived), 'FPS out': rate(out_times),
            'latency p50 ms': float(np.percentile(lat, 50)) if len(lat) else math.nan,
            'latency p95 ms': float(np.percentile(lat, 95)) if len(lat) else math.nan,
            'latency p99 ms': float(np.percentile(lat, 99)) if len(lat) else math.nan,
            'mode': seq.run.get('mode', '')}


def _pool_runtime(seqs, latencies):
    lat = np.asarray(latencies)
    counted = ('frames', 'processed', 'dropped', 'never acknowledged')
    out = {k: int(sum(s[k] for s in seqs)) for k in counted}
    for k in ('FPS in', 'FPS out'):
        vals = [s[k] for s in seqs if np.isfinite(s[k])]
        out[k] = float(np.median(vals)) if vals else math.nan
    for q in (50, 95, 99):
        out[f'latency p{q} ms'] = float(np.percentile(lat, q)) if len(lat) else math.nan
    out['mode'] = ', '.join(sorted({s['mode'] for s in seqs if s.get('mode')}))
    return out


def _people_stats(seq, result):
    """People per frame, track lengths and fragments of the per-frame stream."""
    persons = seq.streams.get('persons', {})
    order = {int(s): i for i, s in enumerate(np.sort(np.asarray(seq.image_stamps, np.int64)))}
    counts = [len(p) for p in persons.values()]
    seen = {}
    for stamp, p in persons.items():
        f = order.get(int(stamp))
        if f is None:
            continue
        for t in p.track_ids:
            if t >= 0:
                seen.setdefault(int(t), []).append(f)
    processed = sorted(order[int(s)] for s in persons if int(s) in order)
    rank = {f: k for k, f in enumerate(processed)}
    for tid, frames in seen.items():
        frames = sorted(frames)
        # A fragment ends where the track misses a processed frame and comes back later.
        gaps = sum(1 for a, b in zip(frames, frames[1:]) if rank[b] - rank[a] > 1)
        result.tracks.append({'sequence': seq.name, 'track_id': tid, 'frames': len(frames),
                              'first': frames[0], 'last': frames[-1], 'fragments': gaps + 1})
    result.plots.setdefault('timeline', {})[seq.name] = {
        tid: sorted(fr) for tid, fr in seen.items()}
    return {'people per frame': float(np.mean(counts)) if counts else math.nan,
            'max people': int(max(counts)) if counts else 0, 'tracks': len(seen),
            'mean track length': float(np.mean([len(v) for v in seen.values()]))
            if seen else math.nan}


def _pool_people(result):
    t = result.tracks
    seqs = result.sequences
    n = sum(s['processed'] for s in seqs)
    ppf = sum(s['people per frame'] * s['processed'] for s in seqs
              if np.isfinite(s['people per frame'])) / n if n else math.nan
    return {'people per frame': ppf, 'tracks': len(t),
            'mean track length': float(np.mean([x['frames'] for x in t])) if t else math.nan,
            'fragments per track': float(np.mean([x['fragments'] for x in t])) if t
            else math.nan,
            'tracks shorter than 5 frames': sum(1 for x in t if x['frames'] < 5)}


def _track_series(seq, stream):
    """{track id: (frames (T,), joints (T, 24, 3))} of a stream's tracked people."""
    order = {int(s): i for i, s in enumerate(np.sort(np.asarray(seq.image_stamps, np.int64)))}
    series = {}
    for stamp, p in seq.streams.get(stream, {}).items():
        f = order.get(int(stamp))
        if f is None:
            continue
        for k in range(len(p)):
            if p.track_ids[k] >= 0 and p.has_mesh[k]:
                series.setdefault(int(p.track_ids[k]), []).append((f, p.joints[k]))
    return {t: (np.array([f for f, _ in v]), np.stack([j for _, j in v]))
            for t, v in ((t, sorted(v, key=lambda x: x[0])) for t, v in series.items())}


def _jitter(seq, stream):
    """{'joints': mean acceleration (mm/frame^2, pelvis-aligned), 'pelvis': ..., 'n': count}."""
    acc_j, acc_r = [], []
    for frames, joints in _track_series(seq, stream).values():
        if len(frames) < 3:
            continue
        ok = (frames[2:] - frames[1:-1] == 1) & (frames[1:-1] - frames[:-2] == 1)
        j = joints * MM
        rel = j - j[:, :1]
        a = rel[2:] - 2 * rel[1:-1] + rel[:-2]
        r = j[2:, 0] - 2 * j[1:-1, 0] + j[:-2, 0]
        acc_j += list(np.linalg.norm(a, axis=-1).mean(-1)[ok])
        acc_r += list(np.linalg.norm(r, axis=-1)[ok])
    return {'joints mm/frame^2': float(np.mean(acc_j)) if acc_j else math.nan,
            'pelvis mm/frame^2': float(np.mean(acc_r)) if acc_r else math.nan, 'n': len(acc_j)}


def _agreement(seq, stream, bodies, config, result=None):
    """{'mean': % of box height, 'n': people} of a stream's meshes against their keypoints."""
    frames = [p for p in seq.streams.get(stream, {}).values() if len(p) and p.has_mesh.any()]
    if not frames or seq.camera is None or not bodies.usable(frames[0].body_model):
        return {'mean': math.nan, 'n': 0}
    cat = {k: np.concatenate([getattr(p, k)[p.has_mesh] for p in frames])
           for k in ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores', 'boxes')}
    stamps = np.concatenate([np.full(int(p.has_mesh.sum()), p.stamp, np.int64)
                             for p in frames])
    verts = bodies.vertices(cat['pose'], cat['betas'], cat['translation'])
    mesh_px = seq.camera.project(bodies.coco17(verts))
    per_person = keypoint_agreement_2d(mesh_px, cat['keypoints'], cat['keypoint_scores'],
                                       cat['boxes'], config.agreement_min_score)
    ok = np.isfinite(per_person)
    if stream == 'persons' and result is not None:
        for stamp in np.unique(stamps[ok]):
            result.plots.setdefault('agreement_frames', []).append(
                (seq.name, int(stamp), float(per_person[ok & (stamps == stamp)].mean())))
    return {'mean': float(per_person[ok].mean()) if ok.any() else math.nan, 'n': int(ok.sum())}


def _pool_weighted(seqs, key):
    out = {}
    ref = seqs[0][key]
    n_key = 'n'
    total = sum(s[key][n_key] for s in seqs)
    for k in ref:
        if k == n_key:
            continue
        vals = [(s[key][k], s[key][n_key]) for s in seqs if np.isfinite(s[key][k])]
        w = sum(n for _, n in vals)
        out[k] = sum(v * n for v, n in vals) / w if w else math.nan
    out[n_key] = total
    return out


def _by_occlusion(err, occ):
    """Mean MPJPE of person-frames binned by their fraction of occluded joints."""
    if not len(err):
        return {'labels': list(OCCLUSION_LABELS), 'mpjpe': [math.nan] * 4, 'count': [0] * 4,
                'occluded_joint_mpjpe': math.nan, 'visible_joint_mpjpe': math.nan}
    frac = occ.mean(1)
    idx = np.digitize(frac, OCCLUSION_BINS[1:-1], right=False)
    person = err.mean(1)
    means = [float(person[idx == b].mean()) if (idx == b).any() else math.nan for b in range(4)]
    return {'labels': list(OCCLUSION_LABELS), 'mpjpe': means,
            'count': [int((idx == b).sum()) for b in range(4)],
            'occluded_joint_mpjpe': float(err[occ].mean()) if occ.any() else math.nan,
            'visible_joint_mpjpe': float(err[~occ].mean()) if (~occ).any() else math.nan}


def camera_from_matrix(k, width, height):
    """CameraIntrinsics of a 3x3 intrinsic matrix and the image size."""
    k = np.asarray(k, np.float64).reshape(3, 3)
    return CameraIntrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                            int(width), int(height))
