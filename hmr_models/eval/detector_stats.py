"""MoveNet's real errors, measured against a multi-view reference (leave one view out).

For every reference person (hmr_models.eval.reference) and every view, the person's keypoints
are triangulated from the *other* views only and projected into this one: an estimate of where
the keypoints really are that does not use this view's own detections. Against it, per keypoint:

- was it reported (score >= the front-end's keypoint_score_threshold; else "missing"),
- its error in COCO's units (distance / sqrt(box area), the scale of OKS and of the simulated
  detector, `hmr_models.data.synth.detector_noise`), and its score,
- whether another reference person closer to this camera covers it ("person"-occluded), it
  falls outside the image ("out"), or neither ("visible"; self-occlusion is not separated),
- the box height (size bins).

`summarise` turns the samples into per-joint statistics (robust spread, heavy-tail rate, miss
rates, scores); `write_stats` / `read_stats` store them as JSON, which
`detector_noise.DetectorNoiseConfig.from_stats` reads to drive the simulated detector.
The reference error (two or three other views, MoveNet's own noise) is part of the measured
error, so these figures are an upper bound of MoveNet's error on these people.
"""
import json
from pathlib import Path

import numpy as np

from hmr_models.skeleton import COCO17_NAMES

OCCLUSION = ('visible', 'person', 'out')
SIZE_BINS = (0.0, 300.0, 600.0, 1e9)          # box height, pixels
OUTLIER = 0.25                                # error / sqrt(area) beyond which a keypoint is wrong


def collect(views_people, cameras, reference):
    """Samples (dict of flat arrays) of every view's keypoints against the other views.

    Args:
        views_people: V lists of People per frame (the ones the reference was built from).
        cameras: V CameraCalibration; reference: hmr_models.eval.reference.Reference (its
            held-out points are the truth for each view).
    Keys: joint, occlusion (index into OCCLUSION), height (px), scale (sqrt(area) px),
    detected (the person has a detection in this view), reported (keypoint present),
    score, error (distance / scale; NaN when not reported or not detected).
    """
    out = {k: [] for k in ('joint', 'occlusion', 'height', 'scale', 'detected', 'reported',
                           'score', 'error')}
    for f, persons in enumerate(reference.frames):
        for v, cam in enumerate(cameras):
            depth = [np.nanmean(cam.to_camera(p.points)[:, 2]) for p in persons]
            boxes = [_box(cam.project(p.points)) for p in persons]
            for i, person in enumerate(persons):
                # the reference without this view (a view that did not see the person is not
                # part of the reference anyway)
                truth = cam.project(person.held_out.get(v, person.points))  # (17, 2) px
                have = np.isfinite(truth).all(-1)
                if have.sum() < 6:
                    continue
                box = _box(truth)
                height = box[3] - box[1]
                scale = np.sqrt(max((box[2] - box[0]) * height, 1.0))
                w, h = cam.size
                inside = (truth[:, 0] >= 0) & (truth[:, 0] < w) & (truth[:, 1] >= 0) & \
                    (truth[:, 1] < h)
                covered = np.zeros(17, bool)
                for j2, other in enumerate(persons):
                    if j2 != i and depth[j2] < depth[i] and np.isfinite(boxes[j2]).all():
                        b = boxes[j2]
                        covered |= (truth[:, 0] >= b[0]) & (truth[:, 0] <= b[2]) & \
                            (truth[:, 1] >= b[1]) & (truth[:, 1] <= b[3])
                occ = np.where(~inside, 2, np.where(covered, 1, 0))
                detected = v in person.detections
                if detected:
                    d = person.detections[v]
                    kp = views_people[v][f].keypoints[d]
                    score = np.nan_to_num(views_people[v][f].keypoint_scores[d])
                else:
                    kp, score = np.full((17, 2), np.nan), np.zeros(17)
                reported = np.isfinite(kp).all(-1) & (score > 0)
                err = np.linalg.norm(kp - truth, axis=-1) / scale
                for k in np.flatnonzero(have):
                    out['joint'].append(k)
                    out['occlusion'].append(occ[k])
                    out['height'].append(height)
                    out['scale'].append(scale)
                    out['detected'].append(detected)
                    out['reported'].append(bool(reported[k]))
                    out['score'].append(float(score[k]))
                    out['error'].append(float(err[k]) if reported[k] else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}


def _box(points):
    ok = np.isfinite(points).all(-1)
    if not ok.any():
        return np.full(4, np.nan)
    p = points[ok]
    pad = 0.1 * (p.max(0) - p.min(0))
    return np.concatenate([p.min(0) - pad, p.max(0) + pad])


def _spread(err):
    """Per-axis Gaussian sigma of the inliers (median distance / sqrt(2 ln 2))."""
    inl = err[err <= OUTLIER]
    return float(np.median(inl) / np.sqrt(2.0 * np.log(2.0))) if inl.size >= 5 else float('nan')


def summarise(samples):
    """Statistics (JSON-ready dict) of `collect`'s samples.

    per_joint[occlusion][joint name]: n, missing (rate among detected people), sigma (per-axis
    Gaussian spread of inliers, error / sqrt(area)), outlier (rate of errors > OUTLIER among
    reported), outlier_median (their median error), score_inlier / score_outlier (median
    scores). by_size[bin][occlusion]: the same pooled over joints. person_miss[occlusion share]
    is not measured here (the reference only exists where a person is matched in >= 3 views).
    """
    s = samples
    det = s['detected'].astype(bool)
    stats = {'units': 'error / sqrt(box area), per keypoint; rates in [0, 1]',
             'outlier_threshold': OUTLIER, 'size_bins_px': list(SIZE_BINS[:-1]),
             'keypoints': COCO17_NAMES, 'samples': int(det.sum()), 'per_joint': {},
             'by_size': {}}

    def block(mask):
        m = mask & det
        rep = m & s['reported']
        err = s['error'][rep]
        out = err > OUTLIER
        return {'n': int(m.sum()), 'missing': float(1 - rep.sum() / max(m.sum(), 1)),
                'sigma': _spread(err), 'outlier': float(out.mean()) if err.size else float('nan'),
                'outlier_median': float(np.median(err[out])) if out.any() else float('nan'),
                'score_inlier': float(np.median(s['score'][rep][~out])) if (~out).any()
                else float('nan'),
                'score_outlier': float(np.median(s['score'][rep][out])) if out.any()
                else float('nan')}

    for o, name in enumerate(OCCLUSION):
        stats['per_joint'][name] = {COCO17_NAMES[k]: block((s['occlusion'] == o)
                                                           & (s['joint'] == k))
                                    for k in range(17)}
        stats['per_joint'][name]['all'] = block(s['occlusion'] == o)
    for b in range(len(SIZE_BINS) - 1):
        in_bin = (s['height'] >= SIZE_BINS[b]) & (s['height'] < SIZE_BINS[b + 1])
        stats['by_size'][f'{SIZE_BINS[b]:.0f}'] = {
            name: block(in_bin & (s['occlusion'] == o)) for o, name in enumerate(OCCLUSION)}
    return stats


def write_stats(path, samples, raw=True):
    """Summarise `samples` and write them as JSON (NaN as null).

    With `raw`, the samples themselves go beside it (.npz).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return None if isinstance(x, float) and not np.isfinite(x) else x
    path.write_text(json.dumps(clean(summarise(samples)), indent=1))
    if raw:
        np.savez_compressed(path.with_suffix('.npz'), **samples)
    return path


def read_stats(path):
    return json.loads(Path(path).read_text())
