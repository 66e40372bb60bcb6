"""Reading, checking and writing SMPL-format body files (``.npz``) without pickle.

One format serves the licensed SMPL model (converted by :mod:`hmr_models.body.convert_smpl`)
and the bundled open body (built by ``scripts/build_open_body.py``): the arrays of the
official SMPL files, under SMPL's key names, plus a few optional keys of our own.

SMPL keys (V vertices, F faces, J=24 joints, NB shape directions, P=207 pose features):

=================  ==============  =====================================================
key                shape           meaning
=================  ==============  =====================================================
``v_template``     (V, 3)          rest mesh (T-pose), metres, y up, z forward
``shapedirs``      (V, 3, NB)      shape blend shapes (metres per unit beta)
``posedirs``       (V, 3, 207)     pose corrective blend shapes
``J_regressor``    (24, V)         rest joints = J_regressor @ shaped vertices (dense)
``weights``        (V, 24)         linear-blend-skinning weights (rows sum to 1)
``kintree_table``  (2, 24)         row 0: parent of each joint (root's entry ignored)
``f``              (F, 3)          triangles (vertex indices)
=================  ==============  =====================================================

Optional keys of ours:

- ``name`` (str): e.g. ``'hmr_open_body'``, ``'smpl_neutral'``.
- ``gender`` (str): ``'neutral'``, ``'male'`` or ``'female'``.
- ``extra_vertex_names`` (K,) str / ``extra_vertex_ids`` (K,) int: smplx's ``vertex_ids``
  (nose, eyes, ears, toes, heels, finger tips) for meshes that are not SMPL's topology.
- ``J_regressor_coco17`` / ``J_regressor_h36m17`` (17, V), ``J_regressor_dpmesh30`` (30, V):
  keypoint regressors; when absent they are derived (see :mod:`hmr_models.body.regressors`).
"""
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SMPL_KEYS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table',
             'f')
NUM_JOINTS = 24
NUM_POSE_FEATURES = (NUM_JOINTS - 1) * 9
SMPL_NUM_VERTICES = 6890

# The names smplx's VertexJointSelector asks for, in its own spelling.
EXTRA_VERTEX_NAMES = (
    'nose', 'reye', 'leye', 'rear', 'lear',
    'rthumb', 'rindex', 'rmiddle', 'rring', 'rpinky',
    'lthumb', 'lindex', 'lmiddle', 'lring', 'lpinky',
    'LBigToe', 'LSmallToe', 'LHeel', 'RBigToe', 'RSmallToe', 'RHeel',
)


class BodyModelFormatError(ValueError):
    """A body model file exists but is not in a format (or state) we can load."""


def read_body_file(path):
    """Load a body ``.npz`` into a dict of numpy arrays (and str for text keys), checked.

    Raises:
        BodyModelFormatError: the file is not a readable npz or misses/mangles SMPL keys; the
            message names the file and what to do.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except Exception as exc:  # zip errors, pickled object arrays, truncated files
        raise BodyModelFormatError(
            f'cannot read body model file {path}: {exc}. Expected an SMPL-format .npz '
            '(convert official SMPL .pkl files with hmr-convert-smpl).') from exc
    for key in ('name', 'gender'):
        if key in data:
            data[key] = str(data[key])
    check_body_arrays(data, source=str(path))
    return data


def check_body_arrays(data, source='body model'):
    """Raise BodyModelFormatError if the SMPL arrays in `data` are missing or inconsistent."""
    missing = [k for k in SMPL_KEYS if k not in data]
    if missing:
        raise BodyModelFormatError(
            f'{source} lacks the SMPL arrays {missing}; it is not an SMPL-format body file '
            '(convert official SMPL .pkl files with hmr-convert-smpl).')
    v = data['v_template']
    if v.ndim != 2 or v.shape[1] != 3:
        raise BodyModelFormatError(f'{source}: v_template must be (V, 3), got {v.shape}')
    nv = v.shape[0]
    expected = {
        'shapedirs': (nv, 3, None),
        'posedirs': (nv, 3, NUM_POSE_FEATURES),
        'J_regressor': (NUM_JOINTS, nv),
        'weights': (nv, NUM_JOINTS),
        'kintree_table': (2, NUM_JOINTS),
        'f': (None, 3),
    }
    for key, shape in expected.items():
        got = data[key].shape
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            raise BodyModelFormatError(
                f'{source}: {key} has shape {got}, expected {shape} (None = any) for a '
                f'{nv}-vertex, {NUM_JOINTS}-joint SMPL-format body')
    faces = data['f']
    if faces.size and (faces.min() < 0 or faces.max() >= nv):
        raise BodyModelFormatError(f'{source}: faces index vertices outside [0, {nv})')
    parents = np.asarray(data['kintree_table'][0], np.int64)
    if np.any(parents[1:] >= np.arange(1, NUM_JOINTS)) or np.any(parents[1:] < 0):
        # smplx's LBS walks joints in order, so every parent must come before its child.
        raise BodyModelFormatError(f'{source}: kintree_table is not a tree in SMPL order')
    for key, rows in (('J_regressor_coco17', 17), ('J_regressor_h36m17', 17),
                      ('J_regressor_dpmesh30', 30)):
        if key in data and data[key].shape != (rows, nv):
            raise BodyModelFormatError(
                f'{source}: {key} has shape {data[key].shape}, expected ({rows}, {nv})')
    if 'extra_vertex_ids' in data:
        ids = data['extra_vertex_ids']
        if ids.shape != data.get('extra_vertex_names', np.zeros(0)).shape:
            raise BodyModelFormatError(
                f'{source}: extra_vertex_ids and extra_vertex_names differ in length')
        if ids.size and (ids.min() < 0 or ids.max() >= nv):
            raise BodyModelFormatError(f'{source}: extra_vertex_ids outside [0, {nv})')


def extra_vertex_ids(data):
    """smplx ``vertex_ids`` dict for this body, or None to use smplx's SMPL defaults.

    Bodies that are not SMPL's 6890-vertex topology must carry their own ids (smplx's defaults
    index up to vertex 6787); a file without them gets every extra point on vertex 0, which is
    harmless because BodyModel only returns the 24 skeleton joints.
    """
    if 'extra_vertex_ids' in data:
        ids = dict(zip((str(n) for n in data['extra_vertex_names']),
                       (int(i) for i in data['extra_vertex_ids'])))
        missing = [n for n in EXTRA_VERTEX_NAMES if n not in ids]
        if missing:
            raise BodyModelFormatError(f'extra_vertex_names lacks {missing}')
        return ids
    if data['v_template'].shape[0] == SMPL_NUM_VERTICES:
        return None
    log.debug('body file has no extra_vertex_ids and is not SMPL topology: using vertex 0')
    return {n: 0 for n in EXTRA_VERTEX_NAMES}


def write_body_file(path, data, compress=False):
    """Write a checked body dict as ``.npz`` (float32 arrays, int64 indices, no pickle).

    Args:
        path: output file; the ``.npz`` suffix is added by numpy if missing.
        data: dict with the SMPL keys and optional keys (see module docstring).
        compress: zip-deflate the arrays (smaller file, slower load); used for shipped assets.
    Returns:
        The Path written.
    """
    check_body_arrays(data, source=f'arrays for {path}')
    out = {}
    for key, value in data.items():
        if isinstance(value, str):
            out[key] = np.array(value)
        elif key in ('f', 'kintree_table', 'extra_vertex_ids'):
            out[key] = np.asarray(value, np.int64)
        elif key == 'extra_vertex_names':
            out[key] = np.asarray(value, dtype=str)
        else:
            out[key] = np.asarray(value, np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compress else np.savez)(path, **out)
    return path if path.suffix == '.npz' else path.with_name(path.name + '.npz')
