"""Source motion: a mocap clip on its own skeleton, as parsed, before retargeting.

Every parser (BVH, DeepMimic) returns a :class:`SourceMotion`: a joint tree with local
rotations and translations per frame. ``hmr_models.geometry.kinematics.forward_kinematics_np``
turns it into global joint positions and rotations in the source's world frame;
``to_smpl_axes`` maps that frame onto SMPL's (x = body left, y = up, z = forward is
irrelevant here: only y = up and handedness matter, since the heading in the world is arbitrary).
"""
from dataclasses import dataclass, field

import numpy as np

from hmr_models.geometry.kinematics import forward_kinematics_np


class MocapFormatError(ValueError):
    """A motion file that cannot be parsed; the message names the file and the problem."""


@dataclass
class SourceMotion:
    """A parsed clip.

    Attributes:
        names: (J,) joint names; end sites are joints named ``<parent>_end``.
        parents: (J,) int64 parent index, -1 for the root; parents come before children.
        offsets: (J, 3) rest offset of each joint from its parent, source units.
        rotations: (T, J, 3, 3) local rotation of each joint (relative to its parent).
        translations: (T, J, 3) local translation of each joint; the root's is its position
            in the world. Joints without position channels repeat their offset.
        times: (T,) frame times in seconds, starting at 0 (not always uniform).
        to_smpl_axes: (3, 3) rotation from the source world axes to SMPL's (y up).
        units_to_m: metres per source unit (informative: retargeting rescales anyway).
        name: clip identifier, for messages.
        meta: free-form provenance (file, dataset, licence, labels).
    """

    names: tuple
    parents: np.ndarray
    offsets: np.ndarray
    rotations: np.ndarray
    translations: np.ndarray
    times: np.ndarray
    to_smpl_axes: np.ndarray = field(default_factory=lambda: np.eye(3))
    units_to_m: float = 1.0
    name: str = ''
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parents = np.asarray(self.parents, np.int64)
        if np.any(self.parents >= np.arange(len(self.parents))):
            raise MocapFormatError(f'{self.name}: joints must come after their parents')
        t, j = self.rotations.shape[:2]
        if self.translations.shape != (t, j, 3) or self.offsets.shape != (j, 3) \
                or len(self.names) != j or self.times.shape != (t,):
            raise MocapFormatError(f'{self.name}: inconsistent array shapes')

    @property
    def num_frames(self):
        return int(self.rotations.shape[0])

    @property
    def fps(self):
        """Mean frame rate (Hz) from the frame times."""
        if self.num_frames < 2:
            return 0.0
        return (self.num_frames - 1) / float(self.times[-1] - self.times[0])

    def index(self, name):
        """Index of joint `name` (MocapFormatError naming the clip when absent)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise MocapFormatError(f'{self.name}: no joint named {name!r} (joints: '
                                   f'{", ".join(self.names)})') from None


def world_kinematics(motion):
    """FK of a SourceMotion expressed in SMPL's axes: (rotations (T,J,3,3), positions (T,J,3)).

    Positions stay in source units; rotations are conjugated so that a global rotation maps
    SMPL-axes directions: R_smpl = C R_src C^T with C = ``motion.to_smpl_axes``.
    """
    g_rot, g_pos = forward_kinematics_np(motion.parents, motion.rotations, motion.translations)
    c = np.asarray(motion.to_smpl_axes, np.float64)
    return c @ g_rot @ c.T, g_pos @ c.T
