"""A small, valid SMPL-format body for tests (no licensed SMPL file needed).

The body is a stick figure of closed-ring tubes, one tube per bone of SMPL's tree, laid out in
an SMPL-like T-pose (metres, y up, z forward, x to the body's left). It has everything a real
SMPL file has (skinning weights that sum to 1, a joint regressor whose rest joints are exactly
the layout below, shape and pose blend shapes, extra vertex ids, faces), so every code path
that loads, poses, regresses, renders or publishes a body runs on it.
"""
from pathlib import Path

import numpy as np

from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS

from .model_file import EXTRA_VERTEX_NAMES, NUM_POSE_FEATURES, write_body_file

# Approximate rest joints of an adult in SMPL's T-pose (metres).
TEST_REST_JOINTS = np.array([
    [0.00, 0.00, 0.00],    # pelvis
    [0.07, -0.09, 0.00],   # left_hip
    [-0.07, -0.09, 0.00],  # right_hip
    [0.00, 0.11, -0.02],   # spine1
    [0.10, -0.47, 0.00],   # left_knee
    [-0.10, -0.47, 0.00],  # right_knee
    [0.00, 0.25, 0.00],    # spine2
    [0.09, -0.87, -0.04],  # left_ankle
    [-0.09, -0.87, -0.04],  # right_ankle
    [0.00, 0.31, 0.01],    # spine3
    [0.11, -0.93, 0.09],   # left_foot
    [-0.11, -0.93, 0.09],  # right_foot
    [0.00, 0.52, -0.01],   # neck
    [0.08, 0.43, 0.00],    # left_collar
    [-0.08, 0.43, 0.00],   # right_collar
    [0.00, 0.60, 0.04],    # head
    [0.18, 0.45, -0.01],   # left_shoulder
    [-0.18, 0.45, -0.01],  # right_shoulder
    [0.44, 0.43, -0.03],   # left_elbow
    [-0.44, 0.43, -0.03],  # right_elbow
    [0.69, 0.44, -0.02],   # left_wrist
    [-0.69, 0.44, -0.02],  # right_wrist
    [0.78, 0.43, -0.01],   # left_hand
    [-0.78, 0.43, -0.01],  # right_hand
], dtype=np.float64)


def _bone_frame(direction):
    """Two unit vectors orthogonal to `direction` (and to each other)."""
    d = direction / np.linalg.norm(direction)
    helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(d, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(d, u)


def make_test_body_arrays(rings=4, segments=8, num_betas=10, pose_correctives=True, seed=0,
                          radius=0.04, name='test_body'):
    """The arrays of the test body (dict in :mod:`hmr_models.body.model_file` format).

    Args:
        rings: rings of vertices along each bone (>= 2).
        segments: vertices per ring (>= 3).
        num_betas: shape directions.
        pose_correctives: random small pose blend shapes (else zeros, like the open body).
        seed: random seed of the shape/pose directions.
        radius: tube radius in metres.
    Vertices: 23 * rings * segments; faces: 23 * (rings - 1) * segments * 2.
    """
    if rings < 2 or segments < 3:
        raise ValueError('rings must be >= 2 and segments >= 3')
    rng = np.random.default_rng(seed)
    joints = TEST_REST_JOINTS
    angles = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t = np.linspace(0.0, 1.0, rings)
    verts, weights, faces = [], [], []
    end_ring = {}                      # joint -> vertex ids of the ring centred on it
    start_rings = []                   # vertex ids of rings centred on the root
    for j in range(1, 24):
        p = SMPL24_PARENTS[j]
        base = len(verts) * rings * segments
        u, w = _bone_frame(joints[j] - joints[p])
        centres = joints[p] + t[:, None] * (joints[j] - joints[p])          # (R, 3)
        offsets = radius * (np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * w)
        verts.append((centres[:, None, :] + offsets[None]).reshape(-1, 3))
        # The tube follows its parent joint (as SMPL's upper arm follows the shoulder) and
        # blends into the child joint over its last 30 %, half-half at the child.
        s = 0.5 * np.clip((t - 0.7) / 0.3, 0.0, 1.0)
        wb = np.zeros((rings, 24))
        wb[:, p] = 1.0 - s
        wb[:, j] += s
        weights.append(np.repeat(wb, segments, axis=0))
        ring_ids = base + np.arange(rings * segments).reshape(rings, segments)
        end_ring[j] = ring_ids[-1]
        if p == 0:
            start_rings.append(ring_ids[0])
        a, b = ring_ids[:-1], np.roll(ring_ids[:-1], -1, axis=1)
        c, d = ring_ids[1:], np.roll(ring_ids[1:], -1, axis=1)
        faces.append(np.stack([np.stack([a, b, d], -1), np.stack([a, d, c], -1)], -2)
                     .reshape(-1, 3))
    v = np.concatenate(verts)
    nv = v.shape[0]
    jreg = np.zeros((24, nv))
    for j, ids in end_ring.items():
        jreg[j, ids] = 1.0 / len(ids)
    root_ids = np.concatenate(start_rings)
    jreg[0, root_ids] = 1.0 / len(root_ids)
    # Shape directions: smooth random linear maps of the rest mesh (stature, girth, ...).
    maps = rng.normal(0.0, 0.03, size=(num_betas, 3, 3))
    shapedirs = np.einsum('kij,vj->vik', maps, v)
    posedirs = (rng.normal(0.0, 1e-3, size=(nv, 3, NUM_POSE_FEATURES)) if pose_correctives
                else np.zeros((nv, 3, NUM_POSE_FEATURES)))
    kintree = np.stack([SMPL24_PARENTS, np.arange(24)]).astype(np.int64)
    kintree[0, 0] = -1
    head_ring = end_ring[SMPL24_NAMES.index('head')]
    extra = {}
    for i, n in enumerate(('nose', 'reye', 'leye', 'rear', 'lear')):
        extra[n] = head_ring[i % len(head_ring)]
    for side, hand, foot in (('l', 'left_hand', 'left_foot'), ('r', 'right_hand', 'right_foot')):
        hand_ring = end_ring[SMPL24_NAMES.index(hand)]
        for i, tip in enumerate(('thumb', 'index', 'middle', 'ring', 'pinky')):
            extra[side + tip] = hand_ring[i % len(hand_ring)]
        foot_ring = end_ring[SMPL24_NAMES.index(foot)]
        up = side.upper()
        extra[up + 'BigToe'], extra[up + 'SmallToe'], extra[up + 'Heel'] = foot_ring[:3]
    return {
        'v_template': v, 'shapedirs': shapedirs, 'posedirs': posedirs, 'J_regressor': jreg,
        'weights': np.concatenate(weights), 'kintree_table': kintree,
        'f': np.concatenate(faces), 'name': name, 'gender': 'neutral',
        'extra_vertex_names': np.array(EXTRA_VERTEX_NAMES),
        'extra_vertex_ids': np.array([extra[n] for n in EXTRA_VERTEX_NAMES]),
    }


def make_test_body_file(path, rings=4, segments=8, num_betas=10, pose_correctives=True, seed=0,
                        name='test_body'):
    """Write the test body (see :func:`make_test_body_arrays`) to `path` (.npz) and return it.

    Load it with ``load_body_model(path)``; at zero pose its joints equal TEST_REST_JOINTS.
    """
    data = make_test_body_arrays(rings=rings, segments=segments, num_betas=num_betas,
                                 pose_correctives=pose_correctives, seed=seed, name=name)
    return write_body_file(Path(path), data)
