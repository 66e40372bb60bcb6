"""The floor of a fixed camera, found from where people's feet are.

A robot that knows its floor (TF) sizes and places people from it (hmr_models.fitting.floor).
A fixed camera without TF can learn it: people walk on the floor, so the meshes' ankles over a
few seconds lie on a plane a few centimetres above it. The networks give everybody about the
mean body size, and a body scaled about the camera centre keeps its projection, so a person k
times the mean size is seen 1 / k times as far, on a plane parallel to the floor: the plane's
direction (up) does not depend on anybody's size, and its distance is that of the crowd's
typical (median) person. Once the floor is known, FloorContact sizes each person relative to
it, as with TF.

The model is written in log-depth. One view places an ankle well across its image ray and
badly along it (a few percent of its depth, more for a far person). For the floor's up n, an
ankle point p lies log(-n.p) below the camera in log terms, and on ray r (r_z = 1) at depth z
that is log z + log(-n.r): with p on the floor of person t (k_t times the mean size),

    log(-n.p) = log d - log k_t + noise,

with the noise relative and alike at every distance, and the person's size a constant of
their own. Per person and frame the lower of the two seen ankles is the one on the floor (the
other may be in the air). For each candidate up (a grid over the camera's pitch and roll),
each person's constant is their median; the cost adds the feet's robust spread about it
(Geman-McClure on DEPTH_SIGMA: a bad estimate saturates) and the persons' spread about the
crowd's median (SIZE_SIGMA). The best up is accepted only when the cost's curvature pins its
tilt to a degree (one person standing still, or people walking one way, do not), when most
feet agree with it (a panning camera's floor moves) and when it is not at the grid's edge.
Points come from the per-frame estimates with the floor's own size factor undone, so that a
floor once found does not feed on itself.
"""
from collections import deque
import logging
import math

import numpy as np

log = logging.getLogger(__name__)

MIN_SCORE = 0.4          # an ankle keypoint must be this confident to count as a contact
EDGE = 0.02              # ... and not on the image's bottom edge (a foot cut off below it)
MIN_FEET = 40            # person-frames with a seen ankle before a first fit
MIN_TRACK_FEET = 6       # a person's before they count
MAX_FEET = 500           # the fit uses at most this many (evenly spread over the window)
DEPTH_SIGMA = 0.06       # an ankle's depth error along its ray, relative (robust scale)
SIZE_SIGMA = 0.08        # people's sizes about the crowd's (as RefineConfig.refine_size_sigma)
# A person's consecutive frames err alike (a posture's depth error lasts): this many count
# as one in the fit's confidence.
ALIKE_FRAMES = 15
MAX_TILT_SD_DEG = 1.0    # the floor's tilt must be known this well (standard error) ...
KEEP_TILT_SD_DEG = 3.0   # ... and a floor once found is kept while a refit knows it this well
MIN_AGREE = 0.5          # share of the feet within 2 DEPTH_SIGMA of their person's plane
PITCH_DEG = (-30.0, 80.0)    # the grid of camera pitches (looking down) ...
ROLL_DEG = (-40.0, 40.0)     # ... and rolls searched, coarse then fine
GRID_DEG = (4.0, 1.0, 0.5)   # the grid's steps, coarse to fine
HEIGHT_RANGE_M = (0.3, 30.0)
_ROBUST = 2.0            # Geman-McClure's scale, in DEPTH_SIGMA
_SMPL_ANKLES = (7, 8)    # SMPL-24 left/right ankle, seen as COCO-17's 15/16
_COCO_ANKLES = (15, 16)


def ankle_clearance(v_template, j_regressor):
    """Height (metres) of the body model's ankle joints over its soles in the rest pose (y up)."""
    v = np.asarray(v_template, np.float64)
    joints = np.asarray(j_regressor, np.float64) @ v
    return float(joints[list(_SMPL_ANKLES), 1].mean() - v[:, 1].min())


def up_vector(pitch, roll):
    """Gravity's up (..., 3) in the optical frame of a camera pitched and rolled.

    pitch: radians looking down, roll: radians about the optical axis (broadcast).
    """
    pitch, roll = np.broadcast_arrays(np.asarray(pitch, np.float64), np.asarray(roll, np.float64))
    return np.stack([-np.sin(roll) * np.cos(pitch), -np.cos(roll) * np.cos(pitch),
                     -np.sin(pitch)], -1)


def floor_cost(feet, track, ups, weight=1.0):
    """Cost (G,) of each candidate up (G, 3) for people's feet.

    feet (M, 2, 3): a person's two ankle points in one frame (camera frame; NaN: not seen),
    track (M,): whose. Also returns each candidate's crowd log-distance (G,): log of the
    ankles' plane's distance from the camera for the crowd's typical person, and the share of
    feet that agree (G,). weight: how many person-frames each stands for (a subsample's).
    """
    drop = -np.einsum('gc,mkc->gmk', ups, feet)                     # below the camera, along up
    with np.errstate(invalid='ignore', divide='ignore'):
        s = np.log(np.where(drop > 1e-3, drop, np.nan))              # NaN: above it, or unseen
    s = np.fmax(s[..., 0], s[..., 1])                                # (G, M): the lower ankle
    ids, tidx, counts = np.unique(track, return_inverse=True, return_counts=True)
    own = np.empty((len(ups), len(ids)))                             # each person's constant
    low = np.where(np.isfinite(s), s, -np.inf)          # (no ankle below the camera: above it)
    for j in range(len(ids)):
        own[:, j] = np.median(low[:, tidx == j], 1)
    own[~np.isfinite(own)] = np.nan
    r = (s - np.where(np.isfinite(own), own, 0.0)[:, tidx]) / DEPTH_SIGMA
    r = np.where(np.isfinite(r), r, 1e3)                             # no floor below it
    c2 = _ROBUST ** 2
    data = (c2 * r ** 2 / (c2 + r ** 2)).sum(1) * weight / ALIKE_FRAMES
    crowd = _weighted_median_rows(own, counts)
    q = (own - crowd[:, None]) / SIZE_SIGMA
    prior = np.where(np.isfinite(q), c2 * q ** 2 / (c2 + q ** 2), c2).sum(1)
    agree = (np.abs(r) < 2.0).mean(1)
    return 0.5 * (data + prior), crowd, agree


def _weighted_median_rows(values, weights):
    """Per row of values (G, T), the median weighted by (T,) weights (NaN values ignored)."""
    v = np.where(np.isfinite(values), values, np.inf)
    order = np.argsort(v, 1)
    w = np.where(np.isfinite(np.take_along_axis(values, order, 1)), weights[order], 0.0)
    cum = np.cumsum(w, 1)
    at = (cum < 0.5 * cum[:, -1:]).sum(1).clip(0, values.shape[1] - 1)
    return np.take_along_axis(np.take_along_axis(v, order, 1), at[:, None], 1)[:, 0]


def fit_floor(feet, track, weight=1.0):
    """The floor that fits people's feet (M, 2, 3) of persons `track` (M,) best (floor_cost).

    Returns the up direction (3,), the ankles' plane's distance for the crowd's typical
    person, the tilt's standard error (degrees), the share of feet that agree, and whether
    the best is inside the grid searched. weight: how many person-frames each stands for.
    """
    def grid(pitches, rolls):
        pp, rr = np.meshgrid(pitches, rolls, indexing='ij')
        cost, crowd, agree = floor_cost(feet, track, up_vector(pp.ravel(), rr.ravel()), weight)
        return pp, rr, cost.reshape(pp.shape), crowd.reshape(pp.shape), agree.reshape(pp.shape)

    # coarse over the whole range, then finer around the best (each level +-1 coarser step)
    pp, rr, cost, crowd, agree = grid(
        np.arange(*np.radians(PITCH_DEG) + [0, 1e-9], np.radians(GRID_DEG[0])),
        np.arange(*np.radians(ROLL_DEG) + [0, 1e-9], np.radians(GRID_DEG[0])))
    i, j = np.unravel_index(np.argmin(cost), cost.shape)
    inside = 0 < i < cost.shape[0] - 1 and 0 < j < cost.shape[1] - 1
    for coarser, finer in zip(GRID_DEG, GRID_DEG[1:]):
        n = int(round(coarser / finer))
        steps = np.radians(finer) * np.arange(-n, n + 1)
        pp, rr, cost, crowd, agree = grid(pp[i, j] + steps, rr[i, j] + steps)
        i, j = np.unravel_index(np.argmin(cost), cost.shape)
    i, j = min(max(i, 1), cost.shape[0] - 2), min(max(j, 1), cost.shape[1] - 2)
    # curvature from the 3 x 3 neighbourhood: second differences -> Hessian (pitch, roll)
    h = np.radians(GRID_DEG[-1])
    c = cost[i - 1:i + 2, j - 1:j + 2]
    hpp = (c[2, 1] - 2 * c[1, 1] + c[0, 1]) / h ** 2
    hrr = (c[1, 2] - 2 * c[1, 1] + c[1, 0]) / h ** 2
    hpr = (c[2, 2] - c[2, 0] - c[0, 2] + c[0, 0]) / (4 * h ** 2)
    # a roll of dr tilts the floor by cos(pitch) dr: the Hessian in tilt angles
    cp = max(math.cos(pp[i, j]), 1e-3)
    hess = np.array([[hpp, hpr / cp], [hpr / cp, hrr / cp ** 2]])
    low = np.linalg.eigvalsh(hess)[0]
    tilt_sd = math.degrees(1.0 / math.sqrt(low)) if low > 0 else float('inf')
    up = up_vector(pp[i, j], rr[i, j])
    return up, float(np.exp(crowd[i, j])), tilt_sd, float(agree[i, j]), inside


class FloorFromPeople:
    """Collects people's ankles over time and fits the floor they walk on.

    ankle_height: the body model's ankle joints over its soles (`ankle_clearance`);
    window: how many recent person-frames are kept; refit_every: frames between fits until
    the floor is found (then refit_found).
    `observe(...)` once per frame; `floor` is (up, camera height) or None; `apply(camera)`
    gives the camera with it (a camera that already knows its floor is left alone).
    """

    def __init__(self, ankle_height, window=1500, refit_every=15, refit_found=150):
        self.ankle_height = float(ankle_height)
        self.feet = deque(maxlen=int(window))     # rows: track id, two ankles' x y z
        self.refit_every, self.refit_found = int(refit_every), int(refit_found)
        self.floor = None
        self.frames = 0
        self.tilt_sd = float('nan')      # the latest fit's standard error of the tilt, degrees
        self.found_tilt_sd = float('nan')   # ... and that of the floor in use
        self.last_reason = 'no ankles seen yet'
        self.camera_knows = False        # the latest camera came with its own floor (TF)

    @classmethod
    def for_body(cls, body, **kwargs):
        """The estimator for meshes of `body` (a BodyModel: its ankles' clearance)."""
        smpl = body.smpl
        return cls(ankle_clearance(smpl.v_template.detach().cpu().numpy(),
                                   smpl.J_regressor.detach().cpu().numpy()), **kwargs)

    def reset(self):
        """A new stream (another camera or video): forget the feet and the floor."""
        self.feet.clear()
        self.floor = None
        self.frames = 0
        self.last_reason = 'no ankles seen yet'

    def apply(self, camera):
        """`camera` with the found floor, or as it is (no floor yet, or its own already)."""
        self.camera_knows = camera is not None and getattr(camera, 'floor', None) is not None
        if self.floor is None or camera is None or self.camera_knows:
            return camera
        return camera.with_floor(*self.floor)

    def observe(self, bodies, people, camera):
        """Add one frame's seen ankles (per-frame BodyEstimate and its People); refit now and then.

        Returns True when this call found or lost the floor.
        """
        if bodies is not None and len(bodies) and len(people) == len(bodies):
            self._add(bodies, people, camera)
        self.frames += 1
        if self.frames % (self.refit_every if self.floor is None else self.refit_found):
            return False
        return self.refit()

    def _add(self, bodies, people, camera):
        joints = np.asarray(bodies.joints, np.float64)
        size = np.zeros(len(bodies)) if bodies.size is None else \
            np.nan_to_num(np.asarray(bodies.size, np.float64), nan=0.0)
        scores = np.nan_to_num(np.asarray(people.keypoint_scores, np.float64))
        kp = np.asarray(people.keypoints, np.float64)[:, list(_COCO_ANKLES)]
        with np.errstate(invalid='ignore'):
            seen = (scores[:, list(_COCO_ANKLES)] >= MIN_SCORE) & np.isfinite(kp).all(2) & \
                (kp[..., 1] < (1.0 - EDGE) * camera.height)
        ankles = joints[:, list(_SMPL_ANKLES)] * np.exp(-size)[:, None, None]   # usual size
        seen &= np.isfinite(ankles).all(2) & (ankles[..., 2] > 0.1)
        ankles[~seen] = np.nan
        tracks = np.asarray(people.track_ids, np.float64)   # -1 (untracked): one group
        rows = np.column_stack([tracks, ankles.reshape(-1, 6)])[seen.any(1)]
        self.feet.extend(rows)

    def refit(self):
        """Fit the floor to the feet seen so far; True when it was found or lost."""
        before = self.floor
        self.floor, self.last_reason = self._fit()
        if (before is None) != (self.floor is None):
            log.info(self.describe())
            return True
        return False

    def describe(self):
        """One line for the log: the floor found, or why there is none."""
        if self.camera_knows:
            return 'floor from people: not used, the camera knows its floor (TF)'
        if self.floor is None:
            return f'floor from people: none yet ({self.last_reason})'
        up, height = self.floor
        return (f'floor from people: the camera {height:.2f} m above it, looking '
                f'{look_down_deg(up):.0f} deg down (tilt known to {self.found_tilt_sd:.1f} deg, '
                f'{len(self.feet)} person-frames): people on it get their size and distance '
                'from it')

    def _fit(self):
        """((up, camera height) or None, why not)."""
        if len(self.feet) < MIN_FEET:
            return None, f'{len(self.feet)} person-frames with an ankle seen, {MIN_FEET} needed'
        rows = np.array(self.feet)
        ids, counts = np.unique(rows[:, 0], return_counts=True)
        rows = rows[np.isin(rows[:, 0], ids[counts >= MIN_TRACK_FEET])]
        if len(rows) < MIN_FEET:
            return None, f'{len(rows)} person-frames of people seen long enough'
        weight = max(len(rows) / MAX_FEET, 1.0)
        if len(rows) > MAX_FEET:
            rows = rows[np.linspace(0, len(rows) - 1, MAX_FEET).astype(int)]
        up, distance, self.tilt_sd, agree, inside = fit_floor(
            rows[:, 1:].reshape(-1, 2, 3), rows[:, 0], weight)
        if agree < MIN_AGREE:
            return None, f'{100 * agree:.0f} % of the feet on one floor (moving camera?)'
        if not inside:
            return None, 'the best floor is at the edge of the pitches and rolls searched'
        if self.tilt_sd > MAX_TILT_SD_DEG:
            # a fixed camera's floor does not move: a window of fewer walkers keeps it
            keep = self.floor if self.tilt_sd <= KEEP_TILT_SD_DEG else None
            return keep, (f"the floor's tilt is only known to {self.tilt_sd:.1f} deg, "
                          f'{MAX_TILT_SD_DEG} needed (people standing still or walking one way)')
        height = distance + self.ankle_height
        if not HEIGHT_RANGE_M[0] <= height <= HEIGHT_RANGE_M[1]:
            return None, f'the camera would be {height:.2f} m above the floor'
        self.found_tilt_sd = self.tilt_sd
        return (tuple(float(x) for x in up), float(height)), ''


def look_down_deg(up):
    """How far the optical axis (z) looks below the horizon, given up."""
    return math.degrees(math.asin(float(np.clip(-up[2], -1.0, 1.0))))
