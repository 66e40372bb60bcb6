"""Is a person facing or pointing at something? Geometry on the body and joint frames.

All inputs are in one frame whose `up` axis is given (a robot frame: z up); targets are points
of that frame (the robot's origin by default).
"""
import numpy as np


def _horizontal(v, up):
    v = np.asarray(v, np.float64)
    up = np.asarray(up, np.float64)
    return v - (v @ up) * up


def facing_angle(body, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)):
    """Angle (radians, 0..pi) between where a body faces and the direction to `target`.

    ``body``: 4x4 body frame (REP-155 ``body_<id>``: x forward), in the frame of `target`.
    """
    forward = _horizontal(body[:3, 0], up)
    to_target = _horizontal(np.asarray(target, np.float64) - body[:3, 3], up)
    n = np.linalg.norm(forward) * np.linalg.norm(to_target)
    if n < 1e-9:
        return float(np.pi)
    return float(np.arccos(np.clip(forward @ to_target / n, -1.0, 1.0)))


def pointing_miss(shoulder, elbow, wrist, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0),
                  min_straightness=0.9, max_drop=np.radians(50)):
    """How far (metres, on the ground plane) an arm's pointing ray passes from `target`.

    The arm points when it is straight (shoulder-wrist distance at least `min_straightness` of
    the arm's length) and not hanging (at most `max_drop` below the horizontal); the ray goes
    from the shoulder through the wrist, forward only. Returns None when the arm does not point
    or points away.
    """
    s, e, w = (np.asarray(p, np.float64) for p in (shoulder, elbow, wrist))
    direction = w - s
    reach = np.linalg.norm(direction)
    length = np.linalg.norm(e - s) + np.linalg.norm(w - e)
    if reach < 1e-6 or reach < min_straightness * length:
        return None
    up = np.asarray(up, np.float64)
    if direction @ up / reach < -np.sin(max_drop):
        return None
    d = _horizontal(direction, up)
    to_target = _horizontal(np.asarray(target, np.float64) - s, up)
    along = d @ to_target / max(d @ d, 1e-12)
    if along <= 0:
        return None
    return float(np.linalg.norm(to_target - along * d))
