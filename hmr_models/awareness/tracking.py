"""Velocity of a body from its recent positions, and its tracking state."""
from collections import deque
from enum import IntEnum

import numpy as np


class TrackState(IntEnum):
    """Values match hmr_ros/msg/BodyTrackingState."""

    TRACKED = 1    # seen in the newest image
    OCCLUDED = 2   # not seen for less than the prediction timeout: predicted
    LOST = 3       # not seen for the prediction timeout: dropped


def track_state(time_since_seen, prediction_timeout):
    if time_since_seen <= 1e-9:
        return TrackState.TRACKED
    return TrackState.OCCLUDED if time_since_seen < prediction_timeout else TrackState.LOST


class VelocityEstimator:
    """Linear and yaw velocity: least-squares slope of the samples of the last `window` seconds.

    A sample with the same stamp as the newest one replaces it (the same image seen twice).
    """

    def __init__(self, window=0.5, max_samples=64):
        self.window = float(window)
        self.samples = deque(maxlen=max_samples)   # (stamp, position (3,), yaw)

    def add(self, stamp, position, yaw=0.0):
        if self.samples and abs(self.samples[-1][0] - stamp) < 1e-6:
            self.samples.pop()
        if self.samples and stamp < self.samples[-1][0]:
            return  # older than what we have: ignore
        self.samples.append((float(stamp), np.asarray(position, np.float64), float(yaw)))
        while self.samples and stamp - self.samples[0][0] > self.window:
            self.samples.popleft()

    def velocity(self):
        """(linear (3,), yaw rate) in units per second; zeros with fewer than two samples."""
        if len(self.samples) < 2:
            return np.zeros(3), 0.0
        t = np.array([s[0] for s in self.samples])
        t = t - t.mean()
        denom = float(t @ t)
        if denom < 1e-12:
            return np.zeros(3), 0.0
        p = np.stack([s[1] for s in self.samples])
        yaw = np.unwrap(np.array([s[2] for s in self.samples]))
        return (t @ (p - p.mean(0))) / denom, float(t @ (yaw - yaw.mean()) / denom)
