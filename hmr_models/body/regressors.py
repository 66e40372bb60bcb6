"""Keypoint regressors over body vertices: COCO-17 and Human3.6M-17 for any SMPL-format body.

A regressor is a (17, V) matrix R; keypoints of posed vertices (B, V, 3) are ``R @ vertices``
(each row sums to 1, so translation passes through). Files may ship their own (the open body
stores regressors built from anny's landmarks); otherwise they are derived here from the body
itself, so the same rules serve real SMPL and any other SMPL-format mesh:

- body keypoints (shoulders, elbows, wrists, hips, knees, ankles) are SMPL's own joint rows of
  ``J_regressor`` (applied to posed vertices they follow the skin, as SPIN-style regressors do);
- face keypoints (nose, eyes, ears) are single vertices: the body's ``extra_vertex_ids`` or, for
  SMPL's 6890-vertex topology, smplx's published SMPL vertex ids (``smplx.vertex_ids``);
- Human3.6M's extra points are combinations documented in :func:`h36m17_regressor`, and its
  head top is the crown found from the skinning weights (:func:`head_top_vertices`).

COCO hips sit a little higher and wider than SMPL's hip joints and H36M's thorax is an
approximation; these are the usual conventions of SMPL-based HMR code and are close enough for
keypoint losses and evaluation on one consistent body (the same regressor on prediction and
ground truth).
"""
import logging

import numpy as np

from hmr_models.skeleton import COCO17_NAMES, H36M17_NAMES, SMPL24_NAMES

from .keypoint_sets import DPMESH30_NAMES
from .model_file import SMPL_NUM_VERTICES

log = logging.getLogger(__name__)

KEYPOINT_SETS = {'coco17': COCO17_NAMES, 'h36m17': H36M17_NAMES,
                 'dpmesh30': DPMESH30_NAMES}

_J = {name: i for i, name in enumerate(SMPL24_NAMES)}
# COCO-17 limb keypoints taken from SMPL joints of the same name.
_COCO_FROM_SMPL = {name: _J[name] for name in COCO17_NAMES[5:]}
# COCO face keypoint -> smplx vertex-id name.
_COCO_FACE = {'nose': 'nose', 'left_eye': 'leye', 'right_eye': 'reye',
              'left_ear': 'lear', 'right_ear': 'rear'}


def face_vertex_ids(data):
    """Vertex index of nose, eyes and ears for this body (dict in smplx spelling)."""
    if 'extra_vertex_ids' in data:
        ids = dict(zip((str(n) for n in data['extra_vertex_names']),
                       (int(i) for i in data['extra_vertex_ids'])))
    elif data['v_template'].shape[0] == SMPL_NUM_VERTICES:
        from smplx.vertex_ids import vertex_ids
        ids = vertex_ids['smplh']
    else:
        log.warning('body has no face vertex ids and is not SMPL topology: locating nose, eyes '
                    'and ears geometrically on the head (approximate)')
        return _face_from_geometry(data)
    return {k: ids[v] for k, v in _COCO_FACE.items()}


def _face_from_geometry(data):
    """Nose/eye/ear vertices of a head whose rest pose faces +z with x to the body's left."""
    v = np.asarray(data['v_template'], np.float64)
    head = _head_vertices(data)
    hv = v[head]
    nose = hv[np.argmax(hv[:, 2])]
    left_ear, right_ear = head[np.argmax(hv[:, 0])], head[np.argmin(hv[:, 0])]
    width = v[left_ear, 0] - v[right_ear, 0]
    out = {'nose': int(head[np.argmax(hv[:, 2])]), 'left_ear': int(left_ear),
           'right_ear': int(right_ear)}
    # Eyes: about a fifth of the head width beside, above and behind the nose tip.
    for name, side in (('left_eye', 1.0), ('right_eye', -1.0)):
        target = nose + width * np.array([0.22 * side, 0.2, -0.15])
        out[name] = int(head[np.argmin(np.linalg.norm(hv - target, axis=1))])
    return out


def _head_vertices(data):
    """Vertices skinned mostly to the head joint (all vertices if none are)."""
    w_head = np.asarray(data['weights'])[:, _J['head']]
    if w_head.max() <= 0:
        return np.arange(data['v_template'].shape[0])
    return np.flatnonzero(w_head >= 0.5 * w_head.max())


def head_top_vertices(data, k=5):
    """Indices of the k crown vertices: head-skinned, farthest along the neck->head axis."""
    v = np.asarray(data['v_template'], np.float64)
    jreg = np.asarray(data['J_regressor'], np.float64)
    joints = jreg @ v
    axis = joints[_J['head']] - joints[_J['neck']]
    axis /= np.linalg.norm(axis) + 1e-12
    candidates = _head_vertices(data)
    height = (v[candidates] - joints[_J['head']]) @ axis
    return candidates[np.argsort(-height)[:k]]


def coco17_regressor(data):
    """(17, V) float32 COCO-17 regressor for a body dict (see module docstring)."""
    nv = data['v_template'].shape[0]
    jreg = np.asarray(data['J_regressor'], np.float64)
    reg = np.zeros((17, nv))
    face = face_vertex_ids(data)
    for i, name in enumerate(COCO17_NAMES):
        if name in face:
            reg[i, face[name]] = 1.0
        else:
            reg[i] = jreg[_COCO_FROM_SMPL[name]]
    return _normalised(reg)


def h36m17_regressor(data):
    """(17, V) float32 Human3.6M-17 regressor for a body dict.

    pelvis = midpoint of SMPL's hips (H36M's root is between the hip joints, SMPL's pelvis
    joint sits higher); thorax = 1/2 neck + 1/4 each collar (top of the sternum); spine =
    midpoint of pelvis and thorax; neck_nose = midpoint of the nose vertex and SMPL's head
    joint; head = crown (mean of the top head vertices); limbs = SMPL joints of the same name.
    """
    nv = data['v_template'].shape[0]
    jreg = np.asarray(data['J_regressor'], np.float64)
    rows = {name: jreg[_J[name]] for name in (
        'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
        'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist',
        'right_wrist')}
    nose = np.zeros(nv)
    nose[face_vertex_ids(data)['nose']] = 1.0
    crown = np.zeros(nv)
    crown[head_top_vertices(data)] = 1.0
    rows['pelvis'] = 0.5 * (rows['left_hip'] + rows['right_hip'])
    rows['thorax'] = 0.5 * jreg[_J['neck']] + 0.25 * (jreg[_J['left_collar']]
                                                      + jreg[_J['right_collar']])
    rows['spine'] = 0.5 * (rows['pelvis'] + rows['thorax'])
    rows['neck_nose'] = 0.5 * nose + 0.5 * jreg[_J['head']]
    rows['head'] = crown
    return _normalised(np.stack([rows[n] for n in H36M17_NAMES]))


def dpmesh30_regressor(data):
    """(30, V) float32 regressor of DPMesh's 30-joint set (see keypoint_sets).

    SMPL's 24 joint rows, then the face vertices (as in the COCO regressor) and the crown.
    """
    nv = data['v_template'].shape[0]
    reg = np.zeros((30, nv))
    reg[:24] = np.asarray(data['J_regressor'], np.float64)
    face = face_vertex_ids(data)
    for i, name in enumerate(('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear')):
        reg[24 + i, face[name]] = 1.0
    reg[29, head_top_vertices(data)] = 1.0
    return _normalised(reg)


def keypoint_regressors(data):
    """All keypoint regressors of a body: {'coco17', 'h36m17', 'dpmesh30'} -> (K, V) float32.

    The file's own (``J_regressor_<name>``) where it has them, else the derived ones.
    """
    out = {}
    for name, build in (('coco17', coco17_regressor), ('h36m17', h36m17_regressor),
                        ('dpmesh30', dpmesh30_regressor)):
        key = f'J_regressor_{name}'
        out[name] = np.asarray(data[key], np.float32) if key in data else build(data)
    return out


def regress(regressor, vertices):
    """Keypoints (B, K, 3) of vertices (B, V, 3) with a (K, V) regressor (numpy or torch)."""
    try:
        import torch
        if torch.is_tensor(vertices):
            reg = torch.as_tensor(regressor, dtype=vertices.dtype, device=vertices.device)
            return torch.einsum('kv,bvc->bkc', reg, vertices)
    except ImportError:  # pragma: no cover - torch is a hard dependency of the package
        pass
    return np.einsum('kv,bvc->bkc', np.asarray(regressor, np.float32),
                     np.asarray(vertices, np.float32))


def _normalised(reg):
    """Rows scaled to sum to 1 (they already do up to rounding), as float32."""
    return (reg / reg.sum(axis=1, keepdims=True)).astype(np.float32)
