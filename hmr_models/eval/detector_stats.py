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

and per person and view, whether left and right are swapped: the whole body (shoulders and hips
both nearer the mirrored truth; what the simulated detector's ``p_swap_all`` draws) or, where
the torso is right, one limb pair (elbow + wrist, knee + ankle; ``p_swap_limb``).
Only where left and right are far enough apart in the image to tell (people seen side-on are
not counted).

`summarise` turns the samples into per-joint statistics (robust spread, heavy-tail rate, miss
rates, scores); `write_stats` / `read_stats` store them as JSON, which
`detector_noise.DetectorNoiseConfig.from_stats` reads to drive the simulated detector.

The held-out reference has an error of its own: it is triangulated from two or three other
views, each with MoveNet's noise. Each sample carries `reference_share`, the variance of that
error projected into the scored view relative to the view's own noise variance, assuming every
view's noise has the same spread in units of its own sqrt(box area) (first-order propagation
through the other views' projections: ``tr(J_v M^-1 J_v^T) / (2 s_v^2)`` with
``M = sum_u J_u^T J_u / s_u^2``). `summarise` divides each error by sqrt(1 + share), so the
spreads are MoveNet's own rather than MoveNet's plus the reference's (on Pose2Sim's demos the
share's median is about 1: the raw spread overstated MoveNet's by about 1.4x).
"""
import json
from pathlib import Path

import numpy as np

from hmr_models.frontend.boxes import box_iou
from hmr_models.skeleton import COCO17_NAMES

OCCLUSION = ('visible', 'person', 'out')
SIZE_BINS = (0.0, 300.0, 600.0, 1e9)          # box height, pixels
OUTLIER = 0.25                                # error / sqrt(area) beyond which a keypoint is wrong
# Left and right are told apart only where the true pair is this far apart (x sqrt(area)).
SWAP_SEPARATION = 0.15
TORSO_PAIRS = ((5, 6), (11, 12))                           # shoulders, hips
# (The face's pairs are too close together to judge at that separation.)
LIMB_SWAP_PAIRS = {'arms': ((7, 9), (8, 10)), 'legs': ((13, 15), (14, 16))}


def collect(views_people, cameras, reference):
    """Samples (dict of flat arrays) of every view's keypoints against the other views.

    Args:
        views_people: V lists of People per frame (the ones the reference was built from).
        cameras: V CameraCalibration; reference: hmr_models.eval.reference.Reference (its
            held-out points are the truth for each view).
    Keys: joint, occlusion (index into OCCLUSION), height (px), scale (sqrt(area) px),
    detected (the person has a detection in this view), reported (keypoint present),
    score, error (distance / scale; NaN when not reported or not detected), reference_share
    (see `reference_share`; NaN where it cannot be told); and per detected person and view
    `swap_body` and `swap_<limb>` (1 swapped, 0 not, -1 cannot tell; see `swap_flags`).
    """
    out = {k: [] for k in ('joint', 'occlusion', 'height', 'scale', 'detected', 'reported',
                           'score', 'error', 'reference_share', 'swap_body',
                           *(f'swap_{n}' for n in LIMB_SWAP_PAIRS))}
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
                share = reference_share(cameras, person.held_out.get(v, person.points),
                                        person.views, v)
                # A swapped view does not triangulate with the others, so the reference often
                # leaves it unmatched: swaps are judged on the detection whose box fits.
                swap_d = person.detections[v] if detected else _box_match(
                    views_people[v][f], box, {p.detections[v] for p in persons
                                              if v in p.detections})
                if swap_d is not None:
                    people_v = views_people[v][f]
                    swap_kp = np.where((np.nan_to_num(people_v.keypoint_scores[swap_d]) > 0)
                                       [:, None], people_v.keypoints[swap_d], np.nan)
                    for key, flag in swap_flags(swap_kp, truth, scale).items():
                        out[key].append(flag)
                for k in np.flatnonzero(have):
                    out['joint'].append(k)
                    out['occlusion'].append(occ[k])
                    out['height'].append(height)
                    out['scale'].append(scale)
                    out['detected'].append(detected)
                    out['reported'].append(bool(reported[k]))
                    out['score'].append(float(score[k]))
                    out['error'].append(float(err[k]) if reported[k] else np.nan)
                    out['reference_share'].append(float(share[k]))
    return {k: np.asarray(v) for k, v in out.items()}


def swap_flags(kp, truth, scale):
    """{swap_body, swap_<limb>}: 1 swapped, 0 not, -1 cannot tell, for one person in one view.

    A pair of joints is swapped when the detection lies nearer the truth with left and right
    exchanged; it counts only where both are reported and the true left and right are at least
    SWAP_SEPARATION x scale apart. The whole body is swapped when both torso pairs are; limbs
    are judged only on people whose torso is right.
    """
    def pair(left, right):
        ok = np.isfinite(kp[list(left) + list(right)]).all() and \
            np.isfinite(truth[list(left) + list(right)]).all() and \
            min(np.linalg.norm(truth[a] - truth[b]) for a, b in zip(left, right)) \
            >= SWAP_SEPARATION * scale
        if not ok:
            return -1
        same = sum(np.linalg.norm(kp[a] - truth[a]) + np.linalg.norm(kp[b] - truth[b])
                   for a, b in zip(left, right))
        crossed = sum(np.linalg.norm(kp[a] - truth[b]) + np.linalg.norm(kp[b] - truth[a])
                      for a, b in zip(left, right))
        return int(crossed < same)
    torso = [pair((a,), (b,)) for a, b in TORSO_PAIRS]
    body = -1 if -1 in torso else int(all(torso))
    flags = {'swap_body': body}
    for name, (left, right) in LIMB_SWAP_PAIRS.items():
        flags[f'swap_{name}'] = pair(left, right) if body == 0 else -1
    return flags


def reference_share(cameras, points, views, held_out_view):
    """(17,) variance of the held-out reference's error in view `held_out_view` / the view's own.

    points (17, 3) world: the reference triangulated without that view; views (V, 17) bool: the
    views that triangulated each keypoint (the held-out view itself is left out here). Noise
    of the same spread in every view, in units of the person's sqrt(box area) there, propagated
    to first order; NaN where fewer than two other views saw the keypoint.
    """
    points = np.asarray(points, np.float64)
    scales = []
    for cam in cameras:
        b = _box(cam.project(points, distort=False))
        scales.append(np.sqrt(max((b[2] - b[0]) * (b[3] - b[1]), 1.0))
                      if np.isfinite(b).all() else np.nan)
    out = np.full(len(points), np.nan)
    for k in np.flatnonzero(np.isfinite(points).all(-1)):
        others = [u for u in range(len(cameras)) if u != held_out_view and views[u, k]
                  and np.isfinite(scales[u])]
        if len(others) < 2 or not np.isfinite(scales[held_out_view]):
            continue
        jacobians = [_projection_jacobian(cameras[u], points[k]) for u in others]
        info = sum(j.T @ j / scales[u] ** 2 for j, u in zip(jacobians, others))
        jv = _projection_jacobian(cameras[held_out_view], points[k])
        try:
            cov = jv @ np.linalg.inv(info) @ jv.T
        except np.linalg.LinAlgError:
            continue
        out[k] = np.trace(cov) / (2.0 * scales[held_out_view] ** 2)
    return out


def _projection_jacobian(camera, point):
    """(2, 3) d pixels / d world point of a CameraCalibration (distortion left out)."""
    x, y, z = camera.to_camera(point)
    k = camera.matrix
    d = np.array([[k[0, 0] / z, k[0, 1] / z, -(k[0, 0] * x + k[0, 1] * y) / z ** 2],
                  [0.0, k[1, 1] / z, -k[1, 1] * y / z ** 2]])
    return d @ camera.rotation


def corrected_errors(samples):
    """Errors with the held-out reference's own share removed (see the module doc)."""
    err = np.asarray(samples['error'], np.float64)
    if 'reference_share' not in samples:        # samples written before the correction
        return err
    share = np.nan_to_num(np.asarray(samples['reference_share'], np.float64), nan=0.0)
    return err / np.sqrt(1.0 + np.maximum(share, 0.0))


def _box_match(people, box, taken, min_iou=0.5):
    """Index of the untaken detection whose box overlaps `box` most (IoU >= min_iou), or None."""
    iou = box_iou(people.boxes, box)[:, 0]
    iou[list(taken)] = -1.0
    best = int(np.argmax(iou)) if len(iou) else -1
    return best if best >= 0 and iou[best] >= min_iou else None


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

    Errors are MoveNet's own (`corrected_errors`; `reference_corrected` says so) where the
    samples carry `reference_share`, else as measured.

    per_joint[occlusion][joint name]: n, missing (rate among detected people), sigma (per-axis
    Gaussian spread of inliers, error / sqrt(area)), outlier (rate of errors > OUTLIER among
    reported), outlier_median (their median error), score_inlier / score_outlier (median
    scores). by_size[bin][occlusion]: the same pooled over joints. person_miss[occlusion share]
    is not measured here (the reference only exists where a person is matched in >= 3 views).
    swaps: whole-body and per-limb-pair left/right swap rates among the person-views where they
    can be told (n), and `limb` pooled over the limb pairs.
    """
    s = dict(samples)
    s['error'] = corrected_errors(samples)
    det = s['detected'].astype(bool)
    stats = {'units': 'error / sqrt(box area), per keypoint; rates in [0, 1]',
             'reference_corrected': 'reference_share' in samples,
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
    stats['swaps'] = swap_rates(s)
    for b in range(len(SIZE_BINS) - 1):
        in_bin = (s['height'] >= SIZE_BINS[b]) & (s['height'] < SIZE_BINS[b + 1])
        stats['by_size'][f'{SIZE_BINS[b]:.0f}'] = {
            name: block(in_bin & (s['occlusion'] == o)) for o, name in enumerate(OCCLUSION)}
    return stats


def swap_rates(samples):
    """{body, <limb>..., limb}: {n, rate} of the person-views where a swap can be told."""
    def rate(flags):
        flags = np.asarray(flags)
        flags = flags[flags >= 0]
        return {'n': int(flags.size),
                'rate': float(flags.mean()) if flags.size else float('nan')}
    if 'swap_body' not in samples:              # samples written before swaps were counted
        return {}
    out = {'body': rate(samples['swap_body'])}
    for name in LIMB_SWAP_PAIRS:
        out[name] = rate(samples[f'swap_{name}'])
    out['limb'] = rate(np.concatenate([samples[f'swap_{n}'] for n in LIMB_SWAP_PAIRS]))
    return out


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
