"""A multi-view 3D reference built from the front-end's own keypoints, and matching to it.

    ref = build_reference(views_people, cameras)        # per frame: people in 3D (world)
    idx = match_detections(people, ref.frames[f], camera)   # each detection -> reference person

The reference is pseudo ground truth (the front-end's keypoints, triangulated over calibrated
views with outlier views rejected, hmr_models.eval.multiview): what single-view estimates are
scored against on real footage without motion capture.
"""
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
            held_out = {}
            for v in match:
                others = [u for u in range(len(cameras)) if u != v]
                held_out[v] = triangulate(pts[others], sc[others], projections[others],
                                          min_score, max_error).points
            people.append(ReferencePerson(tri.points, tri.error, tri.views, dict(match),
                                          held_out=held_out))
        frames.append(people)
    centres = [np.array([_centre(p.points) for p in people]).reshape(-1, 3) for people in frames]
    for people, ids in zip(frames, link_over_time(centres, link_distance)):
        for p, pid in zip(people, ids):
            p.person_id = int(pid)
    return Reference(frames)


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
