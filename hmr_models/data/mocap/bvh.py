"""BVH (Biovision hierarchy) reader: CMU and Bandai Namco files, any channel layout.

A BVH file has a HIERARCHY block (nested JOINT/End Site with OFFSET and CHANNELS) and a
MOTION block (``Frames:``, ``Frame Time:``, one line of channel values per frame). Rotation
channels are intrinsic Euler angles in degrees applied in the listed order; position channels
replace the joint's offset (Bandai files have them on every joint, CMU only on the root).
"""
from pathlib import Path

import numpy as np

from hmr_models.geometry.rotations_np import euler_to_matrix
from .source import MocapFormatError, SourceMotion

_POSITION = ('Xposition', 'Yposition', 'Zposition')
_ROTATION = ('Xrotation', 'Yrotation', 'Zrotation')


def _parse_hierarchy(tokens, path):
    """Joint list from the tokens of the HIERARCHY block.

    Returns (names, parents, offsets, channels, end_index) where channels[j] is the list of
    channel names of joint j and end_index is the token index after the block.
    """
    names, parents, offsets, channels = [], [], [], []
    stack = []
    i = 1  # tokens[0] == 'HIERARCHY'
    pending = None
    while i < len(tokens):
        tok = tokens[i]
        if tok in ('ROOT', 'JOINT'):
            pending = tokens[i + 1]
            i += 2
        elif tok == 'End':  # "End Site"
            pending = (names[stack[-1]] if stack else 'root') + '_end'
            i += 2
        elif tok == '{':
            if pending is None:
                raise MocapFormatError(f'{path}: unexpected "{{" in HIERARCHY')
            names.append(pending)
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append([])
            stack.append(len(names) - 1)
            pending = None
            i += 1
        elif tok == '}':
            if not stack:
                raise MocapFormatError(f'{path}: unbalanced "}}" in HIERARCHY')
            stack.pop()
            i += 1
            if not stack:
                return names, parents, offsets, channels, i
        elif tok == 'OFFSET':
            offsets[stack[-1]] = np.array([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif tok == 'CHANNELS':
            n = int(tokens[i + 1])
            channels[stack[-1]] = list(tokens[i + 2:i + 2 + n])
            i += 2 + n
        elif tok == 'MOTION':
            break
        else:
            raise MocapFormatError(f'{path}: unexpected token {tok!r} in HIERARCHY')
    raise MocapFormatError(f'{path}: HIERARCHY block is not closed')


def read_bvh(path, to_smpl_axes=None, units_to_m=0.01, name=None, meta=None):
    """Read a BVH file.

    Args:
        path: the .bvh file.
        to_smpl_axes: (3, 3) rotation from the file's world axes to SMPL's (identity for the
            usual Y-up files).
        units_to_m: metres per file unit (0.01 for centimetres).
        name: clip name (default: the file stem).
        meta: provenance dict stored on the result.
    Returns:
        SourceMotion (end sites included as joints named ``<parent>_end``).
    Raises:
        MocapFormatError: naming the file, for anything malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8', errors='replace')
    except OSError as e:
        raise MocapFormatError(f'cannot read BVH file {path}: {e}') from e
    head, sep, motion = text.partition('MOTION')
    tokens = head.split()
    if not sep or not tokens or tokens[0] != 'HIERARCHY':
        raise MocapFormatError(f'{path}: not a BVH file (needs HIERARCHY and MOTION blocks)')
    names, parents, offsets, channels, _ = _parse_hierarchy(tokens, path)
    if len(set(names)) != len(names):
        raise MocapFormatError(f'{path}: duplicate joint names')

    lines = motion.strip().split('\n', 2)
    try:
        num_frames = int(lines[0].split(':')[1])
        frame_time = float(lines[1].split(':')[1])
        values = np.array(lines[2].split(), np.float64) if len(lines) > 2 else np.zeros(0)
    except (IndexError, ValueError) as e:
        raise MocapFormatError(f'{path}: bad MOTION header ("Frames:" and "Frame Time:" '
                               f'lines expected): {e}') from e
    num_channels = sum(len(c) for c in channels)
    if num_frames < 1 or frame_time <= 0:
        raise MocapFormatError(f'{path}: {num_frames} frames with frame time {frame_time}')
    if values.size < num_frames * num_channels:
        raise MocapFormatError(f'{path}: MOTION holds {values.size} values, expected '
                               f'{num_frames} frames x {num_channels} channels')
    # Some exporters leave trailing partial frames: keep the declared count.
    data = values[:num_frames * num_channels].reshape(num_frames, num_channels)

    num_joints = len(names)
    offsets = np.stack(offsets)
    rotations = np.tile(np.eye(3), (num_frames, num_joints, 1, 1))
    translations = np.tile(offsets, (num_frames, 1, 1))
    col = 0
    for j, chans in enumerate(channels):
        cols = np.arange(col, col + len(chans))
        col += len(chans)
        rot_axes = ''.join(c[0] for c in chans if c in _ROTATION)
        rot_cols = [cols[k] for k, c in enumerate(chans) if c in _ROTATION]
        unknown = [c for c in chans if c not in _ROTATION + _POSITION]
        if unknown:
            raise MocapFormatError(f'{path}: joint {names[j]!r} has unknown channels {unknown}')
        if rot_axes:
            rotations[:, j] = euler_to_matrix(data[:, rot_cols], rot_axes, degrees=True)
        for k, c in enumerate(chans):
            if c in _POSITION:
                translations[:, j, _POSITION.index(c)] = data[:, cols[k]]

    meta = dict(meta or {}, file=str(path), format='bvh')
    return SourceMotion(
        names=tuple(names), parents=np.array(parents), offsets=offsets,
        rotations=rotations, translations=translations,
        times=np.arange(num_frames) * frame_time,
        to_smpl_axes=np.eye(3) if to_smpl_axes is None else np.asarray(to_smpl_axes),
        units_to_m=units_to_m, name=name or path.stem, meta=meta)


def write_bvh(path, motion, order='ZYX'):
    """Write a SourceMotion as BVH (root position + rotations in `order`, degrees).

    Used by the tests to make small files in the real layout, and handy to export retargeted
    motion for inspection in a BVH viewer. End sites (``*_end`` leaf joints without channels
    in the original) are written as ``End Site``.
    """
    from scipy.spatial.transform import Rotation
    names, parents = motion.names, motion.parents
    children = {j: [c for c in range(len(names)) if parents[c] == j] for j in range(len(names))}
    is_end = [n.endswith('_end') and not children[j] for j, n in enumerate(names)]
    out = ['HIERARCHY']
    order_cols = []

    def emit(j, depth):
        pad = '  ' * depth
        off = ' '.join(f'{v:.6f}' for v in motion.offsets[j])
        if is_end[j]:
            out.extend([pad + 'End Site', pad + '{', f'{pad}  OFFSET {off}', pad + '}'])
            return
        out.append(f"{pad}{'ROOT' if parents[j] < 0 else 'JOINT'} {names[j]}")
        out.append(pad + '{')
        out.append(f'{pad}  OFFSET {off}')
        rot = ' '.join(f'{a}rotation' for a in order)
        if parents[j] < 0:
            out.append(f'{pad}  CHANNELS 6 Xposition Yposition Zposition {rot}')
        else:
            out.append(f'{pad}  CHANNELS 3 {rot}')
        order_cols.append(j)
        for c in children[j]:
            emit(c, depth + 1)
        out.append(pad + '}')

    for root in np.flatnonzero(parents < 0):
        emit(int(root), 0)
    t = motion.num_frames
    dt = float(np.median(np.diff(motion.times))) if t > 1 else 1.0 / 30.0
    out += ['MOTION', f'Frames: {t}', f'Frame Time: {dt:.7f}']
    cols = []
    for j in order_cols:
        if parents[j] < 0:
            cols.append(motion.translations[:, j])
        eul = Rotation.from_matrix(motion.rotations[:, j]).as_euler(order.upper(), degrees=True)
        cols.append(eul)
    data = np.concatenate(cols, axis=1)
    out += [' '.join(f'{v:.6f}' for v in row) for row in data]
    Path(path).write_text('\n'.join(out) + '\n')
