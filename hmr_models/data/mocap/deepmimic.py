"""DeepMimic reference motions (JSON ``Frames``) on the ``humanoid.urdf`` skeleton.

A frame is ``[dt, root_pos(3), root_quat(4), chest q, neck q, r_hip q, r_knee, r_ankle q,
r_shoulder q, r_elbow, l_hip q, l_knee, l_ankle q, l_shoulder q, l_elbow]`` with quaternions
(w, x, y, z) and the knees/elbows as angles (radians) about their revolute axis. The URDF
gives joint origins 4x larger than the metres used by the motion (pybullet loads the humanoid
with ``globalScaling=0.25``). World: y up, the character faces +x and its right side is +z.
"""
import json
from pathlib import Path
import xml.etree.ElementTree as ET

import numpy as np

from hmr_models.geometry.rotations_np import axis_rotation, quaternion_to_matrix, slerp_matrices
from .source import MocapFormatError, SourceMotion

# Joint layout of a frame after dt: (joint name, number of values).
FRAME_LAYOUT = (
    ('root', 7), ('chest', 4), ('neck', 4), ('right_hip', 4), ('right_knee', 1),
    ('right_ankle', 4), ('right_shoulder', 4), ('right_elbow', 1), ('left_hip', 4),
    ('left_knee', 1), ('left_ankle', 4), ('left_shoulder', 4), ('left_elbow', 1),
)
FRAME_SIZE = 1 + sum(n for _, n in FRAME_LAYOUT)  # 44
URDF_SCALE = 0.25  # pybullet's globalScaling for the DeepMimic humanoid

# DeepMimic faces +x with its right side at +z; SMPL has left = +x, up = +y, forward = +z.
DEEPMIMIC_TO_SMPL = np.array([[0.0, 0.0, -1.0],
                              [0.0, 1.0, 0.0],
                              [1.0, 0.0, 0.0]])

# Points that the URDF only gives as collision geometry (link frame, URDF units), added as end
# sites so the head, feet and hands have a direction: head centre above the neck, the foot box
# front, the hand (the wrist is fixed to the forearm).
_END_SITES = {
    'neck': (0.0, 0.7, 0.0),
    'right_ankle': (0.53, -0.09, 0.0),
    'left_ankle': (0.53, -0.09, 0.0),
}


def read_urdf_skeleton(path):
    """Joint tree of the DeepMimic humanoid.

    Returns:
        dict with names (tuple), parents (J,), offsets (J, 3) in URDF units, axes {name: (3,)}
        for revolute joints, types {name: str}; end sites from the collision shapes appended.
    """
    path = Path(path)
    try:
        raw = path.read_bytes().rstrip(b'\x00 \r\n\t')  # the shipped file ends in a NUL byte
        root = ET.fromstring(raw)
    except (OSError, ET.ParseError) as e:
        raise MocapFormatError(f'cannot read URDF {path}: {e}') from e
    joints = {}
    for j in root.findall('joint'):
        try:
            origin = j.find('origin')
            xyz = np.array([float(v) for v in origin.get('xyz').split()])
            rpy = [float(v) for v in origin.get('rpy', '0 0 0').split()]
            axis = j.find('axis')
            joints[j.get('name')] = dict(
                parent=j.find('parent').get('link'), child=j.find('child').get('link'),
                type=j.get('type'), xyz=xyz,
                axis=None if axis is None else np.array([float(v)
                                                         for v in axis.get('xyz').split()]))
        except (AttributeError, ValueError) as e:
            raise MocapFormatError(f'{path}: malformed joint {j.get("name")!r}: {e}') from e
        if any(abs(v) > 1e-9 for v in rpy):
            raise MocapFormatError(f'{path}: joint {j.get("name")!r} has a rotated origin, '
                                   'which this reader does not support')
    link_joint = {v['child']: k for k, v in joints.items()}
    names, parents, offsets = [], [], []
    # The 'root' joint is fixed to 'base' at the origin: it is the tree's root.
    order = ['root']
    while order:
        name = order.pop(0)
        info = joints[name]
        names.append(name)
        parent_joint = link_joint.get(info['parent'])
        parents.append(names.index(parent_joint) if parent_joint in names else -1)
        offsets.append(info['xyz'] if parent_joint in names else np.zeros(3))
        order += [k for k, v in joints.items() if v['parent'] == info['child']]
    for parent, xyz in _END_SITES.items():
        if parent in names:
            names.append(parent + '_end')
            parents.append(names.index(parent))
            offsets.append(np.array(xyz))
    missing = [n for n, _ in FRAME_LAYOUT if n not in names]
    if missing:
        raise MocapFormatError(f'{path}: URDF lacks joints {missing} used by DeepMimic motions')
    return dict(names=tuple(names), parents=np.array(parents), offsets=np.stack(offsets),
                axes={k: v['axis'] for k, v in joints.items() if v['type'] == 'revolute'},
                types={k: v['type'] for k, v in joints.items()})


def read_deepmimic(path, urdf_path, name=None, meta=None, cycles=1):
    """Read a DeepMimic motion file.

    Args:
        path: the JSON motion (``.txt``).
        urdf_path: ``humanoid.urdf`` (the skeleton the motion drives).
        cycles: repeat a looping clip (``"Loop": "wrap"``) this many times, carrying the root
            displacement and heading change of each cycle over to the next.
    Returns:
        SourceMotion in metres (URDF offsets scaled by 0.25), world axes of DeepMimic.
    """
    path = Path(path)
    skel = read_urdf_skeleton(urdf_path)
    try:
        doc = json.loads(path.read_text())
        frames = np.asarray(doc['Frames'], np.float64)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise MocapFormatError(f'cannot read DeepMimic motion {path}: {e}') from e
    if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE or len(frames) < 2:
        raise MocapFormatError(f'{path}: frames must be rows of {FRAME_SIZE} numbers, '
                               f'got shape {frames.shape}')
    num = len(frames)
    names = skel['names']
    rotations = np.tile(np.eye(3), (num, len(names), 1, 1))
    translations = np.tile(skel['offsets'] * URDF_SCALE, (num, 1, 1))
    col = 1
    for joint, size in FRAME_LAYOUT:
        j = names.index(joint)
        vals = frames[:, col:col + size]
        col += size
        if joint == 'root':
            translations[:, j] = vals[:, :3]
            rotations[:, j] = quaternion_to_matrix(vals[:, 3:])
        elif size == 4:
            rotations[:, j] = quaternion_to_matrix(vals)
        else:
            rotations[:, j] = axis_rotation(skel['axes'][joint], vals[:, 0])
    # dt of a frame is the time to the next one; the last row's dt is unused.
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    if cycles > 1 and doc.get('Loop') == 'wrap':
        rotations, translations, times = _repeat_cycles(rotations, translations, times, cycles)
    meta = dict(meta or {}, file=str(path), format='deepmimic', loop=doc.get('Loop'))
    return SourceMotion(
        names=names, parents=skel['parents'], offsets=skel['offsets'] * URDF_SCALE,
        rotations=rotations, translations=translations, times=times,
        to_smpl_axes=DEEPMIMIC_TO_SMPL, units_to_m=1.0, name=name or path.stem, meta=meta)


def _repeat_cycles(rotations, translations, times, cycles, blend_s=0.3):
    """Tile a looping clip (``"Loop": "wrap"``) into `cycles` cycles.

    Cycle k is cycle 0 turned by k times the clip's heading change about the vertical and
    shifted to start where cycle k-1 ended. DeepMimic's loops do not close exactly (joints
    differ by up to ~50 degrees between the last and first frame), so the seam offset of every
    joint is faded out over `blend_s` seconds instead of jumping.
    """
    up = np.array([0.0, 1.0, 0.0])
    rel = rotations[-1, 0] @ rotations[0, 0].T
    fwd = rel @ np.array([1.0, 0.0, 0.0])
    turn = axis_rotation(up, np.arctan2(-fwd[2], fwd[0]))
    start = translations[0, 0] * [1.0, 0.0, 1.0]
    dt = np.diff(times)
    fade = np.clip(1.0 - np.cumsum(dt) / blend_s, 0.0, 1.0)[:, None]  # frames 1..T-1
    rots, trans, ts = [rotations], [translations], [times]
    yaw = np.eye(3)
    for _ in range(cycles - 1):
        yaw = turn @ yaw
        last_r, last_t = rots[-1][-1], trans[-1][-1]
        nr = rotations.copy()
        nt = translations.copy()
        nr[:, 0] = yaw @ nr[:, 0]
        nt[:, 0] = (nt[:, 0] - start) @ yaw.T + last_t[0] * [1.0, 0.0, 1.0]
        # Seam offset per joint (right-multiplied, so frame 0 would equal the last frame).
        offset = np.swapaxes(nr[0], -1, -2) @ last_r
        nr = nr[1:] @ slerp_matrices(np.eye(3), offset[None], fade)
        rots.append(nr)
        trans.append(nt[1:])
        ts.append(ts[-1][-1] + times[1:])
    return np.concatenate(rots), np.concatenate(trans), np.concatenate(ts)
