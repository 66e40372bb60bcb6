"""Generated SMPL motions of people sitting, kneeling, crouching and lying down.

The mocap behind the pose corpus (CMU, DeepMimic, Bandai, retargeted to SMPL) holds people
standing, walking, running and dancing, but nobody on a chair or on the ground, kneeling,
squatting or lying, so models trained on it turn every seated person into a standing one.
This module writes such clips in SMPL pose space:

    clips = posture_clips(rest_joints, clips_per_posture=40, seed=0)

Each clip stands for a few seconds, goes down into a posture through hand-built key poses
(rotations slerped with an ease-in/out, possibly through other postures: stand -> kneel ->
all fours -> lie on the front), holds it for 3-8 s with small motion (sway, head turns, arm
gestures, or upper-body rotations copied from real mocap `donors`), and in about half of the
clips stands up again. Key poses are drawn around per-posture templates within the joint
limits of :mod:`hmr_models.fitting.refine` (wider hips for sitting cross-legged, see
WIDE_HIP_LIMITS), with limbs aimed in the world (thighs level on a chair, shins flat on the
floor when kneeling) and the remaining angles solved so that the contacts hold. The
translation is not animated by hand: every frame, the anchored contact (feet, knees,
buttocks...) keeps its horizontal place and the body rests on the floor (or the seat) through
contact spheres calibrated on the open body's mesh (see CONTACT_SPHERES).
"""
from dataclasses import dataclass, field
import math

import numpy as np

from hmr_models.fitting.refine import JOINT_LIMITS
from hmr_models.geometry.rotations_np import axis_angle_to_matrix, axis_rotation, \
    matrix_to_axis_angle, slerp_matrices
from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS

from .augment import center_start, rotate_yaw
from .motion import SMPLMotion, resample, smpl_joints_from_rotations as _fk

J = {n: i for i, n in enumerate(SMPL24_NAMES)}
SIDES = ('left', 'right')
UP = np.array([0.0, 1.0, 0.0])
FORWARD = np.array([0.0, 0.0, 1.0])

POSTURE_CLASS = {'sit_chair': 'sitting', 'sit_ground': 'sitting', 'kneel': 'crouching_kneeling',
                 'crouch': 'crouching_kneeling', 'lie': 'lying'}
POSTURES = tuple(POSTURE_CLASS)
VARIANTS = {
    'sit_chair': ('upright', 'crossed_legs', 'leg_stretched', 'elbows_on_knees', 'lean_back'),
    'sit_ground': ('cross_legged', 'legs_stretched', 'hugging_knees', 'side_sitting'),
    'kneel': ('one_knee', 'upright', 'on_heels'),
    'crouch': ('squat_heels_down', 'squat_heels_up', 'half_squat', 'pick_up'),
    'lie': ('back', 'back_knee_up', 'back_leg_raised', 'side', 'front', 'front_on_elbows'),
}

# ---------------------------------------------------------------------------------------------
# Contact spheres: the body's surface near the places it rests on, as spheres that move with a
# joint. Joints sit inside the body, so the floor (or seat) touches the skin some centimetres
# below them; a sphere gives that distance whatever the joint's orientation (a knee on the floor
# whether kneeling or lying on the side). Centre = joint + t * (child - joint) + offset, the
# offset in the joint's rest frame (metres; left side, mirrored for the right). Centres are set
# by hand at the middle of the body part; the radii are measured on the bundled open body's
# mesh by `measure_contact_spheres`: the centre's height above the lowest mesh vertex within
# 4 cm horizontally (feet, hands: 3 cm) with the body in the pose named last, where that part
# faces the floor ('stand': rest pose, soles and palms; 'kneel': thighs upright, shins flat,
# feet pointed; 'seated': hips and knees at 90 deg; 'supine' / 'prone' / 'side': lying straight
# on the back, front, left side). Arm radii ('radial') are the median distance of the limb's
# vertices from the bone there. On the bundled body: standing, the sole is 7.7 cm below the
# ankle joint and 2.7 cm below the ball (foot) joint (a corpus clip's lowest vertex is at
# y = 0 +- 2 cm, so the floor convention agrees); kneeling with the shin flat, the knee joint
# is 5.3 cm above the floor; seated at 90 deg, the pelvis joint is 9.5 cm above the lowest
# buttock vertex; lying on the back, the pelvis, spine1 and spine3 joints are 11.5, 7.6 and
# 7.8 cm above the floor; on the front, pelvis and spine3 are 19 and 23 cm above it.
# (name, joint, child, t, offset, radius, calibration pose)
CONTACT_SPHERES = (
    ('heel', 'left_ankle', None, 0.0, (0.0, -0.047, -0.027), 0.028, 'stand'),
    ('ball', 'left_foot', None, 0.0, (0.0, 0.0, 0.0), 0.026, 'stand'),
    ('toe', 'left_foot', None, 0.0, (0.0, -0.007, 0.04), 0.017, 'stand'),
    ('instep', 'left_ankle', 'left_foot', 0.5, (0.0, 0.0, 0.0), 0.035, 'kneel'),
    ('ankle', 'left_ankle', None, 0.0, (0.0, 0.0, 0.0), 0.035, 'side'),
    ('shin', 'left_knee', 'left_ankle', 0.5, (0.0, 0.0, 0.0), 0.044, 'kneel'),
    ('calf', 'left_knee', 'left_ankle', 0.35, (0.0, 0.0, -0.02), 0.056, 'supine'),
    ('knee', 'left_knee', None, 0.0, (0.0, 0.0, 0.0), 0.053, 'kneel'),
    ('thigh', 'left_hip', 'left_knee', 0.5, (0.0, 0.0, 0.0), 0.065, 'seated'),
    ('buttock', 'pelvis', None, 0.0, (0.07, -0.03, -0.03), 0.061, 'seated'),
    ('hip', 'left_hip', None, 0.0, (0.03, 0.0, 0.0), 0.047, 'side'),
    ('scapula', 'spine3', None, 0.0, (0.08, 0.03, 0.0), 0.060, 'supine'),
    ('shoulder', 'left_shoulder', None, 0.0, (0.0, 0.0, 0.0), 0.062, 'side'),
    ('sacrum', 'pelvis', None, 0.0, (0.0, 0.0, -0.04), 0.072, 'supine'),
    ('lower_back', 'spine1', None, 0.0, (0.0, 0.0, 0.0), 0.061, 'supine'),
    ('upper_back', 'spine3', None, 0.0, (0.0, 0.0, 0.0), 0.058, 'supine'),
    ('pubis', 'pelvis', None, 0.0, (0.0, -0.02, 0.06), 0.071, 'prone'),
    ('belly', 'spine1', None, 0.0, (0.0, 0.0, 0.08), 0.097, 'prone'),
    ('chest', 'spine3', None, 0.0, (0.0, 0.0, 0.08), 0.084, 'prone'),
    ('head', 'head', None, 0.0, (0.0, 0.06, 0.0), 0.092, 'supine'),
    ('face', 'head', None, 0.0, (0.0, 0.04, 0.06), 0.061, 'prone'),
    ('upper_arm', 'left_shoulder', 'left_elbow', 0.5, (0.0, 0.0, 0.0), 0.045, 'radial'),
    ('elbow', 'left_elbow', None, 0.0, (0.0, 0.0, 0.0), 0.035, 'radial'),
    ('forearm', 'left_elbow', 'left_wrist', 0.5, (0.0, 0.0, 0.0), 0.032, 'radial'),
    ('wrist', 'left_wrist', None, 0.0, (0.0, 0.0, 0.0), 0.026, 'radial'),
    ('hand', 'left_hand', None, 0.0, (0.0, 0.0, 0.0), 0.022, 'stand'),
    ('fingers', 'left_hand', None, 0.0, (0.05, 0.0, 0.0), 0.036, 'stand'),
)
ARM_JOINTS = ('elbow', 'wrist', 'hand', 'fingers')   # spheres moving with the arm


def _sphere_table():
    """Both sides of CONTACT_SPHERES: names, joints, children, t, offsets, radii."""
    rows = []
    for name, joint, child, t, offset, radius, _ in CONTACT_SPHERES:
        if not joint.startswith('left_') and offset[0] == 0.0:
            rows.append((name, joint, child, t, offset, radius))
            continue
        for side, sign in (('left', 1.0), ('right', -1.0)):
            rows.append((f'{side}_{name}', joint.replace('left_', side + '_'),
                         child and child.replace('left_', side + '_'), t,
                         (sign * offset[0], offset[1], offset[2]), radius))
    names = tuple(r[0] for r in rows)
    joints = np.array([J[r[1]] for r in rows])
    children = np.array([J[r[2]] if r[2] else J[r[1]] for r in rows])
    return (names, joints, children, np.array([r[3] for r in rows]),
            np.array([r[4] for r in rows]), np.array([r[5] for r in rows]))


SPHERE_NAMES, _SJ, _SC, _ST, _SO, SPHERE_RADII = _sphere_table()
S = {n: i for i, n in enumerate(SPHERE_NAMES)}
# Spheres that move with an arm (kept above the floor by turning the shoulder, not carrying
# the body) and the soles' spheres.
IS_ARM = np.array(['arm' in n or any(n.endswith('_' + a) for a in ARM_JOINTS)
                   for n in SPHERE_NAMES])
_SIDE_ARM = {s: IS_ARM & np.array([n.startswith(s + '_') for n in SPHERE_NAMES]) for s in SIDES}
IS_FOOT = np.array([n.split('_', 1)[-1] in ('heel', 'ball', 'toe') for n in SPHERE_NAMES])
# Floor-contact sets: the horizontal anchor of a motion phase is the mean of these centres.
ANCHORS = {
    'feet': ('left_heel', 'left_ball', 'right_heel', 'right_ball'),
    'left_foot': ('left_heel', 'left_ball'), 'right_foot': ('right_heel', 'right_ball'),
    'knees': ('left_knee', 'right_knee'), 'left_knee': ('left_knee',),
    'right_knee': ('right_knee',), 'buttocks': ('left_buttock', 'right_buttock'),
    'pelvis': ('sacrum',),
}
# A seat carries the buttocks (thighs may slope down over its front edge).
SEAT_SPHERES = ('left_buttock', 'right_buttock')
# What a lying body rests on: on the back, on the front, on a side.
BACK = ('sacrum', 'lower_back', 'upper_back', 'left_scapula', 'right_scapula', 'left_buttock',
        'right_buttock')
FRONT = ('pubis', 'belly', 'chest')
SIDE = ('left_hip', 'right_hip', 'left_shoulder', 'right_shoulder')


def sphere_offsets(rest_joints):
    """(S, 3) sphere centres in their joints' rest frames for these rest joints."""
    rest = np.asarray(rest_joints, np.float64)
    return _ST[:, None] * (rest[_SC] - rest[_SJ]) + _SO


def sphere_centres(joints, global_rotations, offsets):
    """Posed sphere centres (..., S, 3) from posed joints and global rotations."""
    return joints[..., _SJ, :] + np.einsum('...sab,sb->...sa', global_rotations[..., _SJ, :, :],
                                           offsets)


# ---------------------------------------------------------------------------------------------
# Rotations and forward kinematics on local rotation matrices.

def _rx(a):
    return axis_rotation([1.0, 0.0, 0.0], a)


def _ry(a):
    return axis_rotation([0.0, 1.0, 0.0], a)


def _rz(a):
    return axis_rotation([0.0, 0.0, 1.0], a)


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / max(math.sqrt(v @ v), 1e-12)


def _cross(a, b):
    """Cross product of two 3-vectors (np.cross is slow for one pair)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


def _rodrigues(aa):
    """Rotation matrix of one axis-angle vector (numpy, faster than scipy for one)."""
    x, y, z = (float(v) for v in aa)
    angle = math.sqrt(x * x + y * y + z * z)
    if angle < 1e-12:
        return np.eye(3)
    x, y, z = x / angle, y / angle, z / angle
    s, c = math.sin(angle), math.cos(angle)
    t = 1.0 - c
    return np.array([[c + t * x * x, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, c + t * y * y, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, c + t * z * z]])


def _min_rotation(a, b):
    """The smallest rotation taking direction a to direction b."""
    a, b = _unit(a), _unit(b)
    axis = _cross(a, b)
    s, c = math.sqrt(axis @ axis), float(a @ b)
    if s < 1e-9:
        if c > 0:
            return np.eye(3)
        perp = _cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return _rodrigues(_unit(perp) * np.pi)
    return _rodrigues(axis / s * np.arctan2(s, c))


def _log(rot):
    """Axis-angle of one rotation matrix (numpy; scipy near pi)."""
    angle = np.arccos(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0))
    vee = np.array([rot[2, 1] - rot[1, 2], rot[0, 2] - rot[2, 0], rot[1, 0] - rot[0, 1]])
    if angle < 1e-6:
        return 0.5 * vee
    if angle > np.pi - 1e-3:
        return matrix_to_axis_angle(rot)
    return angle / (2.0 * np.sin(angle)) * vee


def _aim_rotation(rest_dir, bend_local, direction, hint):
    """Rotation taking a limb's rest bone to `direction`.

    It is turned about the bone so that the way its hinge bends (`bend_local`, rest frame)
    points as close as possible to `hint`.
    """
    d = _unit(direction)
    r0 = _min_rotation(rest_dir, d)
    if hint is None:
        return r0
    b = r0 @ np.asarray(bend_local, np.float64)
    b = b - (b @ d) * d
    h = np.asarray(hint, np.float64) - (np.asarray(hint, np.float64) @ d) * d
    if h @ h < 1e-12 or b @ b < 1e-12:
        return r0
    angle = math.atan2(d @ _cross(b, h), b @ h)
    return _rodrigues(d * angle) @ r0


# Sitting cross-legged (and side-sitting) turns the hips about the thigh further than
# JOINT_LIMITS allows: a tailor sit needs the hip at about (-1.9, 1.9, -0.6) rad axis-angle
# (left), the thigh out and turned outward so that the shin crosses in front; inside +-1.0 rad
# about y the feet end up under the body. These variants use wider hip ranges (only there).
WIDE_HIP_LIMITS = dict(JOINT_LIMITS,
                       left_hip=((-2.7, 0.5), (-1.3, 1.95), (-0.7, 1.3)),
                       right_hip=((-2.7, 0.5), (-1.95, 1.3), (-1.3, 0.7)))


def _within_limits(joint, rot, rest_dir, bend, limits, margin=0.02):
    """The rotation inside a limits table closest to `rot`.

    A constrained fit that keeps where the bone points and where its hinge bends; `rot`
    itself when it is inside.
    """
    if joint not in limits:
        return rot
    lo, hi = np.array(limits[joint]).T + np.array([[margin], [-margin]])
    aa = _log(rot)
    if np.all((aa >= lo) & (aa <= hi)):
        return rot
    if np.all((aa >= lo - 0.05) & (aa <= hi + 0.05)):
        return _rodrigues(np.clip(aa, lo, hi))    # barely outside: clipping is as good
    from scipy.optimize import minimize
    d, b = rot @ _unit(rest_dir), rot @ np.asarray(bend, np.float64)

    def cost(x):
        r = _rodrigues(x)
        return 4.0 * np.sum((r @ _unit(rest_dir) - d) ** 2) + np.sum((r @ bend - b) ** 2)
    best = minimize(cost, np.clip(aa, lo, hi), method='L-BFGS-B', bounds=list(zip(lo, hi)))
    return _rodrigues(best.x)


def _global_rotations(rot):
    """Global rotations (..., 24, 3, 3) of local ones (rotations only, no positions)."""
    out = np.empty_like(rot)
    for j, p in enumerate(SMPL24_PARENTS):
        out[..., j, :, :] = rot[..., j, :, :] if p < 0 else out[..., p, :, :] @ rot[..., j, :, :]
    return out


def _continuous_log(rel):
    """Rotation vectors (T, 3) of rotations (T, 3, 3) that do not flip between frames.

    Near pi a rotation has two short logs, and a slerp along the other one jumps.
    """
    v = matrix_to_axis_angle(rel)
    for t in range(1, len(v)):
        angle = np.linalg.norm(v[t])
        if angle > 1e-9 and v[t] @ v[t - 1] < 0 and angle > np.pi / 2:
            v[t] = v[t] * (1.0 - 2.0 * np.pi / angle)
    return v


def _blend(r0, r1, w):
    """Per-frame slerp (T, 3, 3) from r0 toward r1 by w (T,) along a path continuous in time."""
    rel = _continuous_log(np.swapaxes(r0, -1, -2) @ r1)
    return r0 @ axis_angle_to_matrix(rel * np.asarray(w, np.float64)[:, None])


def _ease(w):
    """Minimum-jerk ease-in/out of w in [0, 1] (how people time a reach or a sit-down)."""
    w = np.clip(w, 0.0, 1.0)
    return w ** 3 * (10.0 - 15.0 * w + 6.0 * w * w)


# ---------------------------------------------------------------------------------------------
# Key poses.

@dataclass
class _Key:
    """A key pose on the way into a posture (canonical heading: facing +z).

    rot: (24, 3, 3) local rotations. feet: side -> global foot rotation kept while this key is
    reached and held (a foot flat or on its toes on the floor), None for a free foot.
    anchor: ANCHORS entry kept in place horizontally while moving to this key (and holding it).
    seconds: duration range of the move to this key.
    """

    rot: np.ndarray
    feet: dict = field(default_factory=dict)
    anchor: str = 'feet'
    seconds: tuple = (1.0, 1.6)
    name: str = ''


class _Pose:
    """Builds a key pose joint by joint; limbs are aimed in world directions (canonical)."""

    def __init__(self, rest, limits=JOINT_LIMITS):
        self.rest = np.asarray(rest, np.float64)
        self.rot = np.tile(np.eye(3), (24, 1, 1))
        self.feet = {}
        self.limits = limits

    def copy(self):
        out = _Pose(self.rest, self.limits)
        out.rot = self.rot.copy()
        out.feet = dict(self.feet)
        return out

    def set(self, joint, aa):
        self.rot[J[joint]] = _rodrigues(np.asarray(aa, np.float64))
        return self

    def world(self, joint):
        """Global rotation of a joint (-1: identity)."""
        j = J[joint] if isinstance(joint, str) else joint
        out = np.eye(3)
        while j >= 0:
            out = self.rot[j] @ out
            j = SMPL24_PARENTS[j]
        return out

    def fk(self):
        """Joints (24, 3) and global rotations (24, 3, 3) at zero translation."""
        return _fk(self.rot, self.rest)

    def aim(self, joint, child, direction, hint, bend):
        """Point the bone joint -> child along a world direction, its hinge bending to hint."""
        parent = self.world(SMPL24_PARENTS[J[joint]])
        rest_dir = self.rest[J[child]] - self.rest[J[joint]]
        hint = None if hint is None else parent.T @ np.asarray(hint, np.float64)
        rot = _aim_rotation(rest_dir, bend, parent.T @ _unit(direction), hint)
        self.rot[J[joint]] = _within_limits(joint, rot, rest_dir, bend, self.limits)
        return self

    def leg(self, side, thigh, knee, shin_hint=(0.0, -1.0, -0.3)):
        """Thigh along a world direction, knee flexed by `knee` rad, the shin going to hint."""
        hint = np.asarray(shin_hint, np.float64)
        self.aim(f'{side}_hip', f'{side}_knee', thigh, hint, (0.0, 0.0, -1.0))
        return self.set(f'{side}_knee', (knee, 0.0, 0.0))

    def arm(self, side, upper, elbow, forearm_hint=(0.0, 0.0, 1.0)):
        """Upper arm along a world direction, elbow flexed by `elbow`, forearm toward hint."""
        self.aim(f'{side}_shoulder', f'{side}_elbow', upper, forearm_hint, (0.0, 0.0, 1.0))
        sign = -1.0 if side == 'left' else 1.0
        return self.set(f'{side}_elbow', (0.0, sign * elbow, 0.0))

    def reach(self, side, target, pole):
        """Two-bone IK: the wrist at a world target, the elbow toward `pole`.

        The pose is assumed at zero translation (targets relative to the unplaced body).
        """
        a, b, c = f'{side}_shoulder', f'{side}_elbow', f'{side}_wrist'
        joints, _ = self.fk()
        l1 = np.linalg.norm(self.rest[J[b]] - self.rest[J[a]])
        l2 = np.linalg.norm(self.rest[J[c]] - self.rest[J[b]])
        to = np.asarray(target, np.float64) - joints[J[a]]
        d = float(np.clip(np.linalg.norm(to), abs(l1 - l2) + 1e-3, l1 + l2 - 1e-3))
        flex = np.pi - np.arccos(np.clip((l1 * l1 + l2 * l2 - d * d) / (2 * l1 * l2), -1, 1))
        alpha = np.arccos(np.clip((l1 * l1 + d * d - l2 * l2) / (2 * l1 * d), -1, 1))
        u = _unit(to)
        p = np.asarray(pole, np.float64) - (np.asarray(pole, np.float64) @ u) * u
        p = _unit(p) if np.linalg.norm(p) > 1e-6 else _unit(np.cross(u, [1.0, 0.0, 0.0]))
        upper = np.cos(alpha) * u + np.sin(alpha) * p
        elbow = joints[J[a]] + l1 * upper
        lower = _unit(joints[J[a]] + d * u - elbow)
        return self.arm(side, upper, flex, lower)

    def foot(self, side, pitch=0.0, toe_out=0.1, toes=0.0):
        """Foot sole kept on the floor: heading + toe-out yaw, pitched (heel up) by `pitch`."""
        heading = self.heading()
        sign = 1.0 if side == 'left' else -1.0
        target = _ry(heading + sign * toe_out) @ _rx(pitch)
        self.feet[side] = target
        self.rot[J[f'{side}_ankle']] = self.world(f'{side}_knee').T @ target
        return self.set(f'{side}_foot', (toes, 0.0, 0.0))

    def heading(self):
        """Yaw (rad) of the pelvis's forward axis (0: facing +z)."""
        f = self.rot[0] @ FORWARD
        if np.hypot(f[0], f[2]) < 0.3:         # lying: the body's up axis gives the heading
            f = -(self.rot[0] @ UP) * np.sign(f[1] or 1.0)
        return float(np.arctan2(f[0], f[2]))

    def key(self, anchor='feet', seconds=(1.0, 1.6), name=''):
        return _Key(self.rot.copy(), dict(self.feet), anchor, seconds, name)


def _mask(*names):
    m = np.zeros(len(SPHERE_NAMES), bool)
    for n in names:
        m[[S[s] for s in ((n,) if n in S else (f'left_{n}', f'right_{n}'))]] = True
    return m


# ---------------------------------------------------------------------------------------------
# Calibration of the contact spheres on a body mesh (run once; the results are the constants).

def _calibration_pose(name, rest):
    p = _Pose(rest)
    if name == 'kneel':
        for s in SIDES:
            p.set(f'{s}_knee', (np.pi / 2, 0, 0)).set(f'{s}_ankle', (1.23, 0, 0))
    elif name == 'seated':
        for s in SIDES:
            p.set(f'{s}_hip', (-np.pi / 2, 0, 0)).set(f'{s}_knee', (np.pi / 2, 0, 0))
    elif name == 'supine':
        p.set('pelvis', (-np.pi / 2, 0, 0))
    elif name == 'prone':
        p.set('pelvis', (np.pi / 2, 0, 0))
    elif name == 'side':                      # on the left side, arms raised out of the way
        p.set('pelvis', (0, 0, -np.pi / 2)).set('left_shoulder', (0, 0, 1.4))
        p.set('right_shoulder', (0, 0, -1.4))
    return p


def measure_contact_spheres(body):
    """Radii (name -> metres) of CONTACT_SPHERES measured on a body's mesh (see the table).

    Args:
        body: a :class:`hmr_models.body.BodyModel` (e.g. the open body, ``load_body_model()``).
    """
    import torch
    from .retarget import target_rest_joints
    rest = target_rest_joints(body)
    weights = body.smpl.lbs_weights.detach().cpu().numpy()
    dominant = weights.argmax(1)
    arm_joints = [J[f'{s}_{a}'] for s in SIDES for a in ('shoulder', 'elbow', 'wrist', 'hand')]
    arm = np.isin(dominant, arm_joints)
    offsets = sphere_offsets(rest)
    out = {}
    for name, joint, child, t, _, _, pose_name in CONTACT_SPHERES:
        key = name if name in S else f'left_{name}'
        i = S[key]
        if pose_name == 'radial':              # arms: median distance from the bone
            verts = body(np.zeros((1, 72), np.float32)).vertices[0].detach().cpu().numpy()
            j = J[joint]
            kids = np.flatnonzero(SMPL24_PARENTS == j)
            d = _unit(rest[kids[0]] - rest[j] if len(kids) else rest[j] - rest[SMPL24_PARENTS[j]])
            centre = rest[j] + offsets[i]
            s = (verts - centre) @ d
            near = (np.abs(s) < 0.015) & arm
            rad = np.linalg.norm(verts[near] - centre - s[near, None] * d, axis=1)
            out[name] = float(np.median(rad[rad < 0.12]))
            continue
        pose = _calibration_pose(pose_name, rest)
        with torch.no_grad():
            verts = body(matrix_to_axis_angle(pose.rot).reshape(1, 72).astype(np.float32))
        verts = verts.vertices[0].detach().cpu().numpy()
        joints, g_rot = pose.fk()
        centre = sphere_centres(joints, g_rot, offsets)[i]
        reach = 0.03 if name in ('heel', 'ball', 'toe', 'hand', 'fingers') else 0.04
        near = np.hypot(verts[:, 0] - centre[0], verts[:, 2] - centre[2]) < reach
        if not IS_ARM[i] and name != 'shoulder':  # the arms (raised when on the side) aside
            near &= ~arm
        near &= (verts[:, 1] < centre[1]) & (verts[:, 1] > centre[1] - 0.2)
        out[name] = float(centre[1] - verts[near, 1].min())
    return out


# ---------------------------------------------------------------------------------------------
# Solving angles for contacts and balance.

def _bottoms(pose):
    """Sphere bottoms (S,) of a pose at zero translation."""
    joints, g_rot = pose.fk()
    return sphere_centres(joints, g_rot, sphere_offsets(pose.rest))[:, 1] - SPHERE_RADII


def _floor(pose, arms=False):
    """Height of the floor under a pose at zero translation (its lowest non-arm sphere)."""
    b = _bottoms(pose)
    return float((b if arms else b[~IS_ARM]).min())


def _lowest_of(pose, *names):
    return float(_bottoms(pose)[_mask(*names)].min())


def _solve(build, lo, hi, n=12):
    """x in [lo, hi] where build(x) -> (value, pose) crosses zero (else the smallest |value|).

    Returns the pose built at that x and x.
    """
    xs = np.linspace(lo, hi, n)
    ys = np.array([build(x)[0] for x in xs])
    cross = np.flatnonzero(np.sign(ys[:-1]) != np.sign(ys[1:]))
    if len(cross) == 0:
        x = xs[np.argmin(np.abs(ys))]
        return build(x)[1], x
    i = cross[0]
    x = xs[i] + (xs[i + 1] - xs[i]) * ys[i] / (ys[i] - ys[i + 1])
    y, _ = build(x)                              # one secant step on the bracketing side
    j = i if np.sign(y) == np.sign(ys[i + 1]) else i + 1
    if abs(ys[j] - y) > 1e-9:
        x = x + (xs[j] - x) * y / (y - ys[j])
    return build(x)[1], x


# Mass fractions of body segments (after Dempster), at the middle of each bone: for balance.
_MASS = {('pelvis', 'spine1'): 0.14, ('spine1', 'spine3'): 0.22, ('spine3', 'neck'): 0.08,
         ('head', 'head'): 0.08}
for _s in SIDES:
    _MASS.update({(f'{_s}_hip', f'{_s}_knee'): 0.10, (f'{_s}_knee', f'{_s}_ankle'): 0.045,
                  (f'{_s}_ankle', f'{_s}_foot'): 0.015,
                  (f'{_s}_shoulder', f'{_s}_elbow'): 0.027,
                  (f'{_s}_elbow', f'{_s}_hand'): 0.022})


def _com(joints):
    total = sum(_MASS.values())
    return sum(m * 0.5 * (joints[J[a]] + joints[J[b]]) for (a, b), m in _MASS.items()) / total


def _balance(build, lo, hi, support='feet', offset=0.0):
    """Solve the parameter of build(x) -> pose so that the centre of mass is over the feet.

    `offset`: metres ahead of the middle of the support.
    """
    def value(x):
        pose = build(x)
        joints, g_rot = pose.fk()
        c = sphere_centres(joints, g_rot, sphere_offsets(pose.rest))
        names = ANCHORS[support] if support in ANCHORS else support
        base = c[[S[n] for n in names]].mean(0)
        heading = np.array([np.sin(pose.heading()), 0.0, np.cos(pose.heading())])
        return float((_com(joints) - base) @ heading) - offset, pose
    return _solve(value, lo, hi)[0]


# ---------------------------------------------------------------------------------------------
# Templates. Canonical heading: facing +z, x = the body's left; `sx` is +1 for the left side.

def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _sx(side):
    return 1.0 if side == 'left' else -1.0


def _other(side):
    return 'right' if side == 'left' else 'left'


def _look_ahead(p, rng, lean):
    """Neck and head tilted back by part of the trunk's forward lean (eyes to the front)."""
    k = _u(rng, 0.3, 0.6)
    p.set('neck', (-k * 0.5 * lean + _u(rng, -0.05, 0.1), _u(rng, -0.15, 0.15), 0.0))
    p.set('head', (-k * 0.5 * lean + _u(rng, -0.05, 0.05), _u(rng, -0.15, 0.15),
                   _u(rng, -0.05, 0.05)))


def _spine(p, rng, flex=(0.0, 0.1), twist=0.08, side_bend=0.05):
    """Spine1-3 flexion spread over the three joints (within the refine limits)."""
    total = _u(rng, *flex)
    for name, share in (('spine1', 0.45), ('spine2', 0.3), ('spine3', 0.25)):
        p.set(name, (share * total, _u(rng, -twist, twist) / 3, _u(rng, -side_bend, side_bend) / 3))
    return total


def _arms_down(p, rng):
    """Arms hanging (in the world: relaxed arms hang whatever the trunk does), a little out."""
    for side in SIDES:
        sx = _sx(side)
        e = _u(rng, 0.1, 0.3)
        p.arm(side, (sx * np.sin(e), -np.cos(e), _u(rng, -0.05, 0.12)), _u(rng, 0.1, 0.45),
              p.world('spine3') @ FORWARD)


def _stand(rest, rng):
    p = _Pose(rest)
    p.set('pelvis', (_u(rng, -0.03, 0.03), 0.0, _u(rng, -0.02, 0.02)))
    _spine(p, rng, (-0.05, 0.1))
    for side in SIDES:
        p.leg(side, (_sx(side) * _u(rng, 0.0, 0.06), -1.0, _u(rng, -0.02, 0.04)),
              _u(rng, 0.08, 0.16), (0.0, 0.0, -1.0))
        p.foot(side, toe_out=_u(rng, 0.05, 0.25))
    p.set('neck', (_u(rng, -0.05, 0.1), _u(rng, -0.1, 0.1), 0.0))
    p.set('head', (_u(rng, -0.05, 0.05), _u(rng, -0.1, 0.1), 0.0))
    _arms_down(p, rng)
    return p


def _hands_on_thighs(p, rng, t=(0.55, 0.85), sides=SIDES):
    """Wrists resting on the thighs (t: where along the thigh), elbows out and back."""
    joints, _ = p.fk()
    for side in sides:
        hip, knee = joints[J[f'{side}_hip']], joints[J[f'{side}_knee']]
        target = hip + _u(rng, *t) * (knee - hip) + np.array([-_sx(side) * 0.02, 0.1, 0.0])
        p.reach(side, target, (_sx(side), -0.3, -0.6))


def _thigh(sx, spread, elevation):
    """A thigh direction: forward, `spread` rad outward, `elevation` rad above horizontal."""
    return (sx * np.sin(spread) * np.cos(elevation), np.sin(elevation),
            np.cos(spread) * np.cos(elevation))


def _half_sit(stand, final, rest, rng):
    """Between standing and sitting: legs half bent, trunk leaning forward over the feet.

    The centre of mass stays a little behind the feet: people let themselves down onto
    the seat.
    """
    spine = _u(rng, 0.1, 0.25)
    upper = {s: _u(rng, 0.3, 0.7) for s in SIDES}

    def build(lean):
        p = _Pose(rest)
        p.rot = slerp_matrices(stand.rot, final.rot, 0.5)
        p.set('pelvis', (lean, 0.0, 0.0))
        for name, share in (('spine1', 0.45), ('spine2', 0.3), ('spine3', 0.25)):
            p.set(name, (share * spine, 0.0, 0.0))
        for side in SIDES:
            p.leg(side, _thigh(_sx(side), 0.12, -0.6), 0.95, (0.0, -1.0, 0.0))
            p.foot(side, toe_out=0.15)
            torso = p.world('spine3')
            p.arm(side, torso @ (_sx(side) * 0.2, -0.85, upper[side]), 0.6, torso @ UP)
        return p
    return _balance(build, 0.0, 0.9, offset=-0.1)


def _sit_chair(stand, rest, rng, variant):
    h_target = _u(rng, 0.40, 0.55)
    lean = {'lean_back': (-0.45, -0.25), 'elbows_on_knees': (0.3, 0.5)}.get(variant, (-0.08, 0.12))
    lean = _u(rng, *lean)
    flex = {'lean_back': (-0.05, 0.1), 'elbows_on_knees': (0.3, 0.6)}.get(variant, (0.0, 0.2))
    spread = {'elbows_on_knees': (0.2, 0.35)}.get(variant, (0.05, 0.25))
    cross = rng.choice(SIDES)                    # the crossing or stretched leg
    knee = _u(rng, 1.25, 1.9)
    spreads = {s: _u(rng, *spread) for s in SIDES}
    toe_out = {s: _u(rng, 0.0, 0.3) for s in SIDES}
    roll = _u(rng, -0.03, 0.03)
    seed = int(rng.integers(2 ** 31))

    def base(elevation, lean=lean, heels=0.0):
        p = _Pose(rest)
        p.set('pelvis', (lean, 0.0, roll))
        r = np.random.default_rng(seed)
        _look_ahead(p, r, lean + _spine(p, r, flex))
        for side in SIDES:
            p.leg(side, _thigh(_sx(side), spreads[side], elevation), knee, (0.0, -1.0, 0.0))
            p.foot(side, heels, toe_out[side], -0.8 * heels)
        return p

    def seat_height(elevation, lean=lean, heels=0.0):
        p = base(elevation, lean, heels)
        b = _bottoms(p)
        feet = [S[f'{s}_{n}'] for s in SIDES for n in ('heel', 'ball')
                if variant not in ('crossed_legs', 'leg_stretched') or s != cross]
        return float(b[_mask(*SEAT_SPHERES)].min() - b[feet].min()) - h_target, p

    if variant == 'elbows_on_knees':             # lean until the elbows reach the knees
        upper = np.linalg.norm(rest[J['left_elbow']] - rest[J['left_shoulder']])

        def reach(x):
            joints, _ = base(-0.1, x).fk()
            gap = [np.linalg.norm(joints[J[f'{s}_knee']] + (0.0, 0.09, -0.05)
                                  - joints[J[f'{s}_shoulder']]) for s in SIDES]
            return float(np.mean(gap)) - upper, None
        lean = _solve(reach, 0.3, 1.2)[1]
    # thighs about level (within 12 deg); a seat too high for that: on tiptoe, heels up
    p, elevation = _solve(lambda e: seat_height(e, lean), -0.2, 0.25)
    if abs(seat_height(elevation, lean)[0]) > 0.005:
        p = _solve(lambda x: seat_height(elevation, lean, x), 0.0, 0.8)[0]
    info = {}
    if variant == 'crossed_legs':
        joints, _ = p.fk()
        under = _other(cross)
        target = joints[J[f'{under}_knee']] + np.array([0.0, 0.13, -0.04])
        hip = joints[J[f'{cross}_hip']]
        p.leg(cross, target - hip, _u(rng, 1.1, 1.6), (-_sx(cross) * 0.3, -1.0, 0.0))
        p.feet.pop(cross)
        p.set(f'{cross}_ankle', (_u(rng, 0.1, 0.4), 0.0, 0.0))
    elif variant == 'leg_stretched':
        k = _u(rng, 0.15, 0.45)
        floor = _lowest_of(p, *SEAT_SPHERES) - (seat_height(0.0)[0] + h_target)  # feet level
        p.feet.pop(cross)
        ankle = _u(rng, -0.1, 0.3)

        def heel(elevation):
            q = p.copy()
            q.leg(cross, _thigh(_sx(cross), spreads[cross], elevation), k, (0.0, -1.0, 0.0))
            q.set(f'{cross}_ankle', (ankle, 0.0, 0.0))
            return _lowest_of(q, f'{cross}_heel', f'{cross}_toe', f'{cross}_ball') - floor, q
        p, _ = _solve(heel, -1.2, 0.0)
    b = _bottoms(p)
    info['seat_height'] = float(b[_mask(*SEAT_SPHERES)].min() - b[~IS_ARM].min())
    arms = 'free'
    if variant == 'elbows_on_knees':
        joints, _ = p.fk()
        for side in SIDES:
            knee_top = joints[J[f'{side}_knee']] + np.array([0.0, 0.09, -0.05])
            p.arm(side, knee_top - joints[J[f'{side}_shoulder']], _u(rng, 1.3, 1.9),
                  (-_sx(side), 0.3, 1.0))
        arms = 'on_knees'
    elif variant == 'lean_back':
        arms = str(rng.choice(['behind_head', 'crossed', 'lap']))
        torso_rot = p.world('spine3')
        for side in SIDES:
            sx = _sx(side)
            if arms == 'behind_head':
                p.arm(side, torso_rot @ (sx * 0.75, 0.6, -0.1), _u(rng, 2.3, 2.6),
                      torso_rot @ (-sx, 0.2, -0.3))
            elif arms == 'crossed':
                p.arm(side, torso_rot @ (sx * 0.25, -0.9, 0.35), _u(rng, 1.9, 2.2),
                      torso_rot @ (-sx, 0.35, 0.2))
        if arms == 'lap':
            _hands_on_thighs(p, rng)
            arms = 'free'
    else:
        _hands_on_thighs(p, rng)
    final = p.key('buttocks', (0.8, 1.3), 'seated')
    via = _half_sit(stand, final, rest, rng).key('feet', (0.6, 1.0), 'half_sit')
    info.update(arms=arms, hold_anchor='buttocks')
    return [via, final], info


def _sit_knees_up(rest, rng, elevation=(0.5, 0.8), lean=(-0.2, 0.0), flex=(0.0, 0.25)):
    """On the ground, knees up, feet flat in front (the way down to other ground postures)."""
    torso = _Pose(rest)
    torso.set('pelvis', (_u(rng, *lean), 0.0, 0.0))
    f = _spine(torso, rng, flex)
    _look_ahead(torso, rng, f + torso.rot[0][2, 1])
    e = {s: _u(rng, *elevation) for s in SIDES}
    spread = {s: _u(rng, 0.08, 0.25) for s in SIDES}

    def feet_on_floor(knee):
        p = torso.copy()
        for side in SIDES:
            p.leg(side, _thigh(_sx(side), spread[side], e[side]), knee, (0.0, -1.0, 0.0))
            p.foot(side, toe_out=0.15)
        b = _bottoms(p)
        return float(b[IS_FOOT].min() - b[_mask(*SEAT_SPHERES)].min()), p
    p, _ = _solve(feet_on_floor, 1.3, 2.65)
    _hands_on_knees(p, rng)
    return p


def _squat(rest, rng, heels_up=False, knee=(2.2, 2.5)):
    k = _u(rng, *knee)
    spread = {s: _u(rng, 0.3, 0.55) for s in SIDES}
    e = _u(rng, 0.0, 0.25)
    pitch = _u(rng, 0.5, 0.9) if heels_up else 0.0
    toe_out = {s: _u(rng, 0.15, 0.45) for s in SIDES}
    spine = _u(rng, 0.05, 0.35)
    seed = int(rng.integers(2 ** 31))

    def build(lean):
        p = _Pose(rest)
        p.set('pelvis', (lean, 0.0, 0.0))
        for name, share in (('spine1', 0.45), ('spine2', 0.3), ('spine3', 0.25)):
            p.set(name, (share * spine, 0.0, 0.0))
        for side in SIDES:
            p.leg(side, _thigh(_sx(side), spread[side], e), k, (0.0, -1.0, -0.3))
            p.foot(side, pitch, toe_out[side], -0.9 * pitch)
        _arms_down(p, np.random.default_rng(seed))     # the same arms at every trial
        return p
    p = _balance(build, -0.2, 1.4, 'feet' if not heels_up else ('left_ball', 'right_ball'))
    _look_ahead(p, rng, p.rot[0][2, 1] + spine)
    return p


def _sit_ground(stand, rest, rng, variant):
    info = {'arms': 'free', 'hold_anchor': 'buttocks'}
    if variant == 'side_sitting':
        return _side_sitting(stand, rest, rng, info)
    squat = _squat(rest, rng).key('feet', (0.9, 1.3), 'squat')
    up = _sit_knees_up(rest, rng)
    if variant == 'hugging_knees':
        p = _sit_knees_up(rest, rng, (0.85, 1.05), (-0.3, -0.1), (0.3, 0.6))
        joints, _ = p.fk()
        mid = 0.5 * (joints[J['left_knee']] + joints[J['right_knee']])
        shin = 0.5 * (joints[J['left_ankle']] + joints[J['right_ankle']])
        centre = 0.5 * (mid + shin) + np.array([0.0, 0.0, 0.1])
        for side in SIDES:
            p.reach(side, centre + np.array([-_sx(side) * 0.04, 0.0, 0.0]), (_sx(side), 0, -0.2))
        info['arms'] = 'hugging'
        return [squat, p.key('feet', (0.9, 1.4), 'hugging_knees')], info
    up_key = up.key('feet', (1.0, 1.5), 'sit_knees_up')
    torso = _Pose(rest)
    if variant == 'cross_legged':
        torso.limits = WIDE_HIP_LIMITS
        info['limits'] = 'wide_hips'
        torso.set('pelvis', (_u(rng, -0.05, 0.15), 0.0, 0.0))
        f = _spine(torso, rng, (0.05, 0.4))
        _look_ahead(torso, rng, f + torso.rot[0][2, 1])
        front = rng.choice(SIDES)
        for side in (_other(front), front):      # the back shin first, the front one over it
            sx = _sx(side)
            ahead = 0.3 if side == front else -0.1
            ankle = (_u(rng, 0.2, 0.5), 0.0, sx * _u(rng, 0.0, 0.3))
            lift = _u(rng, -0.1, 0.2)

            def hint(e, sx=sx, ahead=ahead, lift=lift):   # the shin stays about level
                return (-sx, 1.1 * np.sin(e) + lift, ahead)
            torso = _leg_down(torso, side, _u(rng, 0.85, 1.1), _u(rng, 2.2, 2.5), hint, -0.2,
                              0.7, ankle=ankle)
        _hands_on_knees(torso, rng)
        info['front_leg'] = str(front)
    else:                                        # legs stretched out in front
        lean = _u(rng, -0.45, -0.1)
        torso.set('pelvis', (lean, 0.0, 0.0))
        f = _spine(torso, rng, (0.0, 0.25))
        _look_ahead(torso, rng, f + lean)
        for side in SIDES:                       # the heels on the floor too
            torso = _leg_down(torso, side, _u(rng, 0.04, 0.2), _u(rng, 0.08, 0.3),
                              (0.0, -1.0, 0.0), -0.4, 0.3, ankle=(_u(rng, 0.1, 0.5), 0.0, 0.0),
                              parts=('heel', 'calf', 'ball', 'toe'))
        if lean < -0.25:
            _hands_on_floor_behind(torso, rng)
            info['arms'] = 'propped'
        else:
            _hands_on_thighs(torso, rng)
    return [squat, up_key, torso.key('buttocks', (1.0, 1.5), variant)], info


_LOWER_LEG = ('heel', 'ball', 'toe', 'instep', 'ankle', 'shin', 'calf', 'knee')


def _leg_down(p, side, spread, knee, hint, lo, hi, ref=('left_buttock', 'right_buttock'),
              ankle=None, parts=_LOWER_LEG):
    """Raise or lower a thigh (elevation in [lo, hi]) until the lower leg meets the floor.

    The lowest of the leg's `parts` ends level with `ref` (the buttocks: both rest on it).
    """
    sx = _sx(side)

    def level(elevation):
        q = p.copy()
        q.leg(side, _thigh(sx, spread, elevation), knee,
              hint(elevation) if callable(hint) else hint)
        if ankle is not None:
            q.set(f'{side}_ankle', ankle)
        b = _bottoms(q)
        return float(b[[S[f'{side}_{n}'] for n in parts]].min() - b[[S[n] for n in ref]].min()), q
    return _solve(level, lo, hi)[0]


def _hands_on_knees(p, rng):
    joints, _ = p.fk()
    for side in SIDES:
        target = joints[J[f'{side}_knee']] + np.array([-_sx(side) * 0.02, 0.09, 0.02])
        p.reach(side, target, (_sx(side), 0.0, -1.0))


def _hands_on_floor_behind(p, rng):
    floor = _floor(p)
    joints, _ = p.fk()
    for side in SIDES:
        behind = np.array([_sx(side) * _u(rng, 0.05, 0.15), 0.0, -_u(rng, 0.18, 0.3)])
        target = joints[J[f'{side}_hip']] + behind
        target[1] = floor + 0.04
        p.reach(side, target, (_sx(side) * 0.3, 0.0, -1.0))


def _kneel_leg(p, rng, side, toes, thigh):
    """A leg with its knee on the floor: thigh along `thigh`, the shin flat (knee solved)."""
    pointed = _u(rng, 1.0, 1.3)
    pitch = _u(rng, 1.1, 1.4)

    def level(knee):
        q = p.copy()
        q.leg(side, thigh, knee, (0.0, -1.0, -1.0))
        if toes:
            q.foot(side, pitch, 0.05, -0.8 * pitch)
        else:
            q.feet.pop(side, None)
            q.set(f'{side}_ankle', (pointed, 0.0, 0.0))
        b = _bottoms(q)
        foot = b[[S[f'{side}_{n}'] for n in ('heel', 'ball', 'toe', 'instep')]].min()
        return float(b[S[f'{side}_knee']] - foot), q
    return _solve(level, 1.0, 2.2)[0]


def _one_knee(rest, rng, down=None):
    down = down or str(rng.choice(SIDES))
    up = _other(down)
    p = _Pose(rest)
    p.set('pelvis', (_u(rng, -0.05, 0.12), 0.0, _u(rng, -0.03, 0.03)))
    f = _spine(p, rng, (0.0, 0.2))
    _look_ahead(p, rng, f)
    toes = bool(rng.random() < 0.6)
    p = _kneel_leg(p, rng, down, toes, (_sx(down) * _u(rng, 0.0, 0.08), -1.0, _u(rng, -0.3, 0.1)))
    knee = _u(rng, 1.35, 1.8)
    spread = _u(rng, 0.0, 0.2)

    def front_foot(elevation):
        q = p.copy()
        q.leg(up, _thigh(_sx(up), spread, elevation), knee, (0.0, -1.0, 0.0))
        q.foot(up, toe_out=0.1)
        b = _bottoms(q)
        return float(b[[S[f'{up}_heel'], S[f'{up}_ball']]].min() - b[S[f'{down}_knee']]), q
    p, _ = _solve(front_foot, -0.5, 0.8)
    _arms_down(p, rng)
    return p, down, up


def _upright_kneel(rest, rng, toes=None):
    p = _Pose(rest)
    p.set('pelvis', (_u(rng, -0.1, 0.1), 0.0, _u(rng, -0.03, 0.03)))
    f = _spine(p, rng, (-0.05, 0.2))
    _look_ahead(p, rng, f)
    toes = bool(rng.random() < 0.5) if toes is None else toes
    back = _u(rng, -0.3, 0.1)
    for side in SIDES:
        p = _kneel_leg(p, rng, side, toes, (_sx(side) * _u(rng, 0.02, 0.1), -1.0, back))
    _arms_down(p, rng)
    return p


def _kneel(stand, rest, rng, variant):
    one, down, up = _one_knee(rest, rng)
    info = {'arms': 'free', 'hold_anchor': f'{down}_knee', 'knee_down': down}
    keys = [one.key(f'{up}_foot', (1.2, 1.8), 'one_knee')]
    if variant == 'one_knee':
        if rng.random() < 0.5:                  # forearm resting on the front knee
            joints, _ = one.fk()
            target = joints[J[f'{up}_knee']] + np.array([0.0, 0.08, 0.12])
            one.reach(up, target, (_sx(up), -0.5, -0.3))
            keys[-1] = one.key(f'{up}_foot', (1.2, 1.8), 'one_knee')
            info['arms'] = 'on_knee'
        return keys, info
    tall = _upright_kneel(rest, rng)
    keys.append(tall.key(f'{down}_knee', (0.8, 1.2), 'kneel_upright'))
    info['hold_anchor'] = 'knees'
    if variant == 'upright':
        return keys, info
    p = _Pose(rest)
    lean = _u(rng, 0.0, 0.35)
    p.set('pelvis', (lean, 0.0, 0.0))
    f = _spine(p, rng, (0.0, 0.25))
    _look_ahead(p, rng, f + lean)
    k, spread = _u(rng, 2.45, 2.65), _u(rng, 0.05, 0.18)   # both knees on the floor
    for side in SIDES:                           # shins flat: instep level with the knee
        ankle = (_u(rng, 1.0, 1.3), 0.0, 0.0)
        p = _leg_down(p, side, spread, k, (0.0, 0.0, -1.0), -(np.pi - k) - 0.4,
                      -(np.pi - k) + 0.4, (f'{side}_knee',), ankle, ('instep', 'toe'))
    _hands_on_thighs(p, rng, (0.5, 0.8))
    keys.append(p.key('knees', (1.0, 1.5), 'on_heels'))
    return keys, info


def _crouch(stand, rest, rng, variant):
    info = {'arms': 'free', 'hold_anchor': 'feet'}
    if variant in ('squat_heels_down', 'squat_heels_up'):
        p = _squat(rest, rng, variant == 'squat_heels_up',
                   (2.2, 2.5) if variant == 'squat_heels_down' else (2.3, 2.6))
        if rng.random() < 0.5:
            joints, _ = p.fk()
            for side in SIDES:
                target = joints[J[f'{side}_knee']] + np.array([-_sx(side) * 0.15, 0.0, 0.15])
                p.reach(side, target, (_sx(side), -0.5, 0.0))
            info['arms'] = 'forearms_on_knees'
    elif variant == 'half_squat':
        e = _u(rng, -0.75, -0.4)
        k = np.pi / 2 + e + _u(rng, 0.35, 0.6)   # knees forward over the toes
        spread = _u(rng, 0.1, 0.3)
        spine = _u(rng, 0.0, 0.3)
        seed = int(rng.integers(2 ** 31))

        def build(lean):
            q = _Pose(rest)
            q.set('pelvis', (lean, 0.0, 0.0))
            q.set('spine1', (0.5 * spine, 0, 0)).set('spine2', (0.3 * spine, 0, 0))
            for side in SIDES:
                q.leg(side, _thigh(_sx(side), spread, e), k, (0.0, -1.0, 0.0))
                q.foot(side, toe_out=0.2)
            _arms_down(q, np.random.default_rng(seed))
            return q
        p = _balance(build, 0.0, 1.1)
        _look_ahead(p, rng, p.rot[0][2, 1] + spine)
        if rng.random() < 0.6:
            _hands_on_thighs(p, rng, (0.75, 0.95))
            info['arms'] = 'hands_on_knees'
    else:                                        # pick_up: bending over to the floor
        bend = _u(rng, 0.05, 0.4)                # shin forward tilt (knees bent)
        lean = _u(rng, 0.9, 1.35)
        spine = _u(rng, 0.3, 0.8)
        spread = {s: _u(rng, 0.0, 0.1) for s in SIDES}
        seed = int(rng.integers(2 ** 31))

        def build(tilt):                         # hips back until balanced over the feet
            q = _Pose(rest)
            q.set('pelvis', (lean, 0.0, 0.0))
            for name, share in (('spine1', 0.5), ('spine2', 0.3), ('spine3', 0.2)):
                q.set(name, (share * spine, 0, 0))
            for side in SIDES:
                q.leg(side, _thigh(_sx(side), spread[side], tilt - np.pi / 2), tilt + bend,
                      (0.0, -1.0, -1.0))
                q.foot(side, toe_out=0.15)
            _arms_down(q, np.random.default_rng(seed))
            return q
        p = _balance(build, 0.0, 1.0)
        p.set('neck', (-_u(rng, 0.1, 0.4), 0, 0))
        floor = _floor(p)
        joints, _ = p.fk()
        feet = 0.5 * (joints[J['left_foot']] + joints[J['right_foot']])
        hands = SIDES if rng.random() < 0.4 else (str(rng.choice(SIDES)),)
        for side in hands:
            target = feet + np.array([_sx(side) * _u(rng, 0.05, 0.2), 0.0, _u(rng, 0.1, 0.35)])
            target[1] = floor + _u(rng, 0.05, 0.25)
            p.reach(side, target, (_sx(side) * 0.3, 0.0, -1.0))
        if len(hands) == 1:                      # the other hand on the knee
            _hands_on_thighs(p, rng, (0.8, 0.95), (_other(hands[0]),))
        info['arms'] = 'reaching'
    return [p.key('feet', (1.0, 1.8), variant)], info


def _side_sitting(stand, rest, rng, info):
    """Both legs folded to one side (a "Z-sit").

    Sitting on the other buttock, the inner shin across in front, the outer one back along
    the floor, leaning on the hand of the seat side.
    """
    one, down, up = _one_knee(rest, rng)
    tall = _upright_kneel(rest, rng, toes=False)
    legs = str(rng.choice(SIDES))                # the side the feet point to
    sl = _sx(legs)
    seat = _other(legs)
    p = _Pose(rest, WIDE_HIP_LIMITS)
    p.set('pelvis', (_u(rng, 0.0, 0.15), sl * _u(rng, 0.1, 0.4), sl * _u(rng, 0.08, 0.25)))
    f = _spine(p, rng, (0.0, 0.25))
    _look_ahead(p, rng, f)
    ref = (f'{seat}_buttock',)
    p = _leg_down(p, seat, _u(rng, 0.5, 0.9), _u(rng, 2.2, 2.5),
                  lambda e: (sl, 1.1 * np.sin(e), 0.1), -0.3, 0.6, ref,
                  (_u(rng, 0.3, 0.7), 0.0, 0.0))
    p = _leg_down(p, legs, _u(rng, 0.5, 0.8), _u(rng, 2.2, 2.6), (sl * 0.5, 0.0, -1.0), -0.6,
                  0.5, ref, (_u(rng, 0.6, 1.0), 0.0, 0.0))
    floor = _floor(p)
    joints, _ = p.fk()
    target = joints[0] + np.array([-sl * _u(rng, 0.3, 0.4), 0.0, _u(rng, -0.15, 0.05)])
    target[1] = floor + 0.04
    p.reach(seat, target, (-sl * 0.3, 0.0, -1.0))
    _hands_on_thighs(p, rng, sides=(legs,))
    info.update(arms='propped', legs_to=legs, hold_anchor='buttocks', limits='wide_hips')
    keys = [one.key(f'{up}_foot', (1.2, 1.8), 'one_knee'),
            tall.key(f'{down}_knee', (0.8, 1.2), 'kneel_upright'),
            p.key('knees', (1.2, 1.6), 'side_sitting')]
    return keys, info


def _supine_knees_up(rest, rng):
    p = _Pose(rest)
    p.set('pelvis', (-np.pi / 2, 0.0, 0.0))
    for side in SIDES:
        p.leg(side, _thigh(_sx(side), _u(rng, 0.05, 0.2), 0.0), 1.0, (0.0, -1.0, 0.0))
    return _knee_up(p, rng, SIDES)


def _knee_up(p, rng, sides):
    """Lying on the back: these knees up, feet flat on the floor (knee solved)."""
    for side in sides:
        e = _u(rng, 0.5, 1.0)
        spread = _u(rng, 0.0, 0.2)

        def flat(knee):
            q = p.copy()
            q.leg(side, _lying_dir(q, _sx(side) * spread, np.cos(e), np.sin(e)), knee,
                  q.world('pelvis') @ (0.0, 0.0, -1.0))
            q.foot(side, toe_out=0.1)
            b = _bottoms(q)
            back = b[[S[n] for n in BACK]].min()
            return float(b[[S[f'{side}_heel'], S[f'{side}_ball']]].min() - back), q
        p, _ = _solve(flat, 0.6, 2.4)
    return p


def _lying_dir(p, x, down, front):
    """World direction of a limb given in the pelvis frame.

    x: to the left, `down`: toward the feet, `front`: toward the body's front.
    """
    return p.world('pelvis') @ np.array([x, -down, front])


def _head_on_floor(p, axis=0, lift=0.0, sign=-1.0, ref=BACK):
    """Tilt the neck (about `axis`) until the head rests on the floor (`lift` above it).

    The floor is the lowest of the `ref` spheres (what the body lies on).
    """
    base = p.rot[J['neck']].copy()

    def touch(angle):
        q = p.copy()
        aa = np.zeros(3)
        aa[axis] = sign * angle
        q.rot[J['neck']] = base @ axis_angle_to_matrix(aa)
        return _lowest_of(q, 'head', 'face') - _lowest_of(q, *ref) - lift, q
    return _solve(touch, -0.3, 0.8)[0]


def _lie(stand, rest, rng, variant):
    info = {'arms': 'free', 'hold_anchor': 'pelvis'}
    if variant.startswith('front'):
        return _lie_front(stand, rest, rng, variant, info)
    squat = _squat(rest, rng).key('feet', (0.9, 1.3), 'squat')
    up = _sit_knees_up(rest, rng).key('feet', (0.9, 1.3), 'sit_knees_up')
    knees_up = _supine_knees_up(rest, rng)
    _arms_alongside(knees_up, rng)
    keys = [squat, up, knees_up.key('buttocks', (1.2, 1.8), 'lie_knees_up')]
    p = _Pose(rest)
    if variant == 'side':
        down = str(rng.choice(SIDES))
        roll = -_sx(down) * np.pi / 2 + _u(rng, -0.15, 0.15)
        p.set('pelvis', (0.0, 0.0, 0.0))
        p.rot[0] = _rz(roll) @ _rx(-np.pi / 2)
        _spine(p, rng, (0.0, 0.3))
        top = _other(down)
        f = _u(rng, 0.3, 1.1)
        for side, flex in ((down, f), (top, f + _u(rng, 0.0, 0.5))):
            adduct = 0.0 if side == down else _sx(down) * _u(rng, 0.0, 0.15)
            p.leg(side, _lying_dir(p, adduct, np.cos(flex), np.sin(flex)), _u(rng, 0.4, 1.5),
                  p.world('pelvis') @ (0.0, -0.3, -1.0))
            p.set(f'{side}_ankle', (_u(rng, 0.2, 0.5), 0.0, 0.0))
        torso = p.world('spine3')
        pillow = bool(rng.random() < 0.5)
        if pillow:                              # lower arm under the head
            p.arm(down, torso @ (_sx(down) * 0.3, 0.9, 0.35), _u(rng, 1.6, 2.2), torso @ (0, 0, 1))
        else:                                   # lower arm forward on the floor
            p.arm(down, torso @ (_sx(down) * 0.1, 0.35, 1.0), _u(rng, 0.3, 1.4), torso @ UP)
        joints, _ = p.fk()                       # the top hand on the hip or on the floor
        if rng.random() < 0.5:
            target = joints[J[f'{top}_hip']] + torso @ (_sx(top) * 0.13, 0.05, 0.05)
        else:
            target = joints[J['spine3']] + torso @ (0.0, -0.1, 0.3)
            target[1] = _floor(p) + 0.04
        p.reach(top, target, torso @ (_sx(top) * 0.3, 0.0, -1.0))
        p = _head_on_floor(p, 2, 0.07 if pillow else 0.0, -_sx(down), SIDE)
        info.update(arms='pillow' if pillow else 'forward', side_down=down)
        keys.append(p.key('pelvis', (1.2, 1.8), 'side'))
        return keys, info
    p.set('pelvis', (-np.pi / 2, 0.0, _u(rng, -0.05, 0.05)))
    _spine(p, rng, (-0.05, 0.1), 0.1, 0.1)
    for side in SIDES:                           # legs out, the heels on the floor
        spread, knee = _u(rng, 0.03, 0.15), _u(rng, 0.08, 0.25)
        p.set(f'{side}_ankle', (_u(rng, 0.3, 0.7), 0.0, 0.0))

        def heel(e, side=side, spread=spread, knee=knee):
            q = p.copy()
            q.leg(side, _lying_dir(q, _sx(side) * spread, np.cos(e), np.sin(e)), knee,
                  q.world('pelvis') @ (0.0, 0.0, -1.0))
            b = _bottoms(q)
            return float(b[[S[f'{side}_heel'], S[f'{side}_calf']]].min()
                         - b[[S[n] for n in BACK]].min()), q
        p = _solve(heel, -0.2, 0.3)[0]
    if variant == 'back_knee_up':
        p = _knee_up(p, rng, SIDES if rng.random() < 0.5 else (str(rng.choice(SIDES)),))
    elif variant == 'back_leg_raised':
        raised = str(rng.choice(SIDES))
        e = _u(rng, 0.6, 1.3)
        p.leg(raised, _lying_dir(p, _sx(raised) * 0.05, np.cos(e), np.sin(e)),
              _u(rng, 0.1, 0.35), p.world('pelvis') @ (0.0, 0.0, -1.0))
        if rng.random() < 0.5:
            p = _knee_up(p, rng, (_other(raised),))
        info['raised'] = raised
    info['arms'] = _arms_alongside(p, rng, choice=True)
    p = _head_on_floor(p)
    keys.append(p.key('pelvis', (1.0, 1.6), variant))
    return keys, info


def _arms_alongside(p, rng, choice=False):
    """Arms of a person lying on the back: alongside, hands on the belly or behind the head."""
    kind = str(rng.choice(['alongside', 'alongside', 'belly', 'behind_head'])) if choice \
        else 'alongside'
    torso = p.world('spine3')
    joints, _ = p.fk()
    for side in SIDES:
        sx = _sx(side)
        if kind == 'alongside':
            a = _u(rng, 0.15, 0.6)
            p.arm(side, torso @ (sx * np.sin(a), -np.cos(a), -0.1), _u(rng, 0.1, 0.6),
                  torso @ FORWARD)
        elif kind == 'belly':
            target = joints[J['spine1']] + torso @ (sx * 0.05, 0.0, 0.2)
            p.reach(side, target, torso @ (sx, 0.0, -0.5))
        else:
            p.arm(side, torso @ (sx * 0.75, 0.55, -0.15), _u(rng, 2.3, 2.6),
                  torso @ (-sx, 0.2, -0.3))
    return 'free' if kind == 'alongside' else kind


def _all_fours(rest, rng):
    knee_e = _u(rng, -0.15, 0.1)
    head_up = _u(rng, 0.0, 0.3)
    spine = _u(rng, -0.1, 0.15)
    seed = int(rng.integers(2 ** 31))

    def build(lean):
        p = _Pose(rest)
        p.set('pelvis', (lean, 0.0, 0.0))
        p.set('spine1', (spine, 0, 0))
        r = np.random.default_rng(seed)
        for side in SIDES:
            p = _kneel_leg(p, r, side, False, (_sx(side) * 0.08, -1.0, knee_e))
        p.set('neck', (-head_up, 0.0, 0.0))
        torso = p.world('spine3')
        for side in SIDES:
            p.arm(side, (_sx(side) * 0.1, -1.0, 0.0), 0.1, torso @ UP)   # elbow creases forward
        b = _bottoms(p)
        hands = b[[S['left_wrist'], S['right_wrist']]].min() - 0.01
        return float(hands - b[~IS_ARM].min()), p
    return _solve(build, 1.0, 1.75)[0]


def _prone(rest, rng, elbows):
    """Lying on the front: propped on the forearms, or flat.

    Flat: head turned, arms alongside or folded under the face.
    """
    ext = (_u(rng, 0.2, 0.4), _u(rng, 0.15, 0.3), _u(rng, 0.1, 0.3)) if elbows else (0, 0, 0)
    spread = {s: _u(rng, 0.03, 0.15) for s in SIDES}
    pointed = {s: _u(rng, 0.6, 1.1) for s in SIDES}
    fold = bool(rng.random() < 0.5)
    turn = float(rng.choice([-1.0, 1.0]))

    def build(raise_chest):
        p = _Pose(rest)
        p.set('pelvis', (np.pi / 2 - raise_chest, 0.0, 0.0))
        for name, e in zip(('spine1', 'spine2', 'spine3'), ext):
            p.set(name, (-e, 0.0, 0.0))
        for side in SIDES:
            p.leg(side, _lying_dir(p, _sx(side) * spread[side], 1.0, 0.0), 0.12,
                  p.world('pelvis') @ (0.0, 0.0, -1.0))
            p.set(f'{side}_ankle', (pointed[side], 0.0, 0.0))
        torso = p.world('spine3')
        for side in SIDES:
            sx = _sx(side)
            if elbows:                           # upper arms down, forearms on the floor
                p.arm(side, (sx * 0.15, -1.0, 0.25), 1.55, (-sx * 0.25, 0.0, 1.0))
            elif fold:                           # hands under the face
                p.arm(side, torso @ (sx * 0.85, 0.35, -0.3), 2.3, torso @ (-sx, 0.0, -0.3))
            else:
                p.arm(side, torso @ (sx * 0.3, -0.95, 0.0), 0.3, torso @ (0.0, 0.0, 1.0))
        if elbows:
            p.set('neck', (-0.3, 0.0, 0.0)).set('head', (-0.2, 0.0, 0.0))
            b = _bottoms(p)
            return float(b[_mask('elbow')].min() - b[~IS_ARM].min()), p
        return 0.0, p
    p = _solve(build, 0.0, 0.6)[0] if elbows else build(0.0)[1]
    for side in SIDES:                           # thighs down until the shins lie flat too
        def flat(tilt):
            q = p.copy()
            q.leg(side, _lying_dir(q, _sx(side) * spread[side], np.cos(tilt), np.sin(tilt)),
                  0.12, q.world('pelvis') @ (0.0, 0.0, -1.0))
            b = _bottoms(q)
            return float(b[S[f'{side}_shin']] - b[S['pubis']]), q
        p = _solve(flat, -0.1, 0.4)[0]

        def foot_flat(x):                        # the foot's top on the floor, toes back
            q = p.copy()
            q.set(f'{side}_ankle', (x, 0.0, 0.0))
            b = _bottoms(q)
            feet = b[[S[f'{side}_{n}'] for n in ('toe', 'ball', 'instep', 'heel')]].min()
            return float(feet - b[[S[f'{side}_shin'], S[f'{side}_knee']]].min()), q
        p = _solve(foot_flat, 0.2, 1.6)[0]
    if not elbows:
        p.set('neck', (0.0, turn * _u(rng, 0.6, 0.8), 0.0))
        p.set('head', (0.0, turn * _u(rng, 0.4, 0.6), 0.0))
        p = _head_on_floor(p, 2, 0.06 if fold else 0.0, -turn, FRONT)
    return p, 'on_elbows' if elbows else ('folded' if fold else 'alongside')


def _lie_front(stand, rest, rng, variant, info):
    """Down through kneeling and all fours, then lowered onto the forearms."""
    one, down, up = _one_knee(rest, rng)
    tall = _upright_kneel(rest, rng, toes=True)
    fours = _all_fours(rest, rng)
    keys = [one.key(f'{up}_foot', (1.2, 1.8), 'one_knee'),
            tall.key(f'{down}_knee', (0.8, 1.2), 'kneel_upright'),
            fours.key('knees', (1.0, 1.5), 'all_fours')]
    on_elbows, arms = _prone(rest, rng, True)
    low = _Pose(rest)                            # half way down, the hands still on the floor
    low.rot = slerp_matrices(fours.rot, on_elbows.rot, 0.5)
    floor = _floor(low)
    joints, _ = low.fk()
    for side in SIDES:
        target = joints[J[f'{side}_shoulder']] + np.array([_sx(side) * 0.05, 0.0, 0.0])
        target = target + low.world('pelvis') @ np.array([0.0, 0.1, 0.0])
        target[1] = floor + 0.03
        low.reach(side, target, low.world('pelvis') @ np.array([_sx(side) * 0.5, -1.0, 0.0]))
    keys.append(low.key('knees', (0.9, 1.3), 'front_lowering'))
    keys.append(on_elbows.key('knees', (0.9, 1.3), 'front_on_elbows'))
    if variant == 'front':
        p, arms = _prone(rest, rng, False)
        if arms == 'alongside':                  # the arms go round by the sides, not under
            via = p.copy()
            torso = via.world('spine3')
            for side in SIDES:
                via.arm(side, torso @ (_sx(side), 0.1, 0.05), 1.0, torso @ UP)
            keys.append(via.key('pelvis', (0.8, 1.2), 'front_arms_out'))
        keys.append(p.key('pelvis', (1.0, 1.5), variant))
    info.update(arms=arms, hold_anchor='pelvis')
    return keys, info


BUILDERS = {'sit_chair': _sit_chair, 'sit_ground': _sit_ground, 'kneel': _kneel,
            'crouch': _crouch, 'lie': _lie}


# ---------------------------------------------------------------------------------------------
# Motion over time: small movements while holding, gestures, donors.

def _smooth_noise(rng, n, fps, amplitude, freq=(0.08, 0.45)):
    """Smooth random signal (n,) with standard deviation ~ amplitude: a few slow sines."""
    t = np.arange(n) / fps
    out = np.zeros(n)
    for _ in range(3):
        out += rng.normal() * np.sin(2 * np.pi * rng.uniform(*freq) * t + rng.uniform(0, 6.3))
    return amplitude * out / np.sqrt(1.5)


def _bump(n, start, length, ramp):
    """0 -> 1 -> 0 envelope (ease in, plateau, ease out) over frames [start, start + length)."""
    i = np.arange(n) - start
    up = _ease(i / max(ramp, 1))
    down = _ease((length - i) / max(ramp, 1))
    return np.where((i >= 0) & (i < length), np.minimum(up, down), 0.0)


# Small motion while holding a posture (rad, std of each axis): alive, never frozen.
_WOBBLE = {'spine1': 0.025, 'spine2': 0.02, 'spine3': 0.02, 'neck': 0.05, 'head': 0.06,
           'left_collar': 0.03, 'right_collar': 0.03, 'left_wrist': 0.1, 'right_wrist': 0.1}
_ARM_WOBBLE = {'left_shoulder': 0.05, 'right_shoulder': 0.05, 'left_elbow': 0.08,
               'right_elbow': 0.08}
# Gestures of a free arm (left; x mirrored for the right): upper arm and forearm directions in
# the chest's frame, elbow flexion (rad), and a waving amplitude on the elbow.
_GESTURES = {
    'hand_to_face': ((0.25, -0.55, 0.8), 2.3, (-0.3, 1.0, 0.0), 0.0),
    'point': ((0.35, 0.0, 1.0), 0.15, (0.0, 1.0, 0.0), 0.0),
    'wave': ((0.9, 0.5, 0.2), 1.5, (0.0, 1.0, 0.0), 0.25),
    'scratch_head': ((0.75, 0.55, 0.25), 2.5, (-0.6, 1.0, 0.0), 0.1),
    'talk': ((0.25, -0.85, 0.5), 1.5, (-0.2, 0.3, 1.0), 0.2),
    'reach': ((0.2, -0.3, 1.0), 0.4, (0.0, 1.0, 0.0), 0.0),
}
DONOR_MAX_SPEED = 3.0  # m/s, fastest upper-body joint of a donor window we take as it is
GESTURE_SPEED = 0.9    # m/s, peak speed of the hand along a gesture
_DONOR_JOINTS = ('neck', 'head', 'left_collar', 'right_collar', 'left_shoulder',
                 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                 'left_hand', 'right_hand')
_DONOR_SPINE = {'spine1': 0.3, 'spine2': 0.4, 'spine3': 0.5}


def _hold(key, rng, n, fps, rest, free_arms, donors, head=1.0):
    """(n, 24, 3, 3) rotations holding `key` with small motion, gestures or a donor's arms.

    head: scale of the head's motion (small for a head resting on the floor).
    """
    rot = np.repeat(key.rot[None], n, 0)
    env = _bump(n, 0, n, min(int(fps), n // 3))
    delta = np.zeros((n, 24, 3))
    amps = dict(_WOBBLE, **(_ARM_WOBBLE if free_arms else {}))
    for name, amp in amps.items():
        for axis in range(3):
            delta[:, J[name], axis] = _smooth_noise(rng, n, fps, amp)
    delta[:, J['neck'], 1] *= 2.5                # mostly turning the head
    for _ in range(int(rng.integers(0, 3))):    # a look around
        length = int(rng.uniform(1.0, 2.5) * fps)
        start = int(rng.integers(0, max(n - length, 1)))
        delta[:, J['head'], 1] += rng.uniform(-0.6, 0.6) * _bump(n, start, length, length // 3)
    delta[:, [J['neck'], J['head']]] *= head
    if head < 1.0:                               # lying: the trunk rests, it hardly sways
        delta[:, [J['spine1'], J['spine2'], J['spine3']]] *= 0.4
    rot = rot @ axis_angle_to_matrix(delta * env[:, None, None])
    meta = {}
    if donors:
        donor = donors[int(rng.integers(len(donors)))]
        d_rot = _donor_window(donor, rng, n, fps)
        joints = _DONOR_JOINTS if free_arms else ('neck', 'head')
        # blend in and out slowly enough for the hands (about 1 rad/s at the shoulder)
        turn = max(np.linalg.norm(matrix_to_axis_angle(key.rot[J[j]].T @ d_rot[i, J[j]]))
                   for j in joints for i in (0, -1))
        w = _bump(n, 0, n, min(int(max(1.0, turn) * fps), n // 2))
        for j in joints:
            rot[:, J[j]] = _blend(rot[:, J[j]], d_rot[:, J[j]], w)
        for name, k in _DONOR_SPINE.items():
            j = J[name]
            rel = np.swapaxes(d_rot[:1, j], -1, -2) @ d_rot[:, j]      # the donor's sway
            rot[:, j] = _blend(rot[:, j], rot[:, j] @ rel, k * w)
        meta['donor'] = donor.name
    elif free_arms:
        rot = _gestures(rot, key, rng, n, fps, rest, meta)
    return rot, meta


@dataclass
class _Donor:
    """A donor clip at the output rate.

    rot: local rotations; step: how far its upper body moves from each frame to the next
    (metres, trunk held still).
    """

    name: str
    rot: np.ndarray
    step: np.ndarray


def _donor(motion, fps, rest):
    if abs(motion.fps - fps) > 1e-6:
        motion = resample(motion, fps)
    rot = motion.rotations()
    still = rot.copy()
    still[:, [J[n] for n in SMPL24_NAMES if n not in _DONOR_JOINTS]] = np.eye(3)
    joints, _ = _fk(still, rest)
    step = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max(1) if len(rot) > 1 \
        else np.zeros(0)
    return _Donor(motion.name, rot, np.append(step, 0.0))


def _donor_window(donor, rng, n, fps):
    """Rotations (n, 24, 3, 3) of a random window of the donor.

    Of a few random windows, the first whose arms stay below DONOR_MAX_SPEED (mocap has
    glitches), else the calmest.
    """
    m = len(donor.rot)
    if m >= n:
        best = None
        for _ in range(8):
            start = int(rng.integers(0, m - n + 1))
            peak = donor.step[start:start + n - 1].max(initial=0.0) * fps
            if best is None or peak < best[0]:
                best = (peak, start)
            if peak <= DONOR_MAX_SPEED:
                break
        idx = np.arange(best[1], best[1] + n)
    else:                                        # play back and forth
        k = np.arange(n) % (2 * m - 2 if m > 1 else 1)
        idx = np.where(k < m, k, 2 * m - 2 - k) if m > 1 else np.zeros(n, int)
    return donor.rot[idx]


def _gestures(rot, key, rng, n, fps, rest, meta):
    """Arm gestures of the free arms: to a gesture pose and back, hands at most ~1.2 m/s."""
    p = _Pose(rest)
    p.rot = key.rot.copy()
    torso = p.world('spine3')
    names = []
    for side in SIDES:
        sx = np.array([_sx(side), 1.0, 1.0])
        t = int(rng.uniform(0.5, 1.5) * fps)
        while rng.random() < 0.75:
            name = str(rng.choice(list(_GESTURES)))
            upper, elbow, hint, wave = _GESTURES[name]
            q = p.copy()
            q.arm(side, torso @ (sx * upper), elbow * rng.uniform(0.85, 1.05), torso @ (sx * hint))
            joints = [J[f'{side}_shoulder'], J[f'{side}_elbow']]
            rel = [matrix_to_axis_angle(key.rot[j].T @ q.rot[j]) for j in joints]
            path = []                            # the hand's path, for the gesture's pace
            for w in np.linspace(0.0, 1.0, 9):
                r = p.copy()
                for j, v in zip(joints, rel):
                    r.rot[j] = key.rot[j] @ _rodrigues(w * v)
                path.append(r.fk()[0][J[f'{side}_hand']])
            travel = np.linalg.norm(np.diff(path, axis=0), axis=1).sum()
            ramp = int(max(0.5, 1.875 * travel / GESTURE_SPEED) * fps)   # min-jerk peak speed
            length = 2 * ramp + int(rng.uniform(0.5, 2.0) * fps)
            if t + length >= n:
                break
            env = _bump(n, t, length, ramp)
            for j, r in zip(joints, rel):      # along one fixed path from the key's pose
                rot[:, j] = rot[:, j] @ axis_angle_to_matrix(env[:, None] * r)
            if wave:
                osc = wave * np.sin(2 * np.pi * rng.uniform(0.8, 1.2) * np.arange(n) / fps)
                aa = np.zeros((n, 3))
                aa[:, 1] = -sx[0] * osc * _bump(n, t + ramp, length - 2 * ramp, int(0.3 * fps))
                rot[:, joints[1]] = rot[:, joints[1]] @ axis_angle_to_matrix(aa)
            names.append(f'{side}:{name}')
            t += length + int(rng.uniform(0.5, 2.5) * fps)
    meta['gestures'] = names
    return rot


# ---------------------------------------------------------------------------------------------
# A clip: stand, go down through the keys, hold, maybe stand up again; then contacts.

def _limit(aa, limits=JOINT_LIMITS):
    """Clip the joints of a limits table into their ranges (local axis-angle)."""
    aa = aa.copy()
    for name, ranges in limits.items():
        for axis, (lo, hi) in enumerate(ranges):
            aa[..., J[name], axis] = np.clip(aa[..., J[name], axis], lo, hi)
    return aa


def _segment(a, b, n):
    """n frames from key a (excluded) to key b (included), eased; foot targets slerped."""
    w = _ease(np.arange(1, n + 1) / n)
    rot = slerp_matrices(a.rot[None], b.rot[None], w[:, None])
    feet = {s: slerp_matrices(a.feet[s][None], b.feet[s][None], w)
            for s in SIDES if s in a.feet and s in b.feet}
    return rot, feet


# Fastest joint speed of a transition (m/s, relative to the anchored contact): moves into a
# posture are slowed down to it (a quick step back to kneel is about this fast).
MAX_SPEED = 1.2


def _peak_step(rot, rest, anchor, fps):
    """Largest frame-to-frame move of a joint relative to the anchor (metres).

    The body rests on the floor and its arms are kept above it, as in the finished clip.
    """
    joints, g_rot = _fk(rot, rest)
    c = sphere_centres(joints, g_rot, sphere_offsets(rest))
    trans = np.zeros((len(rot), 3))
    trans[:, 1] = -np.where(IS_ARM, np.inf, c[..., 1] - SPHERE_RADII).min(1)
    rot = _arms_above_floor(rot.copy(), rest, trans, fps)
    joints, g_rot = _fk(rot, rest)
    c = sphere_centres(joints, g_rot, sphere_offsets(rest))
    rel = joints - c[:, [S[n] for n in ANCHORS[anchor]]].mean(1)[:, None]
    return float(np.linalg.norm(np.diff(rel, axis=0), axis=-1).max())


def _place(rot, rest, anchors, seat, support_arms=False):
    """Translation (T, 3): each frame's anchor keeps its place, the body rests on the floor.

    anchors: (T,) ANCHORS names; seat: seat height for SEAT_SPHERES (None: no chair).
    """
    joints, g_rot = _fk(rot, rest)
    c = sphere_centres(joints, g_rot, sphere_offsets(rest))
    names = sorted(set(anchors))
    table = np.stack([c[:, [S[s] for s in ANCHORS[a]]].mean(1) for a in names])  # (A, T, 3)
    which = np.array([names.index(a) for a in anchors])
    frames = np.arange(len(rot))
    # the anchor's own motion from the previous frame (same anchor on both frames)
    step = table[which, frames] - table[which, np.maximum(frames - 1, 0)]
    trans = -np.cumsum(step, 0)
    bottom = c[..., 1] - SPHERE_RADII
    lift = -(bottom if support_arms else np.where(IS_ARM, np.inf, bottom)).min(1)
    if seat is not None:
        lift = np.maximum(lift, seat - bottom[:, _mask(*SEAT_SPHERES)].min(1))
    trans[:, 1] = lift
    return trans


ARM_LIFT_RATE = 1.0    # rad/s, fastest turn of a shoulder lifting an arm off the floor


def _rate_limited_envelope(x, rate):
    """The lowest curve >= x whose slope stays within +-rate per sample.

    A lift that starts early enough instead of a jerk.
    """
    out = np.asarray(x, np.float64).copy()
    for t in range(1, len(out)):
        out[t] = max(out[t], out[t - 1] - rate)
    for t in range(len(out) - 2, -1, -1):
        out[t] = max(out[t], out[t + 1] - rate)
    return out


def _arms_above_floor(rot, rest, trans, fps, margin=0.005):
    """Turn the shoulders of frames whose arm would go through the floor up just enough."""
    joints, g_rot = _fk(rot, rest, trans)
    c = sphere_centres(joints, g_rot, sphere_offsets(rest))
    angles = np.linspace(0.0, 1.6, 33)
    for side in SIDES:
        arm = _SIDE_ARM[side]
        sh = joints[:, J[f'{side}_shoulder']]
        if (c[:, arm, 1] - SPHERE_RADII[arm]).min() >= -margin:
            continue
        # swing the arm up and away from the trunk: about (horizontal trunk -> hand) x up,
        # defined and continuous for an arm hanging straight down (all fours, propped hands)
        out = joints[:, J[f'{side}_wrist']] - joints[:, J['spine1']]
        out[:, 1] = 0.0
        axis = np.cross(out, UP)
        weak = np.linalg.norm(axis, axis=1) < 0.05
        axis[weak] = np.cross(joints[weak, J[f'{side}_wrist']] - sh[weak], UP) + 1e-9
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        turns = axis_angle_to_matrix(axis[:, None] * angles[None, :, None])      # (T, A, 3, 3)
        rel = c[:, arm] - sh[:, None]
        moved = np.einsum('taij,tsj->tasi', turns, rel)[..., 1] + sh[:, None, None, 1]
        ok = (moved - SPHERE_RADII[arm]).min(-1) >= -margin
        first = np.where(ok.any(1), ok.argmax(1), 0)
        theta = _rate_limited_envelope(angles[first], ARM_LIFT_RATE / fps)
        if theta.max() <= 0:
            continue
        turn = axis_angle_to_matrix(axis * theta[:, None])
        j = J[f'{side}_shoulder']
        parent = g_rot[:, SMPL24_PARENTS[j]]
        rot[:, j] = np.swapaxes(parent, -1, -2) @ turn @ g_rot[:, j]
    return rot


def _clip(posture, variant, rest, rng, fps, donors):
    stand = _stand(rest, rng)
    keys, info = BUILDERS[posture](stand, rest, rng, variant)
    keys = [stand.key('feet', name='stand')] + keys
    n = {'stand': int(round(_u(rng, 1.5, 3.0) * fps)), 'hold': int(round(_u(rng, 3.0, 8.0) * fps))}
    back = bool(rng.random() < 0.5)
    parts, feet_parts, anchors, phases = [], [], [], {}
    # standing: small sway that dies out before moving
    m = n['stand']
    sway = np.zeros((m, 24, 3))
    for name, amp in (('pelvis', 0.01), ('spine1', 0.015), ('spine2', 0.01), ('neck', 0.04),
                      ('head', 0.05), ('left_hip', 0.015), ('right_hip', 0.015)):
        for axis in range(3):
            sway[:, J[name], axis] = _smooth_noise(rng, m, fps, amp)
    fade = 1.0 - _ease((np.arange(m) - (m - fps)) / fps)
    parts.append(stand.rot[None] @ axis_angle_to_matrix(sway * fade[:, None, None]))
    feet_parts.append({s: np.repeat(stand.feet[s][None], m, 0) for s in SIDES})
    anchors += ['feet'] * m
    phases['stand'] = [0, m]

    def add_segment(a, b, anchor):
        k = max(int(round(_u(rng, *b.seconds) * fps)), 2)
        for _ in range(3):                       # slower where a limb would move too fast
            rot, feet = _segment(a, b, k)
            step = _peak_step(np.concatenate([a.rot[None], rot]), rest, anchor, fps)
            if step * fps <= MAX_SPEED:
                break
            k = int(np.ceil(k * step * fps / MAX_SPEED))
            rot, feet = _segment(a, b, k)
        parts.append(rot)
        feet_parts.append(feet)
        anchors.extend([anchor] * k)

    start = sum(map(len, parts))
    for a, b in zip(keys[:-1], keys[1:]):
        add_segment(a, b, b.anchor)
    phases['down'] = [start, sum(map(len, parts))]
    final = keys[-1]
    hold, meta = _hold(final, rng, n['hold'], fps, rest, info['arms'] == 'free', donors,
                       0.3 if posture == 'lie' else 1.0)
    phases['hold'] = [sum(map(len, parts)), sum(map(len, parts)) + n['hold']]
    parts.append(hold)
    feet_parts.append({s: np.repeat(final.feet[s][None], n['hold'], 0) for s in final.feet})
    anchors += [info['hold_anchor']] * n['hold']
    if back:
        start = sum(map(len, parts))
        for a, b in zip(keys[::-1][:-1], keys[::-1][1:]):
            add_segment(a, b, a.anchor)
        phases['up'] = [start, sum(map(len, parts))]
        m = int(round(_u(rng, 1.0, 2.0) * fps))
        sway = np.zeros((m, 24, 3))
        for name, amp in (('spine1', 0.015), ('neck', 0.04), ('head', 0.05)):
            sway[:, J[name], 1] = _smooth_noise(rng, m, fps, amp)
        fade = _ease(np.arange(m) / fps)
        parts.append(stand.rot[None] @ axis_angle_to_matrix(sway * fade[:, None, None]))
        feet_parts.append({s: np.repeat(stand.feet[s][None], m, 0) for s in SIDES})
        anchors += ['feet'] * m
        phases['stand_end'] = [phases['up'][1], phases['up'][1] + m]
    rot = np.concatenate(parts)
    # feet kept on the floor: the ankle follows the shin so that the sole keeps its angle
    offset = 0
    for part, feet in zip(parts, feet_parts):
        if feet:
            g = _global_rotations(rot[offset:offset + len(part)])
            for side, target in feet.items():
                knee = g[:, J[f'{side}_knee']]
                rot[offset:offset + len(part), J[f'{side}_ankle']] = \
                    np.swapaxes(knee, -1, -2) @ target
        offset += len(part)
    limits = WIDE_HIP_LIMITS if info.get('limits') == 'wide_hips' else JOINT_LIMITS
    aa = _limit(matrix_to_axis_angle(rot), limits)
    rot = axis_angle_to_matrix(aa)
    seat = info.get('seat_height')
    trans = _place(rot, rest, anchors, seat, info.get('support_arms', False))
    rot = _arms_above_floor(rot, rest, trans, fps)
    aa = _limit(matrix_to_axis_angle(rot), limits)
    yaw = _u(rng, -np.pi, np.pi)
    meta.update({k: v for k, v in info.items() if k not in ('hold_anchor', 'arms', 'limits')})
    if limits is WIDE_HIP_LIMITS:
        meta['limits'] = 'wide_hips'
    meta.update(posture=posture, variant=variant, arms=info['arms'],
                keys=[k.name for k in keys], phases=phases, returns=back, yaw=yaw)
    motion = SMPLMotion(pose=aa.reshape(-1, 72), trans=trans, fps=fps, meta=meta)
    motion = center_start(rotate_yaw(motion, yaw, rest), rest)
    return motion


def posture_clips(rest_joints, clips_per_posture=40, seed=0, fps=30.0, donors=None,
                  postures=POSTURES):
    """Generated clips of people going into, holding and leaving non-standing postures.

    Args:
        rest_joints: (24, 3) rest joints of the body the clips are for (e.g.
            ``retarget.target_rest_joints(body)``); contacts are solved on them.
        clips_per_posture: clips of each posture (variants in turn).
        seed: the clips are a deterministic function of the seed (and these arguments).
        fps: frame rate of the clips.
        donors: optional real SMPLMotion clips whose upper-body rotations (arms, head, part of
            the spine) drive the hold phase instead of procedural gestures.
        postures: subset of POSTURES to generate.
    Returns:
        list of SMPLMotion, named ``postures/<posture>_<index>``, with meta ``posture``,
        ``class`` ('sitting', 'crouching_kneeling', 'lying'), ``variant``, ``generated``,
        ``phases`` (frame ranges of stand / down / hold / up / stand_end), ``seat_height``
        (chairs) and the rest of the clip's random choices.
    """
    rest = np.asarray(rest_joints, np.float64)
    donors = [_donor(d, float(fps), rest) for d in donors] if donors else None
    out = []
    for p_index, posture in enumerate(POSTURES):
        if posture not in postures:
            continue
        variants = VARIANTS[posture]
        for i in range(clips_per_posture):
            rng = np.random.default_rng([seed, p_index, i])
            variant = variants[i % len(variants)]
            motion = _clip(posture, variant, rest, rng, float(fps), donors)
            motion.name = f'postures/{posture}_{i:03d}'
            motion.meta.update({'class': POSTURE_CLASS[posture], 'generated': True})
            out.append(motion)
    return out
