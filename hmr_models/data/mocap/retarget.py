"""Retarget source mocap onto SMPL's 24-joint tree.

Method (rotation transfer with a calibrated rest alignment):

1. FK of the source gives global rotations G_k(t) and positions P_k(t), in SMPL's axes.
2. Each SMPL joint j driven by source joint k gets R_j(t) = G_k(t) @ B_j, with B_j a constant
   rotation that relates the source joint's local axes to SMPL's rest frame. Rigs disagree on
   rest poses and local axes (CMU: T-pose, axes = world; DeepMimic: arms down; Bandai: every
   bone along its local x), so B_j is *fitted*: it is the rotation that best maps SMPL's rest
   bone frame onto the source's anatomical frame over the frames of one or more clips
   (chordal mean of G_k(t)^T F_j(t), F_j built from the source joint positions: the bone to
   the child as primary direction, and a secondary direction fixing the twist: the limb's
   hinge normal for arms and legs, the shoulder or hip line for the trunk). Because the
   primary bone is rigid in the source joint's frame, SMPL's bone follows the source bone
   exactly wherever the rig maps one bone to one bone; the twist comes from the source
   rotations, not guessed per frame, so straight limbs do not flip.
3. Joints whose bone has no usable source direction (zero-length end sites) are calibrated
   so that their mean local rotation over the calibration clips is the identity; joints the
   source lacks keep the parent's rotation (or are slerped between two driven joints along
   the spine, see :mod:`.rigs`).
4. The trajectory follows the source's hip centre, scaled by the ratio of leg lengths so that
   SMPL's steps match its own legs (no foot skating from a size mismatch), floor at y = 0.
"""
import logging

import numpy as np

from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS

from hmr_models.geometry.rotations_np import (align_directions, angle_between, axis_rotation,
                                              matrix_to_axis_angle, project_to_rotation,
                                              slerp_matrices)
from .motion import SMPLMotion
from .source import MocapFormatError, world_kinematics

log = logging.getLogger(__name__)

J = {n: i for i, n in enumerate(SMPL24_NAMES)}

# SMPL-like neutral rest joints (metres, y up, x = body left, z = forward), symmetric and
# rounded: only used when no body model is given (see target_rest_joints).
_HALF = {
    'pelvis': (0.0, -0.223, 0.028), 'spine1': (0.0, -0.114, 0.002),
    'spine2': (0.0, 0.021, 0.003), 'spine3': (0.0, 0.074, 0.029), 'neck': (0.0, 0.288, -0.014),
    'head': (0.0, 0.376, 0.045), 'left_hip': (0.069, -0.314, 0.023),
    'left_knee': (0.105, -0.693, 0.017), 'left_ankle': (0.085, -1.088, -0.025),
    'left_foot': (0.118, -1.146, 0.098), 'left_collar': (0.080, 0.199, -0.011),
    'left_shoulder': (0.184, 0.235, -0.020), 'left_elbow': (0.440, 0.218, -0.043),
    'left_wrist': (0.714, 0.224, -0.039), 'left_hand': (0.796, 0.214, -0.053),
}


def default_rest_joints():
    """(24, 3) SMPL-like T-pose joints (metres) for when no body model is at hand."""
    out = np.zeros((24, 3))
    for name, xyz in _HALF.items():
        out[J[name]] = xyz
        if name.startswith('left_'):
            out[J['right_' + name[5:]]] = (-xyz[0], xyz[1], xyz[2])
    return out


def target_rest_joints(body=None):
    """The rest (T-pose) joints retargeting aims at: the body model's, or SMPL-like defaults.

    Args:
        body: a :class:`hmr_models.body.BodyModel` (its joints at zero pose and mean shape), or
            None for :func:`default_rest_joints`.
    Returns:
        (24, 3) float64 metres.
    """
    if body is None:
        return default_rest_joints()
    import torch
    with torch.no_grad():
        out = body(np.zeros((1, 72), np.float32))
    return out.joints[0].detach().cpu().numpy().astype(np.float64)


# Twist reference of straight limbs in SMPL's T-pose: the axis a bending joint turns about
# (knee: +x bends the shin backwards; elbows bend the forearm forwards).
_HINGE_REST = {'left_knee': (1.0, 0.0, 0.0), 'right_knee': (1.0, 0.0, 0.0),
               'left_elbow': (0.0, -1.0, 0.0), 'right_elbow': (0.0, 1.0, 0.0)}
# Direction of a leaf's end site in the T-pose.
_END_REST = {'head': (0.0, 1.0, 0.0), 'left_foot': (0.0, 0.0, 1.0),
             'right_foot': (0.0, 0.0, 1.0), 'left_hand': (1.0, 0.0, 0.0),
             'right_hand': (-1.0, 0.0, 0.0)}


def _targets():
    """Per SMPL joint: (primary alternatives, secondary alternatives) of direction specs.

    Specs: ('bone', a, b) = point b - point a; ('end', j) = end site of j - point j;
    ('hinge', a, b, c) = normal of the bend at b; first available alternative wins.
    """
    t = {
        'pelvis': ([('bone', 'right_hip', 'left_hip')],
                   [('bone', 'pelvis', s) for s in ('spine1', 'spine2', 'spine3', 'neck')]),
        'spine1': ([('bone', 'spine1', 'spine2'), ('bone', 'spine1', 'spine3')],
                   [('bone', 'right_hip', 'left_hip')]),
        'spine2': ([('bone', 'spine2', 'spine3'), ('bone', 'spine2', 'neck')],
                   [('bone', 'right_shoulder', 'left_shoulder')]),
        'spine3': ([('bone', 'spine3', 'neck')], [('bone', 'right_shoulder', 'left_shoulder')]),
        'neck': ([('bone', 'neck', 'head')], [('bone', 'right_shoulder', 'left_shoulder')]),
        'head': ([('end', 'head')], [('bone', 'right_shoulder', 'left_shoulder')]),
    }
    for s in ('left', 'right'):
        leg = (f'{s}_hip', f'{s}_knee', f'{s}_ankle')
        arm = (f'{s}_shoulder', f'{s}_elbow', f'{s}_wrist')
        t[f'{s}_hip'] = ([('bone', leg[0], leg[1])], [('hinge',) + leg])
        t[f'{s}_knee'] = ([('bone', leg[1], leg[2])], [('hinge',) + leg])
        t[f'{s}_ankle'] = ([('bone', leg[2], f'{s}_foot')], [('hinge',) + leg])
        t[f'{s}_foot'] = ([('end', f'{s}_foot')], [('hinge',) + leg])
        t[f'{s}_collar'] = ([('bone', f'{s}_collar', arm[0])], [('bone', 'spine3', 'neck')])
        t[f'{s}_shoulder'] = ([('bone', arm[0], arm[1])], [('hinge',) + arm])
        t[f'{s}_elbow'] = ([('bone', arm[1], arm[2])], [('hinge',) + arm])
        t[f'{s}_wrist'] = ([('bone', arm[2], f'{s}_hand')], [('hinge',) + arm])
        t[f'{s}_hand'] = ([('end', f'{s}_hand')], [('hinge',) + arm])
    return t


TARGETS = _targets()


class _Geometry:
    """Source points of one clip in SMPL axes, and the direction specs evaluated on them."""

    def __init__(self, motion, rig, rest_joints):
        self.rig = rig
        self.rest = rest_joints
        self.g_rot, self.pos = world_kinematics(motion)
        self.idx = {n: i for i, n in enumerate(motion.names)}
        missing = sorted(n for n in rig.source_joints() if n not in self.idx)
        if missing:
            raise MocapFormatError(f'{motion.name}: rig {rig.name!r} needs joints {missing} '
                                   'that the clip does not have')
        # A length scale for "coincident" checks: the source's thigh.
        self.eps = 1e-3 * max(self._length('left_hip', 'left_knee'), 1e-9)

    def _length(self, a, b):
        pa, pb = self.point(a), self.point(b)
        if pa is None or pb is None:
            return 0.0
        return float(np.linalg.norm(pb[0] - pa[0]))

    def point(self, smpl_joint):
        name = self.rig.points.get(smpl_joint)
        return None if name is None else self.pos[:, self.idx[name]]

    def vector(self, spec):
        """Return (source vectors (T, 3), the (3,) rest vector, per-frame weights (T,)) or None."""
        kind = spec[0]
        if kind == 'bone':
            a, b = self.point(spec[1]), self.point(spec[2])
            if a is None or b is None:
                return None
            v = b - a
            if np.linalg.norm(v[0]) < self.eps:
                return None  # the rig puts both joints at one place (zero-length helper bone)
            return v, self.rest[J[spec[2]]] - self.rest[J[spec[1]]], np.ones(len(v))
        if kind == 'end':
            name = self.rig.ends.get(spec[1])
            p = self.point(spec[1])
            if name is None or p is None:
                return None
            v = self.pos[:, self.idx[name]] - p
            if np.linalg.norm(v[0]) < self.eps:
                return None
            return v, np.array(_END_REST[spec[1]]), np.ones(len(v))
        if kind == 'hinge':
            a, b, c = (self.point(n) for n in spec[1:])
            if a is None or b is None or c is None:
                return None
            u, w = b - a, c - b
            n = np.cross(u, w)
            sin = np.linalg.norm(n, axis=-1) / np.maximum(
                np.linalg.norm(u, axis=-1) * np.linalg.norm(w, axis=-1), 1e-12)
            return n, self.hinge_rest(*spec[1:]), sin ** 2
        raise ValueError(f'unknown direction spec {spec}')

    def hinge_rest(self, a, b, c):
        """Bend normal of the rest limb a-b-c bent 90 degrees about SMPL's hinge axis at b.

        Rest limbs are not perfectly straight nor in one plane, so the posed limb's normal
        cross(upper, lower) is compared with the same construction on the rest skeleton,
        not with the bare axis.
        """
        upper = self.rest[J[b]] - self.rest[J[a]]
        lower = self.rest[J[c]] - self.rest[J[b]]
        bent = axis_rotation(_HINGE_REST[b], np.pi / 2) @ lower
        n = np.cross(upper, bent)
        return n / np.linalg.norm(n)

    def first(self, alternatives):
        for spec in alternatives:
            v = self.vector(spec)
            if v is not None:
                return v
        return None

    def target_frames(self, smpl_joint):
        """(F_j (T, 3, 3), weights (T,)) mapping SMPL's rest frame onto the source's, or None."""
        primary, secondary = TARGETS[smpl_joint]
        p, s = self.first(primary), self.first(secondary)
        if p is None or s is None:
            return None
        frames = align_directions(p[1], s[1], p[0], s[0])
        return frames, p[2] * s[2]


def _check_rig(rig):
    for table in (rig.drivers, rig.points, rig.interpolate):
        bad = [k for k in table if k not in J]
        if bad:
            raise ValueError(f'rig {rig.name!r}: unknown SMPL joints {bad}')


def _global_rotations(geom, rig, calibration):
    """SMPL global rotations (T, 24, 3, 3) of one clip given a calibration."""
    t = geom.g_rot.shape[0]
    out = np.full((t, 24, 3, 3), np.nan)
    for name, src in rig.drivers.items():
        if name in calibration:
            out[:, J[name]] = geom.g_rot[:, geom.idx[src]] @ calibration[name]
    for j, name in enumerate(SMPL24_NAMES):
        if name in rig.interpolate:
            a, b, w = rig.interpolate[name]
            if np.isnan(out[0, J[a], 0, 0]) or np.isnan(out[0, J[b], 0, 0]):
                raise ValueError(f'rig {rig.name!r}: {name} interpolates undriven joints')
            out[:, j] = slerp_matrices(out[:, J[a]], out[:, J[b]], w)
        elif np.isnan(out[0, j, 0, 0]):
            out[:, j] = out[:, SMPL24_PARENTS[j]] if j > 0 else np.eye(3)
    return out


def calibrate(motions, rig, rest_joints=None):
    """Fit the rest alignment B_j of every driven SMPL joint on one or more clips of a rig.

    Args:
        motions: SourceMotions sharing the rig's joint names and local axes.
        rig: :class:`.rigs.Rig`.
        rest_joints: (24, 3) target rest joints (default :func:`default_rest_joints`).
    Returns:
        dict SMPL joint name -> (3, 3) float64 rotation.
    """
    _check_rig(rig)
    rest = default_rest_joints() if rest_joints is None else np.asarray(rest_joints, float)
    geoms = [_Geometry(m, rig, rest) for m in motions]
    calib = {}
    neutral = []
    for name, src in rig.drivers.items():
        acc = np.zeros((3, 3))
        total = 0.0
        for g in geoms:
            target = g.target_frames(name)
            if target is None:
                break
            frames, w = target
            g_src = g.g_rot[:, g.idx[src]]
            acc += np.einsum('t,tba,tbc->ac', w, g_src, frames)
            total += w.sum()
        else:
            if total > 1e-6:
                calib[name] = project_to_rotation(acc)
                continue
        neutral.append(name)
    # Joints without a usable direction: mean local rotation = identity. Parents first, so
    # each one sees its (already calibrated) parent.
    for name in sorted(neutral, key=J.get):
        acc = np.zeros((3, 3))
        for g in geoms:
            parent = _global_rotations(g, rig, calib)[:, SMPL24_PARENTS[J[name]]]
            acc += np.einsum('tba,tbc->ac', g.g_rot[:, g.idx[rig.drivers[name]]], parent)
        calib[name] = project_to_rotation(acc)
    log.debug('calibrated rig %s on %d clips (%d joints from directions, %d neutral)',
              rig.name, len(motions), len(calib) - len(neutral), len(neutral))
    return calib


def _leg_length(points):
    """Mean hip-knee-ankle length over both legs; points: name -> (3,) or (T, 3)."""
    lengths = []
    for s in ('left', 'right'):
        h, k, a = (points[f'{s}_{n}'] for n in ('hip', 'knee', 'ankle'))
        lengths.append(np.linalg.norm(k - h, axis=-1) + np.linalg.norm(a - k, axis=-1))
    return float(np.mean(lengths))


def retarget(motion, rig, calibration=None, rest_joints=None):
    """Retarget a source clip to SMPL.

    Args:
        motion: SourceMotion.
        rig: :class:`.rigs.Rig` for the motion's skeleton.
        calibration: from :func:`calibrate` (pooled over many clips of the rig: better);
            None fits it on this clip alone.
        rest_joints: (24, 3) target rest joints (default :func:`default_rest_joints`).
    Returns:
        SMPLMotion at the source's frame times (``meta['times']``; use
        :func:`.motion.resample` for a regular rate), with ``meta['scale']`` (source units ->
        metres on this body) and ``meta['source_fps']``.
    """
    _check_rig(rig)
    rest = default_rest_joints() if rest_joints is None else np.asarray(rest_joints, float)
    if calibration is None:
        calibration = calibrate([motion], rig, rest)
    geom = _Geometry(motion, rig, rest)
    g = _global_rotations(geom, rig, calibration)
    local = g.copy()
    local[:, 1:] = np.swapaxes(g[:, SMPL24_PARENTS[1:]], -1, -2) @ g[:, 1:]
    pose = matrix_to_axis_angle(local).reshape(-1, 72)

    # Trajectory: the hip centre, scaled by the leg-length ratio.
    legs = ('left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
    src_pts = {n: geom.point(n)[0] for n in legs}
    scale = _leg_length({n: rest[J[n]] for n in src_pts}) / _leg_length(src_pts)
    mid = 0.5 * (geom.point('left_hip') + geom.point('right_hip')) * scale
    rest_mid = 0.5 * (rest[J['left_hip']] + rest[J['right_hip']])
    pelvis = mid + np.einsum('tab,b->ta', g[:, 0], rest[0] - rest_mid)
    trans = pelvis - rest[0]
    meta = dict(motion.meta, times=(motion.times - motion.times[0]).tolist(),
                scale=scale, source_fps=motion.fps, rig=rig.name)
    return SMPLMotion(pose=pose, trans=trans, fps=motion.fps, name=motion.name, meta=meta)


def bone_direction_errors(joints, motion, rig, rest_joints=None):
    """Angle between each SMPL bone and the source bone it stands for, per frame.

    Args:
        joints: (T, 24, 3) SMPL joints after FK (body model or
            :func:`.motion.smpl_forward_kinematics`), any world placement.
        motion: the SourceMotion the SMPL motion was retargeted from (same frames).
        rig: its rig.
    Returns:
        dict 'parent->child' -> (T,) angles in radians, for the bones with a non-degenerate
        source counterpart.
    """
    rest = default_rest_joints() if rest_joints is None else np.asarray(rest_joints, float)
    geom = _Geometry(motion, rig, rest)
    joints = np.asarray(joints, np.float64)
    out = {}
    for j in range(1, 24):
        p = SMPL24_PARENTS[j]
        v = geom.vector(('bone', SMPL24_NAMES[p], SMPL24_NAMES[j]))
        if v is None:
            continue
        out[f'{SMPL24_NAMES[p]}->{SMPL24_NAMES[j]}'] = angle_between(
            joints[:, j] - joints[:, p], v[0])
    return out
