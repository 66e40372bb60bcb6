"""Augmentation of SMPL motions: mirroring, heading, speed, windows (pure functions).

All take and return :class:`.motion.SMPLMotion`; random ones take a ``numpy.random.Generator``
so that callers control seeding.
"""
from dataclasses import replace

import numpy as np

from hmr_models.skeleton import mirror_pose

from .motion import resample
from .retarget import default_rest_joints
from hmr_models.geometry.rotations_np import axis_angle_to_matrix, axis_rotation, \
    matrix_to_axis_angle


def _pelvis(motion, rest):
    return motion.trans.astype(np.float64) + rest[0]


def mirror(motion, rest_joints=None):
    """Left-right mirror image (world x -> -x): swap sides, flip axis-angle y and z.

    The pelvis is mirrored exactly; joints are mirrored up to the (small) asymmetry of the
    body's rest skeleton.
    """
    rest = default_rest_joints() if rest_joints is None else np.asarray(rest_joints, float)
    pose = mirror_pose(motion.pose.reshape(-1, 72))
    pelvis = _pelvis(motion, rest) * np.array([-1.0, 1.0, 1.0])
    return replace(motion, pose=pose.reshape(-1, 72), trans=pelvis - rest[0],
                   meta=dict(motion.meta, mirrored=not motion.meta.get('mirrored', False)))


def rotate_yaw(motion, angle, rest_joints=None):
    """Turn the whole motion by `angle` radians about the vertical axis through the origin."""
    rest = default_rest_joints() if rest_joints is None else np.asarray(rest_joints, float)
    turn = axis_rotation([0.0, 1.0, 0.0], angle)
    pose = motion.pose.reshape(-1, 24, 3).astype(np.float64).copy()
    pose[:, 0] = matrix_to_axis_angle(turn @ axis_angle_to_matrix(pose[:, 0]))
    pelvis = _pelvis(motion, rest) @ turn.T
    return replace(motion, pose=pose.reshape(-1, 72), trans=pelvis - rest[0],
                   meta=dict(motion.meta))


def random_yaw(motion, rng, rest_joints=None):
    """Turn by a uniformly random heading."""
    return rotate_yaw(motion, rng.uniform(-np.pi, np.pi), rest_joints)


def speed_change(motion, factor):
    """Play `factor` times faster (> 1) or slower (< 1), keeping the frame rate."""
    if factor <= 0:
        raise ValueError(f'speed factor must be > 0, got {factor}')
    out = resample(motion, fps=motion.fps, time_scale=factor)
    out.meta['speed'] = motion.meta.get('speed', 1.0) * factor
    return out


def random_speed(motion, rng, low=0.8, high=1.25):
    """Speed change by a log-uniform factor in [low, high]."""
    return speed_change(motion, float(np.exp(rng.uniform(np.log(low), np.log(high)))))


def center_start(motion, rest_joints=None):
    """Move the motion so that its first pelvis position is above the origin (floor kept)."""
    rest = default_rest_joints() if rest_joints is None else np.asarray(rest_joints, float)
    shift = _pelvis(motion, rest)[0] * np.array([1.0, 0.0, 1.0])
    return replace(motion, trans=motion.trans - shift, meta=dict(motion.meta))


def random_window(motion, length, rng):
    """A random window of `length` frames (the whole motion if it is shorter)."""
    if len(motion) <= length:
        return motion
    start = int(rng.integers(0, len(motion) - length + 1))
    return motion.window(start, length)


def augment(motion, rng, rest_joints=None, p_mirror=0.5, speed=(0.8, 1.25), yaw=True):
    """The usual chain: optional mirror, random speed, random heading."""
    if rng.random() < p_mirror:
        motion = mirror(motion, rest_joints)
    if speed is not None:
        motion = random_speed(motion, rng, *speed)
    if yaw:
        motion = random_yaw(motion, rng, rest_joints)
    return motion
