"""A multi-view 3D reference built from the front-end's own keypoints, and matching to it.

    ref = build_reference(views_people, cameras)        # per frame: people in 3D (world)
    idx = match_detections(people, ref.frames[f], camera)   # each detection -> reference person
    smooth = low_pass_reference(ref, fps=60.0)          # 6 Hz zero-phase, as Pose2Sim filters
    floor = simulate_reference_error(smooth, views_people, cameras, spread, rng)

The reference is pseudo ground truth (the front-end's keypoints, triangulated over calibrated
views with outlier views rejected, hmr_models.eval.multiview): what single-view estimates are
scored against on real footage without motion capture. It has an error of its own: the views'
keypoints disagree (their reprojection error), and triangulation turns that disagreement into
3D error. `simulate_reference_error` measures what that costs: a perfect estimate, scored
against a reference triangulated from keypoints as far off as the detector's, does not score 0.
"""
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .multiview import associate_views, link_over_time, triangulate
from .tracking import greedy_match


@dataclass
class ReferencePerson:
    """One person of one frame in 3D.

    points (17, 3) world (NaN where not triangulated), error (17,) mean reprojection error
    (px), views (V, 17) bool, detections {view: index}, person id over time, and held_out
    {view: (17, 3)}: the points triangulated without that view (a reference for the view that
    does not contain its own keypoints).
    """

    points: np.ndarray
    error: np.ndarray
    views: np.ndarray
    detections: dict
    person_id: int = -1
    held_out: dict = field(default_factory=dict)


@dataclass
class Reference:
    frames: list = field(default_factory=list)   # per frame: list of ReferencePerson


def build_reference(views_people, cameras, min_score=0.3, max_error=15.0, match_error=25.0,
                    min_views=3, link_distance=0.5):
    """3D reference people per frame.

    Args:
        views_people: V lists (one per camera) of People per frame (same frame count).
        cameras: V CameraCalibration.
        min_score / max_error: triangulation (a keypoint needs this score in a view; views
            whose reprojection error exceeds max_error pixels are rejected).
        match_error: people of different views are one person when they triangulate with a
            median reprojection error under this (pixels) in every view.
        min_views: a person must be matched in at least this many views (two views always
            agree up to the epipolar constraint; three can disagree).
        link_distance: metres a person's hip centre may move between frames.
    """
    projections = np.stack([c.projection for c in cameras])
    frames = []
    for f in range(len(views_people[0])):
        kps = [c.undistort(v[f].keypoints) for c, v in zip(cameras, views_people)]
        scs = [v[f].keypoint_scores for v in views_people]
        people = []
        for match in associate_views(kps, scs, projections, min_score, match_error,
                                     min_views=min_views):
            pts = np.full((len(cameras), 17, 2), np.nan)
            sc = np.zeros((len(cameras), 17))
            for v, i in match.items():
                pts[v], sc[v] = kps[v][i], scs[v][i]
            tri = triangulate(pts, sc, projections, min_score, max_error)
            held_out = _held_out(pts, sc, projections, match, min_score, max_error)
            people.append(ReferencePerson(tri.points, tri.error, tri.views, dict(match),
                                          held_out=held_out))
        frames.append(people)
    centres = [np.array([_centre(p.points) for p in people]).reshape(-1, 3) for people in frames]
    for people, ids in zip(frames, link_over_time(centres, link_distance)):
        for p, pid in zip(people, ids):
            p.person_id = int(pid)
    return Reference(frames)


def _held_out(points, scores, projections, views, min_score, max_error):
    """{view: (17, 3) points triangulated without that view} for each of `views`."""
    out = {}
    for v in views:
        others = [u for u in range(len(projections)) if u != v]
        out[v] = triangulate(points[others], scores[others], projections[others], min_score,
                             max_error).points
    return out


def _centre(points):
    """Hip centre, else the mean of the triangulated points (NaN if none)."""
    hips = points[[11, 12]]
    if np.isfinite(hips).all():
        return hips.mean(0)
    ok = np.isfinite(points).all(-1)
    return points[ok].mean(0) if ok.any() else np.full(3, np.nan)


def match_detections(people, reference_people, camera, min_score=0.3, max_distance=0.1):
    """(N,) index into `reference_people` of each detection of one view (-1: none).

    A detection matches the reference person whose keypoints, projected into this view, lie
    closest to the detection's confident keypoints (median distance / box height under
    `max_distance`), each reference person matched at most once (closest pairs first).
    """
    n, m = len(people), len(reference_people)
    out = np.full(n, -1, int)
    if n == 0 or m == 0:
        return out
    proj = np.stack([camera.project(p.points) for p in reference_people])      # (M, 17, 2)
    height = np.maximum(people.boxes[:, 3] - people.boxes[:, 1], 1.0)
    ok = np.nan_to_num(people.keypoint_scores) >= min_score
    d = np.linalg.norm(people.keypoints[:, None] - proj[None], axis=-1)          # (N, M, 17)
    d = np.where(ok[:, None] & np.isfinite(d), d, np.nan)
    with np.errstate(all='ignore'):
        cost = np.nanmedian(np.where(np.isfinite(d), d, np.nan), axis=-1) / height[:, None]
    cost = np.where(np.isfinite(cost), cost, np.inf)
    return greedy_match(cost, max_distance)


def person_tracks(reference):
    """{person id: {frame: ReferencePerson}} over the reference's frames."""
    tracks = {}
    for f, people in enumerate(reference.frames):
        for p in people:
            tracks.setdefault(p.person_id, {})[f] = p
    return tracks


def low_pass(points, fps, cutoff_hz=6.0, order=4):
    """(T, ...) points of consecutive frames, zero-phase Butterworth low-passed over time.

    Each coordinate is filtered over its runs of finite values; NaN stays NaN, and runs too
    short for the filter's padding (3 x (order + 1) frames) stay as they are.
    """
    from scipy.signal import butter, filtfilt
    x = np.asarray(points, np.float64)
    out = x.copy()
    b, a = butter(order, min(cutoff_hz / (fps / 2.0), 0.99))
    pad = 3 * max(len(a), len(b))
    flat, res = x.reshape(len(x), -1), out.reshape(len(x), -1)
    for c in range(flat.shape[1]):
        finite = np.flatnonzero(np.isfinite(flat[:, c]))
        for run in np.split(finite, np.flatnonzero(np.diff(finite) != 1) + 1):
            if len(run) > pad:
                res[run, c] = filtfilt(b, a, flat[run, c])
    return out


def low_pass_reference(reference, fps, cutoff_hz=6.0, order=4):
    """The reference with every person's points (and held-out points) low-passed over time.

    The front-end's keypoints jitter from frame to frame, the people's joints do not: a 4th
    order 6 Hz zero-phase Butterworth is what Pose2Sim applies to its own triangulations.
    Tracks are filtered over runs of consecutive frames; a new Reference is returned.
    """
    frames = [[dataclasses.replace(p, held_out=dict(p.held_out)) for p in people]
              for people in reference.frames]
    for pid, by_frame in person_tracks(Reference(frames)).items():
        fs = np.array(sorted(by_frame))
        for run in np.split(fs, np.flatnonzero(np.diff(fs) != 1) + 1):
            people = [by_frame[f] for f in run]
            for p, pts in zip(people, low_pass(np.stack([p.points for p in people]), fps,
                                               cutoff_hz, order)):
                p.points = pts
            for v in set().union(*(p.held_out for p in people)):
                have = [p for p in people if v in p.held_out]
                if len(have) == len(people):
                    smooth = low_pass(np.stack([p.held_out[v] for p in have]), fps,
                                      cutoff_hz, order)
                    for p, pts in zip(have, smooth):
                        p.held_out[v] = pts
    return Reference(frames)


def simulate_reference_error(truth, views_people, cameras, spread, rng, fps=None,
                             cutoff_hz=6.0, min_score=0.3, max_error=15.0):
    """What the reference's own error costs: a perfect estimate scored against a noisy reference.

    Every person of `truth` (a Reference, e.g. the real one low-passed) is projected into the
    views that saw them; each keypoint is moved by Gaussian noise of `spread` (per axis, x the
    detection box's sqrt(area); a scalar or one per COCO-17 keypoint) and triangulated again as
    the reference was (the real detections' scores as weights, the same outlier rejection).
    The simulated reprojection error should match the real reference's (the check that
    `spread` is the detector's real disagreement between views).

    Returns {'MPJPE', 'PA-MPJPE'} (mm, 12 body joints, means over person-frames) of the truth
    scored against the noisy reference, the same against the noisy reference low-passed over
    time (with `fps`), against each view's held-out reference ('held-out MPJPE', 'held-out
    PA-MPJPE', over person-views: triangulated without that view from the same noisy
    keypoints), 'reprojection px' (median over keypoints, simulated) and 'person-frames'.
    """
    from .real import body12_errors          # real.py imports this module
    projections = np.stack([c.projection for c in cameras])
    spread = np.broadcast_to(np.asarray(spread, np.float64), (17,))
    noisy, errors, held_pairs = [], [], []
    for f, people in enumerate(truth.frames):
        frame = []
        for p in people:
            pts = np.full((len(cameras), 17, 2), np.nan)
            sc = np.zeros((len(cameras), 17))
            for v, i in p.detections.items():
                det = views_people[v][f]
                box = np.asarray(det.boxes[i], np.float64)
                size = np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 1.0))
                uv = cameras[v].project(p.points, distort=False)
                pts[v] = uv + rng.normal(size=uv.shape) * (spread * size)[:, None]
                sc[v] = np.nan_to_num(det.keypoint_scores[i])
            tri = triangulate(pts, sc, projections, min_score, max_error)
            errors.append(tri.error[np.isfinite(tri.error)])
            # the same noise, each view left out in turn
            held_out = _held_out(pts, sc, projections, p.detections, min_score, max_error)
            held_pairs += [(points, p.points) for points in held_out.values()]
            frame.append(dataclasses.replace(p, points=tri.points, error=tri.error,
                                             held_out=held_out))
        noisy.append(frame)
    noisy = Reference(noisy)

    def points(reference):
        return [p.points for people in reference.frames for p in people]
    want = points(truth)
    pairs = {'': list(zip(points(noisy), want)), 'held-out ': held_pairs}
    if fps:
        pairs['low-passed '] = list(zip(points(low_pass_reference(noisy, fps, cutoff_hz)), want))
    out = {}
    for prefix, these in pairs.items():
        scored = _mean_errors(these, body12_errors)
        out.update({prefix + k: v for k, v in scored.items() if k != 'person-frames'})
        if not prefix and scored:
            out['person-frames'] = scored['person-frames']
    errors = np.concatenate(errors) if errors else np.zeros(0)
    out['reprojection px'] = float(np.median(errors)) if errors.size else float('nan')
    return out


def _mean_errors(pairs, body12_errors):
    """{'MPJPE', 'PA-MPJPE', 'person-frames'} (mm) of (reference, truth) point pairs in metres."""
    if not pairs:
        return {}
    mp, pa = body12_errors(np.stack([g for g, _ in pairs]) * 1000.0,
                           np.stack([t for _, t in pairs]) * 1000.0)
    keep = np.isfinite(pa).any(1)
    if not keep.any():
        return {'person-frames': 0}
    return {'MPJPE': float(np.mean(np.nanmean(mp[keep], 1))),
            'PA-MPJPE': float(np.mean(np.nanmean(pa[keep], 1))), 'person-frames': int(keep.sum())}
