"""SMPL motion sequences: the retargeted form of every clip, and what augmentation works on.

World frame of a motion: y up, floor at y = 0, metres; ``trans`` is smplx's ``transl`` (the
pelvis sits at ``rest_joints[0] + trans``). Pose: axis-angle per SMPL joint, global
orientation first (the SMPL parameter layout).
"""
from dataclasses import dataclass, field, replace
import json

import numpy as np

from hmr_models.skeleton import SMPL24_PARENTS

from hmr_models.geometry.rotations_np import axis_angle_to_matrix, matrix_to_axis_angle, \
    slerp_matrices
from hmr_models.geometry.kinematics import forward_kinematics_np


@dataclass
class SMPLMotion:
    """A clip on SMPL's 24-joint tree.

    Attributes:
        pose: (T, 72) float32 axis-angle (radians), global orientation first.
        trans: (T, 3) float32 smplx translation (metres, y-up world, floor y = 0).
        fps: frame rate (Hz).
        name: clip id.
        meta: provenance (dataset, licence, source file, labels) and retargeting figures.
    """

    pose: np.ndarray
    trans: np.ndarray
    fps: float
    name: str = ''
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.pose = np.asarray(self.pose, np.float32).reshape(-1, 72)
        self.trans = np.asarray(self.trans, np.float32).reshape(-1, 3)
        if len(self.pose) != len(self.trans):
            raise ValueError(f'{self.name}: pose has {len(self.pose)} frames, trans '
                             f'{len(self.trans)}')

    def __len__(self):
        return int(self.pose.shape[0])

    @property
    def duration(self):
        return len(self) / float(self.fps)

    def rotations(self):
        """(T, 24, 3, 3) local rotation matrices (float64)."""
        return axis_angle_to_matrix(self.pose.reshape(-1, 24, 3))

    def window(self, start, length):
        """Frames [start, start + length) as a new motion."""
        return replace(self, pose=self.pose[start:start + length],
                       trans=self.trans[start:start + length], meta=dict(self.meta))

    def save(self, path):
        """Write an .npz (pose, trans, fps, name, meta as JSON)."""
        np.savez_compressed(path, pose=self.pose, trans=self.trans, fps=np.float32(self.fps),
                            name=np.array(self.name), meta=np.array(json.dumps(self.meta)))

    @classmethod
    def load(cls, path):
        with np.load(path, allow_pickle=False) as z:
            return cls(pose=z['pose'], trans=z['trans'], fps=float(z['fps']),
                       name=str(z['name']), meta=json.loads(str(z['meta'])))


def smpl_forward_kinematics(pose, trans, rest_joints):
    """Joint positions of SMPL poses on a rest skeleton, without a mesh (numpy).

    Args:
        pose: (T, 72) or (T, 24, 3) axis-angle.
        trans: (T, 3) smplx translation.
        rest_joints: (24, 3) rest-pose joints of the body.
    Returns:
        (joints (T, 24, 3), global rotations (T, 24, 3, 3)), float64.
    """
    rot = axis_angle_to_matrix(np.asarray(pose, np.float64).reshape(-1, 24, 3))
    return smpl_joints_from_rotations(rot, rest_joints, trans)


def smpl_joints_from_rotations(rot, rest_joints, trans=None):
    """Joints and global rotations of local rotation matrices on a rest skeleton (numpy).

    rot (..., 24, 3, 3) -> (joints (..., 24, 3), global rotations (..., 24, 3, 3));
    `trans` (..., 3): smplx translation (None: zero).
    """
    rot = np.asarray(rot, np.float64)
    shape = rot.shape[:-3]
    rest = np.asarray(rest_joints, np.float64)
    local_t = rest - np.where(SMPL24_PARENTS[:, None] >= 0, rest[SMPL24_PARENTS], 0.0)
    local_t = np.broadcast_to(local_t, shape + (24, 3)).copy()
    if trans is not None:
        local_t[..., 0, :] += np.asarray(trans, np.float64)
    g_rot, joints = forward_kinematics_np(SMPL24_PARENTS, rot.reshape((-1, 24, 3, 3)),
                                          local_t.reshape((-1, 24, 3)))
    return joints.reshape(shape + (24, 3)), g_rot.reshape(shape + (24, 3, 3))


def resample(motion, fps=30.0, times=None, time_scale=1.0):
    """Resample a motion in time (slerp for rotations, linear for translation).

    Args:
        motion: SMPLMotion at ``motion.fps``, or a motion whose ``meta['times']`` lists
            irregular frame times (seconds).
        fps: output frame rate.
        times: explicit output times (seconds) instead of a regular grid.
        time_scale: play speed; 2.0 makes the motion twice as fast (half as many frames).
    Returns:
        SMPLMotion at `fps` covering the same span (clamped to the last frame).
    """
    n = len(motion)
    src_t = np.asarray(motion.meta.get('times', np.arange(n) / motion.fps), np.float64)
    src_t = src_t / time_scale
    if times is None:
        times = np.arange(0.0, src_t[-1] - src_t[0] + 1e-9, 1.0 / fps) + src_t[0]
    times = np.clip(np.asarray(times, np.float64), src_t[0], src_t[-1])
    idx = np.clip(np.searchsorted(src_t, times, side='right') - 1, 0, n - 2) if n > 1 \
        else np.zeros(len(times), np.int64)
    if n > 1:
        w = (times - src_t[idx]) / np.maximum(src_t[idx + 1] - src_t[idx], 1e-12)
        w = np.clip(w, 0.0, 1.0)
    else:
        idx, w = np.zeros(len(times), np.int64), np.zeros(len(times))
    nxt = np.minimum(idx + 1, n - 1)
    rot = motion.rotations()
    out_rot = slerp_matrices(rot[idx], rot[nxt], w[:, None])
    trans = motion.trans.astype(np.float64)
    out_trans = trans[idx] * (1 - w[:, None]) + trans[nxt] * w[:, None]
    meta = {k: v for k, v in motion.meta.items() if k != 'times'}
    return SMPLMotion(pose=matrix_to_axis_angle(out_rot).reshape(-1, 72), trans=out_trans,
                      fps=float(fps), name=motion.name, meta=meta)
