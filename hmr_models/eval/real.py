"""Metrics of meshes on real footage.

Agreement with the 2D keypoints, and 3D errors against a multi-view reference on COCO's 12 body
joints:

- `keypoint_agreement`: distance between the mesh's projected COCO-17 keypoints and the
  front-end's confident keypoints, per keypoint, as a fraction of the person's box height;
  `agreement_summary` gives the median (%) and PCK at 0.05 / 0.1 of the box height.
- `body12_errors`: MPJPE (aligned at the hip centre) and PA-MPJPE (similarity Procrustes) on
  the 12 body joints (shoulders, elbows, wrists, hips, knees, ankles); joints without a
  reference are left out of both.
- `acceleration_error_tracks`: ACC-ERR over runs of consecutive frames of one track.
"""
import numpy as np

from hmr_models.skeleton import COCO17_NAMES

BODY12 = np.arange(5, 17)                  # COCO-17 shoulders .. ankles
BODY12_NAMES = COCO17_NAMES[5:]
_HIPS = (6, 7)                             # left/right hip inside BODY12


def keypoint_agreement(projected, keypoints, scores, boxes, min_score=0.3):
    """(N, 17) distance / box height between projected mesh keypoints and confident keypoints.

    projected, keypoints (N, 17, 2) pixels; scores (N, 17); boxes (N, 4) xyxy. NaN where the
    keypoint scored below `min_score` (or is missing).
    """
    projected = np.asarray(projected, np.float64)
    keypoints = np.asarray(keypoints, np.float64)
    scores = np.nan_to_num(np.asarray(scores, np.float64))
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    err = np.linalg.norm(projected - keypoints, axis=-1) / height[:, None]
    ok = (scores >= min_score) & np.isfinite(err)
    return np.where(ok, err, np.nan)


def agreement_summary(errors):
    """Summary of keypoint_agreement errors (any shape; NaN entries are not counted).

    Returns {'keypoints', 'median %', 'PCK@0.05', 'PCK@0.1'}; PCKs are fractions in [0, 1].
    """
    e = np.asarray(errors, np.float64).ravel()
    e = e[np.isfinite(e)]
    if e.size == 0:
        return {'keypoints': 0, 'median %': float('nan'), 'PCK@0.05': float('nan'),
                'PCK@0.1': float('nan')}
    return {'keypoints': int(e.size), 'median %': float(100.0 * np.median(e)),
            'PCK@0.05': float((e <= 0.05).mean()), 'PCK@0.1': float((e <= 0.1).mean())}


def _similarity_align(pred, gt, mask):
    """Procrustes (scale, rotation, translation) of pred (J, 3) onto gt over the masked joints."""
    p, g = pred[mask], gt[mask]
    mu_p, mu_g = p.mean(0), g.mean(0)
    p0, g0 = p - mu_p, g - mu_g
    u, s, vt = np.linalg.svd(p0.T @ g0)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.array([1.0, 1.0, d])
    rot = (u * fix) @ vt
    scale = (s * fix).sum() / max((p0 ** 2).sum(), 1e-12)
    return scale * (pred - mu_p) @ rot + mu_g


def body12_errors(pred, gt, valid=None, min_joints=6):
    """Per-joint errors on the 12 COCO body joints of N people.

    Args:
        pred, gt: (N, 17, 3) COCO-17 keypoints (metres or mm: errors come in the same unit),
            each in its own frame (both camera frame, or any: only alignment-free quantities
            are compared after alignment).
        valid: (N, 17) bool, where gt exists (default: finite gt).
        min_joints: people with fewer valid body joints (or without both hips) are skipped.
    Returns:
        (mpjpe (N, 12), pa (N, 12)) per-joint errors, NaN where not scored. MPJPE aligns the
        hip centres (midpoint of the two hips), PA-MPJPE a similarity transform on the valid
        joints.
    """
    pred = np.asarray(pred, np.float64)[:, BODY12]
    gt = np.asarray(gt, np.float64)[:, BODY12]
    ok = np.isfinite(gt).all(-1) & np.isfinite(pred).all(-1)
    if valid is not None:
        ok &= np.asarray(valid, bool)[:, BODY12]
    n = len(pred)
    mp = np.full((n, 12), np.nan)
    pa = np.full((n, 12), np.nan)
    for i in range(n):
        m = ok[i]
        if m.sum() < min_joints or not m[list(_HIPS)].all():
            continue
        hp = pred[i, list(_HIPS)].mean(0)
        hg = gt[i, list(_HIPS)].mean(0)
        mp[i, m] = np.linalg.norm((pred[i] - hp) - (gt[i] - hg), axis=-1)[m]
        aligned = _similarity_align(pred[i], gt[i], m)
        pa[i, m] = np.linalg.norm(aligned - gt[i], axis=-1)[m]
    return mp, pa


def acceleration_error_tracks(pred, gt, valid):
    """Mean ACC-ERR (units per frame^2) of hip-centred body joints over a track's frames.

    pred, gt (T, 17, 3) of one person over consecutive frames; valid (T,) bool (both exist).
    Only frames whose two neighbours are valid count. Returns (sum, count) so that tracks
    can be pooled.
    """
    pred = np.asarray(pred, np.float64)[:, BODY12]
    gt = np.asarray(gt, np.float64)[:, BODY12]
    hips = list(_HIPS)
    pred = pred - pred[:, hips].mean(1, keepdims=True)
    gt = gt - gt[:, hips].mean(1, keepdims=True)
    valid = np.asarray(valid, bool) & np.isfinite(pred).all((1, 2)) & np.isfinite(gt).all((1, 2))
    if len(valid) < 3:
        return 0.0, 0
    acc = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]  # noqa: E731
    ok = valid[2:] & valid[1:-1] & valid[:-2]
    err = np.linalg.norm(np.nan_to_num(acc(pred)) - np.nan_to_num(acc(gt)), axis=-1).mean(-1)
    return float(err[ok].sum()), int(ok.sum())
