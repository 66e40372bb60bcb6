"""Standard 3D human-mesh metrics, in the units of the inputs (use millimetres for reports).

Conventions follow the HMR literature: MPJPE after aligning the root (pelvis) joint, PA-MPJPE
after a similarity Procrustes alignment per sample, MPVE over mesh vertices after root alignment,
ACC-ERR as the mean norm of the difference of second finite differences: per frame squared by
default, as VIBE/TCMR/DiffMesh compute it (their "mm/s^2" figures are per frame^2), or per
second squared when `fps` is given.
"""
import numpy as np


def _root_align(pred, gt, root):
    if root is None:
        return pred, gt
    return pred - pred[..., root:root + 1, :], gt - gt[..., root:root + 1, :]


def per_joint_error(pred, gt, root=0):
    """Euclidean error per joint (..., J) after root alignment (root=None: no alignment)."""
    pred, gt = _root_align(np.asarray(pred, np.float64), np.asarray(gt, np.float64), root)
    return np.linalg.norm(pred - gt, axis=-1)


def mpjpe(pred, gt, root=0, mask=None):
    """Mean per-joint position error; `mask` (..., J) restricts it (e.g. occluded joints)."""
    err = per_joint_error(pred, gt, root)
    if mask is None:
        return float(err.mean())
    mask = np.asarray(mask, bool)
    return float(err[mask].mean()) if mask.any() else float('nan')


def procrustes_align(pred, gt, scale=True, fit=None):
    """Similarity transform (scale, rotation, translation) of pred (..., J, 3) onto gt.

    scale False: rotation and translation only; fit: the joints (indices) the transform is
    fitted on (default all), applied to every joint.
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    fp, fg = (pred, gt) if fit is None else (pred[..., fit, :], gt[..., fit, :])
    mu_p = fp.mean(-2, keepdims=True)
    mu_g = fg.mean(-2, keepdims=True)
    p0, g0 = fp - mu_p, fg - mu_g
    cov = np.swapaxes(p0, -1, -2) @ g0
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones_like(s)
    fix[..., -1] = d
    rot = (u * fix[..., None, :]) @ vt
    k = 1.0
    if scale:
        var = (p0 ** 2).sum(axis=(-1, -2))
        k = ((s * fix).sum(-1) / np.maximum(var, 1e-12))[..., None, None]
    return k * ((pred - mu_p) @ rot) + mu_g


def pa_mpjpe(pred, gt, mask=None):
    """MPJPE after per-sample Procrustes alignment."""
    aligned = procrustes_align(pred, gt)
    return mpjpe(aligned, gt, root=None, mask=mask)


def mpve(pred_vertices, gt_vertices, pred_root=None, gt_root=None):
    """Mean per-vertex error; vertices aligned by the given root positions (..., 3) if any."""
    pv = np.asarray(pred_vertices, np.float64)
    gv = np.asarray(gt_vertices, np.float64)
    if pred_root is not None:
        pv = pv - np.asarray(pred_root, np.float64)[..., None, :]
        gv = gv - np.asarray(gt_root, np.float64)[..., None, :]
    return float(np.linalg.norm(pv - gv, axis=-1).mean())


def acceleration(positions, fps=None):
    """Second finite difference (T-2, ..., 3) of a (T, ..., 3) trajectory (per frame^2 or s^2)."""
    x = np.asarray(positions, np.float64)
    acc = x[2:] - 2.0 * x[1:-1] + x[:-2]
    return acc if fps is None else acc * (fps ** 2)


def acc_err(pred, gt, fps=None, root=0):
    """ACC-ERR: mean acceleration error of joints over a sequence (T, J, 3), root-aligned."""
    pred, gt = _root_align(np.asarray(pred, np.float64), np.asarray(gt, np.float64), root)
    return float(np.linalg.norm(acceleration(pred, fps) - acceleration(gt, fps), axis=-1).mean())


def acceleration_errors(pred, gt, valid, root=0):
    """ACC-ERR per frame of joint trajectories (..., T, J, 3), and where it is defined.

    Returns (..., T-2) mean joint acceleration error (after root alignment) of each middle frame
    and (..., T-2) bool: that frame and both neighbours are `valid` (..., T). Predictions of
    invalid frames may be NaN.
    """
    pred, gt = _root_align(np.asarray(pred, np.float64), np.asarray(gt, np.float64), root)
    pred = np.nan_to_num(pred)
    valid = np.asarray(valid, bool)

    def second_difference(x):       # along the time axis (-3)
        return x[..., 2:, :, :] - 2.0 * x[..., 1:-1, :, :] + x[..., :-2, :, :]

    err = np.linalg.norm(second_difference(pred) - second_difference(gt), axis=-1).mean(-1)
    return err, valid[..., 2:] & valid[..., 1:-1] & valid[..., :-2]


def body_errors(pred_joints, pred_vertices, gt_joints, gt_vertices, occluded, pred_root=None,
                gt_root=None):
    """MPJPE, PA-MPJPE, MPVE and OCC-MPJPE of N bodies (joints (N, J, 3), vertices (N, V, 3)).

    occluded (N, J) bool: the joints OCC-MPJPE averages (NaN when there are none). MPVE aligns
    the vertices on pred_root / gt_root (N, 3), by default the root joints.
    """
    err = per_joint_error(pred_joints, gt_joints)
    occluded = np.asarray(occluded, bool)
    pred_root = np.asarray(pred_joints)[:, 0] if pred_root is None else pred_root
    gt_root = np.asarray(gt_joints)[:, 0] if gt_root is None else gt_root
    return {'MPJPE': float(err.mean()), 'PA-MPJPE': pa_mpjpe(pred_joints, gt_joints),
            'MPVE': mpve(pred_vertices, gt_vertices, pred_root, gt_root),
            'OCC-MPJPE': float(err[occluded].mean()) if occluded.any() else float('nan')}


def paired_difference(error_a, error_b, mask, clusters, confidence=0.95, resamples=2000, seed=0):
    """Mean of error_b - error_a over the `mask`ed entries, with a cluster-bootstrap interval.

    error_a, error_b, mask (N, ...): per-joint errors of two models on the same N people and the
    entries that count (e.g. occluded joints); clusters (N,): the group of each person (its
    scene: people of one scene share occluders, so they are resampled together). Returns
    (difference, low, high); an interval that excludes 0 is a difference the test people
    support, not one of training noise (that needs several training seeds).
    """
    from scipy.stats import bootstrap
    mask = np.asarray(mask, bool)
    diff = np.where(mask, np.asarray(error_b, np.float64) - np.asarray(error_a, np.float64), 0.0)
    diff, count = diff.reshape(len(diff), -1).sum(1), mask.reshape(len(mask), -1).sum(1)
    _, group = np.unique(np.asarray(clusters), return_inverse=True)
    sums = np.bincount(group, diff)              # per cluster: summed difference, entries
    counts = np.bincount(group, count).astype(np.float64)
    keep = counts > 0
    sums, counts = sums[keep], counts[keep]
    if len(sums) < 2:                            # no interval from fewer than two groups
        d = float(sums.sum() / counts.sum()) if len(sums) else float('nan')
        return d, float('nan'), float('nan')
    ratio = lambda s, c, axis=-1: s.sum(axis) / c.sum(axis)  # noqa: E731
    res = bootstrap((sums, counts), ratio, paired=True, vectorized=True, n_resamples=resamples,
                    confidence_level=confidence, method='percentile',
                    random_state=np.random.default_rng(seed))
    return float(sums.sum() / counts.sum()), float(res.confidence_interval.low), \
        float(res.confidence_interval.high)


def keypoint_agreement_2d(mesh_keypoints, keypoints, scores, boxes, min_score=0.3):
    """2D agreement of a mesh with the keypoints it was made from, in % of the box height.

    mesh_keypoints (N, K, 2): the mesh's keypoints projected into the image (pixels);
    keypoints (N, K, 2) and scores (N, K): the 2D keypoints (NaN where missing); boxes (N, 4)
    xyxy. Returns (N,) mean pixel distance over keypoints scored >= min_score, divided by the
    box height, x 100 (NaN for a person without such keypoints). Needs no ground truth.
    """
    mesh = np.asarray(mesh_keypoints, np.float64)
    kp = np.asarray(keypoints, np.float64)
    ok = (np.asarray(scores) >= min_score) & np.isfinite(kp).all(-1) & np.isfinite(mesh).all(-1)
    dist = np.where(ok, np.linalg.norm(np.nan_to_num(mesh - kp), axis=-1), 0.0)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(ok.any(-1), dist.sum(-1) / ok.sum(-1) / height * 100.0, np.nan)


def cluster_bootstrap_difference(sums_a, counts_a, sums_b, counts_b, confidence=0.95,
                                 resamples=2000, seed=0):
    """Difference of two pooled means (B - A) with a paired cluster-bootstrap interval.

    Each cluster (a sequence, or a block of frames) holds a summed error and a count for each
    run, e.g. two runs of the node with different parameters on the same bags; the people they
    match need not be the same. Clusters are resampled together for both runs. Returns
    (difference, low, high) (NaN interval with fewer than two usable clusters).
    """
    a_s, a_c, b_s, b_c = (np.asarray(x, np.float64) for x in (sums_a, counts_a, sums_b,
                                                              counts_b))
    keep = (a_c > 0) & (b_c > 0)
    a_s, a_c, b_s, b_c = a_s[keep], a_c[keep], b_s[keep], b_c[keep]
    if not len(a_s):
        return float('nan'), float('nan'), float('nan')
    diff = b_s.sum() / b_c.sum() - a_s.sum() / a_c.sum()
    if len(a_s) < 2:
        return float(diff), float('nan'), float('nan')
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a_s), size=(resamples, len(a_s)))
    boot = b_s[idx].sum(1) / np.maximum(b_c[idx].sum(1), 1e-12) \
        - a_s[idx].sum(1) / np.maximum(a_c[idx].sum(1), 1e-12)
    alpha = (1 - confidence) / 2
    return float(diff), float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha))


def sequence_error_sums(pred_joints, pred_translation, gt_joints, gt_translation):
    """Sums and counts over tracks of frames (B, T) in metres, NaN where nothing was predicted.

    Returns [MPJPE sum, frames, ACC-ERR sum, accelerations, translation error sum] (mm,
    mm/frame^2; pelvis-aligned joints, accelerations over runs of predicted frames): add them
    over groups of tracks, then MPJPE = sums[0] / sums[1], ACC-ERR = sums[2] / sums[3],
    translation error = sums[4] / sums[1].
    """
    gj = gt_joints * 1000.0
    pj = pred_joints * 1000.0
    ok = np.isfinite(pj).all(axis=(-1, -2))                        # (B, T)
    err = per_joint_error(np.nan_to_num(pj), gj, root=0).mean(-1)  # (B, T)
    acc, acc_ok = acceleration_errors(pj, gj, ok)                 # (B, T-2)
    terr = np.linalg.norm(np.nan_to_num(pred_translation) - gt_translation, axis=-1) * 1000.0
    return np.array([err[ok].sum(), ok.sum(), acc[acc_ok].sum(), acc_ok.sum(),
                     terr[ok].sum()])
