"""How each source skeleton maps onto SMPL's 24 joints.

A :class:`Rig` names, for every SMPL joint, what drives its rotation and which source point
sits where the SMPL joint sits:

- ``drivers``: SMPL joint -> source joint whose global rotation, times a constant calibration
  (see :mod:`.retarget`), gives the SMPL joint's global rotation.
- ``interpolate``: SMPL joint -> (SMPL joint a, SMPL joint b, w): global rotation slerped
  between two other SMPL joints, for spines with fewer segments than SMPL's three.
- every other joint keeps its parent's global rotation (local identity): joints the source
  lacks, e.g. DeepMimic's collars, wrists and toes.
- ``points``: SMPL joint -> source joint at the same anatomical place, for bone directions
  (calibration targets and the bone-direction error). ``ends``: SMPL leaf joint -> source end
  site giving the leaf's direction (head top, toe tip, finger tip).
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rig:
    name: str
    drivers: dict
    points: dict
    ends: dict = field(default_factory=dict)
    interpolate: dict = field(default_factory=dict)

    def source_joints(self):
        """Every source joint name the rig refers to."""
        return set(self.drivers.values()) | set(self.points.values()) | set(self.ends.values())


def _sided(table):
    """Expand '{s}' entries into left/right with the source's side spelling."""
    out = {}
    for smpl, src in table.items():
        if '{side}' in smpl:
            for side, sides in (('left', src[0]), ('right', src[1])):
                out[smpl.format(side=side)] = sides
        else:
            out[smpl] = src
    return out


def _cmu_rig(name, n):
    """A CMU rig from a table of its joint names (the two conversions spell them apart)."""
    sided = {
        '{side}_hip': n['hip'], '{side}_knee': n['knee'], '{side}_ankle': n['ankle'],
        '{side}_foot': n['toe'], '{side}_collar': n['collar'],
        '{side}_shoulder': n['shoulder'], '{side}_elbow': n['elbow'],
        '{side}_wrist': n['wrist'],
    }
    trunk = {'pelvis': 'Hips', 'spine1': n['spine1'], 'spine2': n['spine2'],
             'spine3': n['spine3'], 'neck': n['neck'], 'head': 'Head'}
    # Zero-length helper joints turn the bone that follows them: the lower-neck helper turns
    # the chest -> neck bone and the finger base the wrist -> finger bone, so they drive
    # SMPL's spine3 and wrist, and the fingers drive SMPL's hand.
    return Rig(
        name=name,
        drivers=_sided({**trunk, **sided, 'spine3': n['lower_neck'],
                        '{side}_wrist': n['hand'], '{side}_hand': ('LFingers', 'RFingers')}),
        points=_sided(dict(trunk, **sided, **{'{side}_hand': ('LFingers', 'RFingers')})),
        ends=_sided({'head': 'Head_end',
                     '{side}_foot': tuple(t + '_end' for t in n['toe']),
                     '{side}_hand': ('LFingers_end', 'RFingers_end')}),
    )


# CMU, cgspeed's BVH conversion (e.g. 01_01): 31 joints with zero-length helper joints
# (LHipJoint, LowerBack, Neck, LeftShoulder at their parent's position). The neck's upper
# joint (Neck1) is SMPL's neck.
CMU = _cmu_rig('cmu', dict(
    spine1='LowerBack', spine2='Spine', spine3='Spine1', lower_neck='Neck', neck='Neck1',
    hip=('LeftUpLeg', 'RightUpLeg'), knee=('LeftLeg', 'RightLeg'),
    ankle=('LeftFoot', 'RightFoot'),
    toe=('LeftToeBase', 'RightToeBase'), collar=('LeftShoulder', 'RightShoulder'),
    shoulder=('LeftArm', 'RightArm'), elbow=('LeftForeArm', 'RightForeArm'),
    wrist=('LeftHand', 'RightHand'), hand=('LeftFingerBase', 'RightFingerBase')))

# The same skeleton with the original ASF names (e.g. 131_01): here 'LeftShoulder' is the
# upper arm and 'Neck' the upper neck, so it needs its own table, not aliases.
CMU_ASF = _cmu_rig('cmu_asf', dict(
    spine1='lowerback', spine2='Chest', spine3='Chest2', lower_neck='lowerneck', neck='Neck',
    hip=('LeftHip', 'RightHip'), knee=('LeftKnee', 'RightKnee'), ankle=('LeftAnkle',
                                                                        'RightAnkle'),
    toe=('LeftToe', 'RightToe'), collar=('LeftCollar', 'RightCollar'),
    shoulder=('LeftShoulder', 'RightShoulder'), elbow=('LeftElbow', 'RightElbow'),
    wrist=('LeftWrist', 'RightWrist'), hand=('lhand', 'rhand')))

# Bandai Namco Research Motiondataset 1/2: 22 joints, one spine joint fewer than SMPL, no
# usable end sites (all zero-length).
_BANDAI_JOINTS = _sided({
    'pelvis': 'Hips', 'spine1': 'Spine', 'spine3': 'Chest', 'neck': 'Neck', 'head': 'Head',
    '{side}_hip': ('UpperLeg_L', 'UpperLeg_R'), '{side}_knee': ('LowerLeg_L', 'LowerLeg_R'),
    '{side}_ankle': ('Foot_L', 'Foot_R'), '{side}_foot': ('Toes_L', 'Toes_R'),
    '{side}_collar': ('Shoulder_L', 'Shoulder_R'), '{side}_shoulder': ('UpperArm_L', 'UpperArm_R'),
    '{side}_elbow': ('LowerArm_L', 'LowerArm_R'), '{side}_wrist': ('Hand_L', 'Hand_R'),
})
# Each SMPL joint is driven by, and placed at, the same Bandai joint.
BANDAI = Rig(name='bandai', drivers=_BANDAI_JOINTS, points=dict(_BANDAI_JOINTS),
             interpolate={'spine2': ('spine1', 'spine3', 0.5)})

# DeepMimic humanoid: one chest joint for SMPL's three spine joints; no collars, fixed wrists,
# rigid feet; end sites from the collision shapes (head centre, foot front).
DEEPMIMIC = Rig(
    name='deepmimic',
    drivers=_sided({
        'pelvis': 'root', 'spine3': 'chest', 'neck': 'neck',
        '{side}_hip': ('left_hip', 'right_hip'), '{side}_knee': ('left_knee', 'right_knee'),
        '{side}_ankle': ('left_ankle', 'right_ankle'),
        '{side}_shoulder': ('left_shoulder', 'right_shoulder'),
        '{side}_elbow': ('left_elbow', 'right_elbow'),
    }),
    points=_sided({
        'pelvis': 'root', 'spine3': 'chest', 'neck': 'neck', 'head': 'neck_end',
        '{side}_hip': ('left_hip', 'right_hip'), '{side}_knee': ('left_knee', 'right_knee'),
        '{side}_ankle': ('left_ankle', 'right_ankle'),
        '{side}_foot': ('left_ankle_end', 'right_ankle_end'),
        '{side}_shoulder': ('left_shoulder', 'right_shoulder'),
        '{side}_elbow': ('left_elbow', 'right_elbow'), '{side}_wrist': ('left_wrist',
                                                                        'right_wrist'),
    }),
    interpolate={'spine1': ('pelvis', 'spine3', 1.0 / 3.0),
                 'spine2': ('pelvis', 'spine3', 2.0 / 3.0)},
)

RIGS = {r.name: r for r in (CMU, CMU_ASF, BANDAI, DEEPMIMIC)}


def find_rig(motion, candidates=None):
    """The first rig (of `candidates` names, default all) whose joints the motion has."""
    names = set(motion.names)
    for key in candidates or RIGS:
        if RIGS[key].source_joints() <= names:
            return RIGS[key]
    raise ValueError(f'{motion.name}: no rig among {list(candidates or RIGS)} matches its '
                     f'joints ({", ".join(motion.names[:8])}, ...)')
