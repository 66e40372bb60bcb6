"""Size and distance of people standing on a known floor.

One view's keypoints fix a body's outline, not its size: a child near the camera and an adult
further away project the same. The networks and the keypoint fit therefore give everybody about
the body model's mean size, and a short person is placed too far away (eval_real.py: 623 mm
for the shorter of two people, 160 mm for the taller; docs/RESULTS.md). Where the robot knows
the floor (the camera's height above it and which way is up, from TF), the lowest body keypoint
of a person standing, sitting or lying on it is a few centimetres above it, and that sets the
scale: scaling a body about the camera centre by k keeps its projection exactly and moves its
lowest keypoint's height above the floor from H + d to H + k d (d < 0: that keypoint's height
relative to the camera along up, H: the camera's height).

Per person, l = log k minimises

    l^2 / sigma_size^2 + psi(H + e^l d - c) / sigma_floor^2

(c: the lowest keypoint's usual height above the floor). psi is quadratic below the floor (no
one's feet are under it) and Geman-McClure above it with scale `refine_floor_robust`: a person
on a box, on stairs or in the air stays at the size prior instead of being pushed away. The
1-D cost is minimised on a grid (robust costs have several minima; the grid is exact to
FLOOR_GRID_STEP and costs microseconds).

The scale goes into the SMPL parameters, so every consumer of (pose, betas, translation) sees
it: betas' = k beta + (k - 1) s, with s the shape coefficients that best scale the template
about its root (least squares over the vertices: 5.7 mm RMS at k = 0.9 on the open body), and
the translation that puts the root joint at k times its old place.
"""
import numpy as np

FLOOR_GRID_STEP = 0.004                 # log-scale resolution of the search (0.4 %)
FLOOR_SCALE_RANGE = (0.45, 1.45)        # a 0.75 m toddler to a 2.4 m giant, from a 1.7 m mean
MIN_DROP = 0.3                          # metres the contact must be below the camera
_BODY = np.arange(5, 17)                # COCO-17 keypoints that can touch the floor (no face)
_ANKLES = (15, 16)


def scale_shape_direction(v_template, shapedirs, root_regressor):
    """(B,) betas that scale the template about its root joint by 1 + 1 (least squares).

    v_template (V, 3), shapedirs (V, 3, B), root_regressor (V,): the root joint's row of the
    joint regressor. Both sides are taken relative to the root joint, which moves with the
    betas too (the translation puts it back).
    """
    v = np.asarray(v_template, np.float64)
    s = np.asarray(shapedirs, np.float64)
    r = np.asarray(root_regressor, np.float64)
    target = (v - r @ v).reshape(-1)
    a = (s - np.einsum('v,vcb->cb', r, s)[None]).reshape(-1, s.shape[-1])
    return np.linalg.lstsq(a, target, rcond=None)[0]


class FloorContact:
    """Per-person scale from a known floor (see the module docstring).

    skeleton: hmr_models.fitting.KeypointSkeleton of the body; scale_betas: its
    :func:`scale_shape_direction`; config: a RefineConfig (its refine_floor_* and
    refine_size_sigma fields).
    """

    def __init__(self, skeleton, scale_betas, config):
        self.skeleton = skeleton
        self.scale_betas = np.asarray(scale_betas, np.float64)
        self.config = config
        lo, hi = np.log(FLOOR_SCALE_RANGE)
        self.grid = np.arange(lo, hi + 1e-9, FLOOR_GRID_STEP)

    def enabled(self, camera):
        return (self.config.refine_floor_sigma > 0 and camera is not None
                and getattr(camera, 'up', None) is not None
                and getattr(camera, 'floor', None) is not None)

    def log_scale(self, keypoints, observed, camera):
        """(N,) log k per person (0 where the floor says nothing) and (N,) bool: used.

        keypoints (N, 17, 3): the body's COCO-17 keypoints (camera frame); observed (N, 17)
        bool: keypoints the detector saw (only those can be trusted to touch the floor).
        A person counts when an ankle was seen and the lowest seen body keypoint is at least
        MIN_DROP below the camera.
        """
        cfg = self.config
        n = keypoints.shape[0]
        out, used = np.zeros(n), np.zeros(n, bool)
        if n == 0:
            return out, used
        up = np.asarray(camera.up, np.float64)
        height = float(camera.floor)
        rel = keypoints[:, _BODY] @ up                               # (N, 12) height - H
        seen = observed[:, _BODY]
        drop = np.where(seen, rel, np.inf).min(1)                    # lowest seen keypoint
        used = observed[:, list(_ANKLES)].any(1) & np.isfinite(drop) & \
            (drop < -MIN_DROP) & (height - cfg.refine_floor_clearance > MIN_DROP)
        if not used.any():
            return out, used
        k = np.exp(self.grid)[None, :]                               # (1, G)
        above = height + k * drop[used, None] - cfg.refine_floor_clearance   # (M, G)
        r2 = above ** 2
        c2 = cfg.refine_floor_robust ** 2
        psi = np.where(above < 0, r2, r2 * c2 / (c2 + r2) if c2 > 0 else r2)
        cost = (self.grid[None, :] / cfg.refine_size_sigma) ** 2 + psi / cfg.refine_floor_sigma ** 2
        out[used] = self.grid[cost.argmin(1)]
        return out, used

    def rescale(self, betas, transl, ell):
        """(betas, translation) of bodies scaled by exp(ell) (N,) about the camera centre.

        The pose is unchanged; rescale(*rescale(b, t, ell), -ell) gives (b, t) back.
        """
        sk = self.skeleton
        betas = np.asarray(betas, np.float64)
        transl = np.asarray(transl, np.float64)
        k = np.exp(np.asarray(ell, np.float64))[:, None]
        new_betas = k * betas + (k - 1.0) * self.scale_betas
        root = lambda b: sk.rest[0] + np.einsum('cb,nb->nc', sk.rest_dirs[0], b)  # noqa: E731
        return new_betas, k * (root(betas) + transl) - root(new_betas)
