"""Distances on the ground plane, the nearest body part, and safety zones with hysteresis."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroundPlane:
    """The ground plane of a reference frame: its `up` and `forward` axes (unit vectors).

    Distances are measured from the frame's origin, perpendicular to `up`; bearings are
    counter-clockwise about `up`, from `forward` (left is positive).
    """

    up: tuple = (0.0, 0.0, 1.0)
    forward: tuple = (1.0, 0.0, 0.0)

    @classmethod
    def robot(cls):
        """REP-103 robot frames (base_link): z up, x forward."""
        return cls((0.0, 0.0, 1.0), (1.0, 0.0, 0.0))

    @classmethod
    def optical(cls):
        """A level camera's optical frame (no robot frame known): -y up, z forward."""
        return cls((0.0, -1.0, 0.0), (0.0, 0.0, 1.0))

    def horizontal(self, points):
        """Points (..., 3) projected onto the plane through the origin."""
        p = np.asarray(points, np.float64)
        up = np.asarray(self.up)
        return p - (p @ up)[..., None] * up

    def height(self, points):
        """Signed heights of points (..., 3) above the plane through the origin."""
        return np.asarray(points, np.float64) @ np.asarray(self.up)

    def distances(self, points):
        return np.linalg.norm(self.horizontal(points), axis=-1)

    def bearings(self, points):
        h = self.horizontal(points)
        forward = np.asarray(self.forward)
        left = np.cross(np.asarray(self.up), forward)
        return np.arctan2(h @ left, h @ forward)


@dataclass
class Nearest:
    """The nearest point of one body: where, how far, which part."""

    index: int            # vertex (or joint) index
    point: np.ndarray     # (3,) reference frame
    distance: float       # ground-plane distance from the origin
    bearing: float        # radians
    part: int             # SMPL joint index of the part holding the point


def nearest_point(points, point_parts, plane):
    """The point of `points` (P, 3) nearest to the origin on `plane`, with its part."""
    d = plane.distances(points)
    i = int(np.argmin(d))
    return Nearest(i, np.asarray(points[i], np.float64), float(d[i]),
                   float(plane.bearings(points[i])), int(point_parts[i]))


@dataclass
class ZoneEvent:
    body_id: str
    zone: str
    radius: float
    entered: bool          # False: exited
    distance: float
    predicted: bool = False
    lost: bool = False


class ZoneMonitor:
    """Who is inside which zone; events when that changes.

    A body enters a zone when its distance drops below the radius and leaves when it rises
    above radius + hysteresis, so noise around the border gives one event, not a stream.
    """

    def __init__(self, names, radii, hysteresis=0.2):
        names, radii = list(names), [float(r) for r in radii]
        if len(names) != len(radii):
            raise ValueError(f'{len(names)} zone names but {len(radii)} radii')
        if len(set(names)) != len(names):
            raise ValueError(f'zone names must be unique: {names}')
        if any(r <= 0 for r in radii) or hysteresis < 0:
            raise ValueError('zone radii must be > 0 and the hysteresis >= 0')
        # Largest first: when someone walks in, the outer zone's event comes first.
        order = sorted(range(len(names)), key=lambda i: -radii[i])
        self.zones = [(names[i], radii[i]) for i in order]
        self.hysteresis = float(hysteresis)
        self._inside = {}   # body id -> set of zone names

    def inside(self, body_id):
        return set(self._inside.get(body_id, ()))

    def update(self, body_id, distance, predicted=False):
        """Events for one body at `distance`.

        Outer zones come first when entering, inner ones first when leaving.
        """
        inside = self._inside.setdefault(body_id, set())
        entered, exited = [], []
        for name, radius in self.zones:
            if name not in inside and distance < radius:
                inside.add(name)
                entered.append(ZoneEvent(body_id, name, radius, True, distance, predicted))
            elif name in inside and distance > radius + self.hysteresis:
                inside.discard(name)
                exited.append(ZoneEvent(body_id, name, radius, False, distance, predicted))
        return entered + exited[::-1]

    def remove(self, body_id, distance=float('nan')):
        """The body is gone: EXITED (lost) for every zone it was in, innermost first.

        `distance`: the last known (or predicted) one, reported with the events.
        """
        inside = self._inside.pop(body_id, set())
        return [ZoneEvent(body_id, name, radius, False, distance, lost=True)
                for name, radius in reversed(self.zones) if name in inside]
