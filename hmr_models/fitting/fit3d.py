"""The body fitted to 3D keypoints: how well the body model can place COCO joints at all.

    pose, betas, transl = fit_to_points(skeleton, points, valid)

Used as the "joint-placement ceiling" of a benchmark: the body, driven by the pose that best
explains a 3D reference, still differs from the reference where the body's keypoint regressor
and the reference's keypoint conventions disagree (e.g. MoveNet's hips sit elsewhere than the
body's). Levenberg-Marquardt on pose (24 rotations), betas and translation from the rest pose
turned onto the reference by a Procrustes fit of the torso; a weak prior towards the rest pose
and the mean shape keeps unobserved joints (hands, feet) in place.
"""
import numpy as np

from . import so3

TORSO = (5, 6, 11, 12)


def _rigid(src, dst):
    """Rotation and translation of src (M, 3) onto dst (M, 3) (Kabsch)."""
    ms, md = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - ms).T @ (dst - md))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rot, md - rot @ ms


def fit_to_points(skeleton, points, valid=None, iterations=30, sigma=0.02, pose_sigma=1.0,
                  shape_sigma=2.0):
    """Fit the skeleton's body to N sets of 3D keypoints.

    Args:
        skeleton: KeypointSkeleton (e.g. COCO-17) of the body.
        points: (N, K, 3) target keypoints (metres; NaN where missing).
        valid: (N, K) bool (default: finite points). People with fewer than 4 valid torso+limb
            points are returned at the rest pose.
        sigma: metres of keypoint error that cost as much as pose_sigma radians of any joint.
    Returns:
        (pose (N, 72) axis-angle, betas (N, B), transl (N, 3)).
    """
    from .refine import _solve_spd
    pts = np.asarray(points, np.float64)
    n, k = pts.shape[:2]
    ok = np.isfinite(pts).all(-1) if valid is None else (np.asarray(valid, bool)
                                                         & np.isfinite(pts).all(-1))
    target = np.nan_to_num(pts)
    nb = skeleton.num_betas
    rot = np.broadcast_to(np.eye(3), (n, 24, 3, 3)).copy()
    betas = np.zeros((n, nb))
    transl = np.zeros((n, 3))
    rest = skeleton.pose(rot, betas, transl).keypoints
    for i in range(n):
        m = ok[i].copy()
        torso = np.zeros(k, bool)
        torso[list(TORSO)] = True
        use = m & torso if (m & torso).sum() >= 3 else m
        if use.sum() >= 3:
            r, t = _rigid(rest[i, use], target[i, use])
            rot[i, 0] = r
            transl[i] = t + (r - np.eye(3)) @ skeleton.rest[0]
    npar = 72 + 3 + nb
    damping = np.full(n, 1e-3)
    inv_prior = np.concatenate([np.full(72, 1.0 / pose_sigma ** 2), np.zeros(3),
                                np.full(nb, 1.0 / shape_sigma ** 2)])
    inv_prior[:3] = 0.0                                  # the orientation is free

    def cost_of(rot, betas, transl):
        posed = skeleton.pose(rot, betas, transl)
        res = np.where(ok[..., None], posed.keypoints - target, 0.0) / sigma
        pose_aa = so3.log(rot).reshape(n, 72)
        prior = np.concatenate([pose_aa, transl, betas], 1)
        return (res ** 2).sum((1, 2)) + (inv_prior * prior ** 2).sum(1), posed, res, pose_aa

    cost, posed, res, pose_aa = cost_of(rot, betas, transl)
    for _ in range(iterations):
        d_rot = skeleton.rotation_jacobian(posed)                        # (N, K, 24, 3, 3)
        jx = np.concatenate([d_rot.transpose(0, 1, 3, 2, 4).reshape(n, k, 3, 72),
                             np.broadcast_to(np.eye(3), (n, k, 3, 3)),
                             skeleton.shape_jacobian(posed)], -1) / sigma
        jx = np.where(ok[..., None, None], jx, 0.0).reshape(n, 3 * k, npar)
        hess = np.swapaxes(jx, 1, 2) @ jx
        grad = (np.swapaxes(jx, 1, 2) @ res.reshape(n, 3 * k, 1))[..., 0]
        # prior on the local rotations: approximately d log(R exp(d)) = J_r^-1 d
        hess[:, np.arange(npar), np.arange(npar)] += inv_prior
        grad += inv_prior * np.concatenate([pose_aa, transl, betas], 1)
        hess += damping[:, None, None] * np.eye(npar) * (1e-6 + np.diagonal(
            hess, axis1=1, axis2=2)[:, None, :])
        step = _solve_spd(hess, -grad)
        new_rot = rot @ so3.exp(step[:, :72].reshape(n, 24, 3))
        new_t, new_b = transl + step[:, 72:75], betas + step[:, 75:]
        new_cost, new_posed, new_res, new_aa = cost_of(new_rot, new_b, new_t)
        better = new_cost < cost
        damping = np.where(better, np.maximum(damping / 3.0, 1e-7), damping * 10.0)
        sel = better[:, None]
        rot = np.where(better[:, None, None, None], new_rot, rot)
        transl, betas = np.where(sel, new_t, transl), np.where(sel, new_b, betas)
        res = np.where(better[:, None, None], new_res, res)
        pose_aa = np.where(sel, new_aa, pose_aa)
        cost = np.where(better, new_cost, cost)
        posed = skeleton.pose(rot, betas, transl)
    return so3.log(rot).reshape(n, 72), betas, transl
