"""Calibrated multi-view geometry for a real 3D reference: cameras, triangulation, association.

Several synchronised, calibrated views of the same people turn the 2D front-end's keypoints into
3D pseudo ground truth: a keypoint seen confidently in two or more views is triangulated by a
confidence-weighted DLT (each view's two equations scaled by its score), views that disagree are
rejected (the largest subset of views whose reprojection errors all stay under a threshold wins),
and what is left is reported with its reprojection error. People are matched across views by
how well they triangulate together, and over time by their 3D position.

Cameras: `CameraCalibration` (OpenCV conventions: x_cam = R x_world + t, pixels = K ...),
read from Qualisys `.qca.txt` files (Pose2Sim's demos) by `read_qualisys_calibration`.
"""
from dataclasses import dataclass
import itertools
from pathlib import Path
import xml.etree.ElementTree as ET

import numpy as np

from hmr_models.eval.tracking import greedy_match
from hmr_models.types import CameraIntrinsics


@dataclass
class CameraCalibration:
    """One calibrated camera: world -> camera (metres) -> pixels.

    matrix (3, 3) intrinsics; distortion (k1, k2, p1, p2) OpenCV's radial-tangential model;
    rotation (3, 3) and translation (3,) with x_cam = rotation @ x_world + translation;
    size (width, height) pixels.
    """

    name: str
    size: tuple
    matrix: np.ndarray
    distortion: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def to_camera(self, points):
        """World points (..., 3) -> camera frame (..., 3)."""
        return np.asarray(points, np.float64) @ self.rotation.T + self.translation

    @property
    def projection(self):
        """(3, 4) K [R | t] (undistorted pixels)."""
        return self.matrix @ np.concatenate([self.rotation, self.translation[:, None]], 1)

    def project(self, points, distort=True):
        """World points (..., 3) -> pixels (..., 2) (NaN behind the camera)."""
        cam = self.to_camera(points)
        z = cam[..., 2:3]
        xy = np.where(z > 1e-9, cam[..., :2] / np.where(z > 1e-9, z, 1.0), np.nan)
        if distort:
            xy = _distort(xy, self.distortion)
        k = self.matrix
        return np.stack([k[0, 0] * xy[..., 0] + k[0, 1] * xy[..., 1] + k[0, 2],
                         k[1, 1] * xy[..., 1] + k[1, 2]], -1)

    def undistort(self, pixels):
        """Distorted pixels (..., 2) -> the pixels an undistorted camera with K would see."""
        px = np.asarray(pixels, np.float64)
        k = self.matrix
        y = (px[..., 1] - k[1, 2]) / k[1, 1]
        x = (px[..., 0] - k[0, 2] - k[0, 1] * y) / k[0, 0]
        xy = _undistort(np.stack([x, y], -1), self.distortion)
        return np.stack([k[0, 0] * xy[..., 0] + k[0, 1] * xy[..., 1] + k[0, 2],
                         k[1, 1] * xy[..., 1] + k[1, 2]], -1)

    def intrinsics(self):
        """CameraIntrinsics of this camera (distortion ignored)."""
        k = self.matrix
        return CameraIntrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                                int(self.size[0]), int(self.size[1]))


def _distort(xy, dist):
    k1, k2, p1, p2 = (list(np.asarray(dist, np.float64).ravel()) + [0.0] * 4)[:4]
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + k1 * r2 + k2 * r2 * r2
    return np.stack([x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                     y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y], -1)


def _undistort(xy, dist, iterations=10):
    """Invert _distort by fixed-point iteration (as OpenCV's undistortPoints does)."""
    und = xy.copy()
    for _ in range(iterations):
        und = und - (_distort(und, dist) - xy)
    return und


def read_qualisys_calibration(path, binning_factor=1):
    """Cameras of a Qualisys calibration export (`Calib.qca.txt`, Pose2Sim's demos).

    Qualisys stores, per camera, its position in the world (`transform` x, y, z in mm) with a
    rotation r11..r33, and intrinsics in 1/64 sub-pixels of the sensor (`intrinsic`), with
    `fov_video` the image window. Read as Pose2Sim's converter reads them: the matrix
    [[r11, r12, r13], ...] rotates world into camera axes, the translation is -R position, and
    the Qualisys camera looks along -z with y up, so a rotation by pi about x gives OpenCV's
    z-forward, y-down frame.
    Distortion coefficients are divided by 64 as Pose2Sim does (their effect is then negligible;
    the reprojection errors of `triangulate` show whether a calibration fits).
    Cameras come sorted by name.
    """
    root = ET.parse(str(path)).getroot()
    cams = []
    flip = np.diag([1.0, -1.0, -1.0])
    for cam in root.iter('camera'):
        fov = cam.find('fov_video')
        left, top = float(fov.get('left')), float(fov.get('top'))
        width = (float(fov.get('right')) - left + 1) / binning_factor
        height = (float(fov.get('bottom')) - top + 1) / binning_factor
        intr = cam.find('intrinsic')
        f = lambda key: float(intr.get(key)) / 64.0 / binning_factor  # noqa: E731
        matrix = np.array([[f('focalLengthU'), 0.0, f('centerPointU') - left],
                           [0.0, f('focalLengthV'), f('centerPointV') - top],
                           [0.0, 0.0, 1.0]])
        dist = np.array([f('radialDistortion1'), f('radialDistortion2'),
                         f('tangentalDistortion1'), f('tangentalDistortion2')])
        tr = cam.find('transform')
        rot = np.array([[float(tr.get(f'r{i}{j}')) for j in (1, 2, 3)] for i in (1, 2, 3)])
        position = np.array([float(tr.get(k)) for k in 'xyz']) / 1000.0
        rotation = flip @ rot
        cams.append(CameraCalibration(cam.get('serial') or f'cam{len(cams) + 1:02d}',
                                      (int(round(width)), int(round(height))), matrix, dist,
                                      rotation, -rotation @ position))
    if not cams:
        raise ValueError(f'{path}: no <camera> entries (not a Qualisys calibration file?)')
    return sorted(cams, key=lambda c: c.name)


# ------------------------------------------------------------------------------ triangulation
def triangulate_dlt(points, weights, projections):
    """Weighted DLT for K points seen in V views.

    Args:
        points (V, K, 2) undistorted pixels, weights (V, K) >= 0 (0: view not used),
        projections (V, 3, 4).
    Returns:
        (K, 3) points; NaN where fewer than two views have weight > 0.
    """
    pts = np.nan_to_num(np.asarray(points, np.float64))
    w = np.asarray(weights, np.float64)
    p = np.asarray(projections, np.float64)
    rows_x = pts[..., 0:1] * p[:, None, 2] - p[:, None, 0]       # (V, K, 4)
    rows_y = pts[..., 1:2] * p[:, None, 2] - p[:, None, 1]
    a = np.concatenate([rows_x * w[..., None], rows_y * w[..., None]], 0)   # (2V, K, 4)
    a = np.swapaxes(a, 0, 1)                                     # (K, 2V, 4)
    # scale rows: pixel-sized coefficients otherwise dominate the conditioning
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12) * \
        (np.linalg.norm(a, axis=-1, keepdims=True) > 1e-12)
    _, _, vt = np.linalg.svd(a)
    h = vt[:, -1]
    with np.errstate(divide='ignore', invalid='ignore'):
        x = h[:, :3] / h[:, 3:]
    x[(w > 0).sum(0) < 2] = np.nan
    return x


def reprojection_errors(points3d, points, projections):
    """(V, K) pixel distances between projected (K, 3) points and observed (V, K, 2) pixels."""
    p = np.asarray(projections, np.float64)
    h = np.concatenate([points3d, np.ones(points3d.shape[:-1] + (1,))], -1)
    proj = np.einsum('vij,kj->vki', p, h)
    with np.errstate(divide='ignore', invalid='ignore'):
        uv = proj[..., :2] / proj[..., 2:]
    return np.linalg.norm(uv - points, axis=-1)


@dataclass
class Triangulation:
    """Triangulated points and how well they fit.

    points (K, 3) (NaN where not triangulated), error (K,) mean reprojection error in pixels
    over the views used, views (V, K) bool: the views each point was triangulated from.
    """

    points: np.ndarray
    error: np.ndarray
    views: np.ndarray


def triangulate(points, scores, projections, min_score=0.3, max_error=15.0, min_views=2):
    """Confidence-weighted DLT with outlier views rejected.

    Args:
        points (V, K, 2): undistorted pixels (NaN where missing); scores (V, K).
        projections (V, 3, 4).
        min_score: views scoring a keypoint lower do not take part.
        max_error: a point's reprojection error must stay under this (pixels) in every view it
            uses; per keypoint, the largest subset of its confident views that achieves this is
            kept (ties: the lowest mean error); none: the point is NaN.
        min_views: fewest views a point may be triangulated from.
    """
    pts = np.asarray(points, np.float64)
    sc = np.nan_to_num(np.asarray(scores, np.float64))
    usable = np.isfinite(pts).all(-1) & (sc >= min_score)
    v, k = usable.shape
    best_pts = np.full((k, 3), np.nan)
    best_err = np.full(k, np.inf)
    best_views = np.zeros((v, k), bool)
    best_count = np.zeros(k, int)
    for size in range(v, min_views - 1, -1):
        for subset in itertools.combinations(range(v), size):
            mask = np.zeros((v, 1), bool)
            mask[list(subset)] = True
            use = usable & mask
            ok = use.sum(0) == size
            if not ok.any():
                continue
            x = triangulate_dlt(pts, np.where(use, sc, 0.0), projections)
            err = reprojection_errors(x, pts, projections)
            err_use = np.where(use, err, 0.0)
            mean = err_use.sum(0) / size
            fits = ok & np.isfinite(x).all(-1) & (err_use.max(0) <= max_error)
            better = fits & ((size > best_count) | ((size == best_count) & (mean < best_err)))
            best_pts[better] = x[better]
            best_err[better] = mean[better]
            best_views[:, better] = use[:, better]
            best_count[better] = size
    best_err[best_count == 0] = np.nan
    return Triangulation(best_pts, best_err, best_views)


# ------------------------------------------------------------------------------ association
def associate_views(keypoints, scores, projections, min_score=0.3, max_error=25.0,
                    min_views=2, min_keypoints=6):
    """Match the people of V synchronised views: which detection in each view is one person.

    Args:
        keypoints: V arrays (N_v, K, 2) of undistorted pixels; scores: V arrays (N_v, K).
        projections: (V, 3, 4).
        max_error: a match is accepted when, in every view it uses, the median reprojection error
            of the jointly triangulated keypoints stays under this (pixels).
        min_keypoints: keypoints that must triangulate for a match to count.
    Returns:
        list of dicts {view: detection index}, best matches first (most views, then lowest error);
        each detection is in at most one match.
    """
    v = len(keypoints)
    counts = [len(k) for k in keypoints]
    candidates = []
    for combo in itertools.product(*[range(-1, c) for c in counts]):
        views = [i for i in range(v) if combo[i] >= 0]
        if len(views) < min_views:
            continue
        pts = np.stack([np.asarray(keypoints[i][combo[i]], np.float64) for i in views])
        sc = np.stack([np.nan_to_num(np.asarray(scores[i][combo[i]], np.float64))
                       for i in views])
        use = np.isfinite(pts).all(-1) & (sc >= min_score)
        x = triangulate_dlt(pts, np.where(use, sc, 0.0), np.asarray(projections)[views])
        good = np.isfinite(x).all(-1)
        if good.sum() < min_keypoints:
            continue
        err = reprojection_errors(x, pts, np.asarray(projections)[views])
        per_view = [np.median(err[j][use[j] & good]) if (use[j] & good).any() else np.inf
                    for j in range(len(views))]
        worst = max(per_view)
        if worst <= max_error:
            candidates.append((-len(views), worst, combo))
    candidates.sort(key=lambda c: (c[0], c[1]))
    taken = [set() for _ in range(v)]
    matches = []
    for _, _, combo in candidates:
        if any(combo[i] >= 0 and combo[i] in taken[i] for i in range(v)):
            continue
        for i in range(v):
            if combo[i] >= 0:
                taken[i].add(combo[i])
        matches.append({i: int(combo[i]) for i in range(v) if combo[i] >= 0})
    return matches


def link_over_time(centres, max_distance=0.5):
    """Person ids over frames from 3D centres: greedy nearest match to the last seen position.

    Args:
        centres: per frame, an (M_f, 3) array (NaN rows are skipped).
        max_distance: metres a person may move between its sightings.
    Returns:
        per frame, (M_f,) int ids (-1 for NaN rows).
    """
    last = {}
    next_id = 0
    out = []
    for frame in centres:
        frame = np.asarray(frame, np.float64).reshape(-1, 3)
        pids = np.array(list(last), int)
        seen = np.array(list(last.values())).reshape(-1, 3)
        match = greedy_match(np.linalg.norm(frame[:, None] - seen[None], axis=-1), max_distance)
        ids = np.where(match >= 0, pids[np.maximum(match, 0)] if len(pids) else -1, -1)
        for i, c in enumerate(frame):
            if ids[i] < 0 and np.isfinite(c).all():
                ids[i] = next_id
                next_id += 1
        for i, c in enumerate(frame):
            if ids[i] >= 0:
                last[ids[i]] = c
        out.append(ids)
    return out


def find_calibration(folder):
    """The Calib.qca.txt of a Pose2Sim demo folder (or the file itself)."""
    p = Path(folder)
    if p.is_file():
        return p
    hits = sorted(p.glob('**/*.qca.txt'))
    if not hits:
        raise FileNotFoundError(f'no *.qca.txt calibration under {p}')
    return hits[0]
