"""Retargeting: known SMPL rotations come back through a rig with foreign local axes."""
import numpy as np
import pytest

from hmr_models.data.mocap.motion import smpl_forward_kinematics
from hmr_models.data.mocap.retarget import (bone_direction_errors, calibrate,
                                            default_rest_joints, retarget)
from hmr_models.data.mocap.rigs import RIGS, Rig
from hmr_models.geometry.rotations_np import (axis_angle_to_matrix, axis_rotation,
                                              matrix_to_axis_angle, rotation_angle)
from hmr_models.data.mocap.source import SourceMotion
from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS

J = {n: i for i, n in enumerate(SMPL24_NAMES)}
LEAF_ENDS = {'head': (0, 0.2, 0), 'left_foot': (0, 0, 0.1), 'right_foot': (0, 0, 0.1),
             'left_hand': (0.1, 0, 0), 'right_hand': (-0.1, 0, 0)}
HINGES = {'left_knee': (1, 0, 0), 'right_knee': (1, 0, 0), 'left_elbow': (0, -1, 0),
          'right_elbow': (0, 1, 0)}


def random_smpl_poses(rng, frames):
    """Local rotations (T, 24, 3, 3): hinges bend about their axis, other joints anywhere."""
    aa = rng.normal(0.0, 0.3, (frames, 24, 3))
    aa[:, 0] = rng.normal(0.0, 1.0, (frames, 3))
    rot = axis_angle_to_matrix(aa)
    for name, axis in HINGES.items():
        rot[:, J[name]] = axis_rotation(axis, rng.uniform(0.2, 1.8, frames))
    return rot


def source_from_smpl(local_rot, trans, rest, axes, scale=100.0):
    """A source clip whose skeleton is SMPL's but with its own local axes per joint.

    Source global rotation of joint j = SMPL global rotation @ axes[j]: every joint frame
    is turned by a constant, as real rigs (Bandai, DeepMimic) are. Units: cm (scale 100).
    """
    frames = len(local_rot)
    g = np.empty_like(local_rot)
    for j, p in enumerate(SMPL24_PARENTS):
        g[:, j] = local_rot[:, j] if p < 0 else g[:, p] @ local_rot[:, j]
    g_src = g @ axes
    names = list(SMPL24_NAMES) + [n + '_end' for n in LEAF_ENDS]
    parents = list(SMPL24_PARENTS) + [J[n] for n in LEAF_ENDS]
    offsets = np.zeros((len(names), 3))
    for j in range(1, 24):
        p = SMPL24_PARENTS[j]
        offsets[j] = axes[p].T @ (rest[j] - rest[p]) * scale
    for k, (n, v) in enumerate(LEAF_ENDS.items()):
        offsets[24 + k] = axes[J[n]].T @ np.array(v) * scale
    local_src = np.tile(np.eye(3), (frames, len(names), 1, 1))
    local_src[:, 0] = g_src[:, 0]
    for j in range(1, 24):
        p = SMPL24_PARENTS[j]
        local_src[:, j] = np.swapaxes(g_src[:, p], -1, -2) @ g_src[:, j]
    translations = np.tile(offsets, (frames, 1, 1))
    translations[:, 0] = (rest[0] + trans) * scale
    return SourceMotion(names=tuple(names), parents=np.array(parents), offsets=offsets,
                        rotations=local_src, translations=translations,
                        times=np.arange(frames) / 30.0, name='synthetic')


SMPL_RIG = Rig(name='smpl_like', drivers={n: n for n in SMPL24_NAMES},
               points={n: n for n in SMPL24_NAMES},
               ends={n: n + '_end' for n in LEAF_ENDS})


def straight_limbs(rest):
    """SMPL-like rest joints with straight legs (down) and arms (sideways)."""
    rest = rest.copy()
    for s in ('left', 'right'):
        for n in ('knee', 'ankle'):
            rest[J[f'{s}_{n}'], [0, 2]] = rest[J[f'{s}_hip'], [0, 2]]
        for n in ('elbow', 'wrist', 'hand'):
            rest[J[f'{s}_{n}'], 1:] = rest[J[f'{s}_shoulder'], 1:]
    return rest


@pytest.fixture(scope='module')
def synthetic():
    rng = np.random.default_rng(0)
    rest = straight_limbs(default_rest_joints())
    frames = 400
    local = random_smpl_poses(rng, frames)
    trans = np.cumsum(rng.normal(0, 0.01, (frames, 3)), 0) + [0.0, 0.9, 0.0]
    axes = axis_angle_to_matrix(rng.normal(0.0, 1.5, (24, 3)))  # foreign local axes
    src = source_from_smpl(local, trans, rest, axes)
    return rest, local, trans, axes, src


def test_known_rotations_come_back(synthetic):
    rest, local, trans, axes, src = synthetic
    out = retarget(src, SMPL_RIG, rest_joints=rest)
    got = axis_angle_to_matrix(out.pose.reshape(-1, 24, 3).astype(np.float64))
    err = rotation_angle(np.swapaxes(got, -1, -2) @ local)   # (T, 24) radians, local
    _, g_got = smpl_forward_kinematics(out.pose, out.trans, rest)
    _, g_true = smpl_forward_kinematics(matrix_to_axis_angle(local).reshape(-1, 72), trans,
                                        rest)
    g_err = rotation_angle(np.swapaxes(g_got, -1, -2) @ g_true)
    # Joints whose bone and twist reference are rigid in their own frame come back exactly
    # (global rotations: a shoulder's local rotation also carries its collar's error).
    exact = [J[n] for n in ('pelvis', 'left_hip', 'right_hip', 'left_knee', 'right_knee',
                            'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow')]
    assert g_err[:, exact].max() < 2e-3
    # The others get their twist from a mean over frames: small, unbiased errors.
    assert err.mean() < 0.02
    assert err.max() < 0.5
    # The trajectory comes back in metres (source in cm, same leg length).
    assert out.meta['scale'] == pytest.approx(0.01, rel=1e-6)
    np.testing.assert_allclose(out.trans, trans, atol=2e-3)


def test_bone_directions_follow_the_source(synthetic):
    rest, _, _, _, src = synthetic
    out = retarget(src, SMPL_RIG, rest_joints=rest)
    joints, _ = smpl_forward_kinematics(out.pose, out.trans, rest)
    errs = bone_direction_errors(joints, src, SMPL_RIG, rest)
    assert len(errs) == 23
    # A bone follows its source exactly when its parent has one child; where a parent has
    # several (pelvis, spine3), the others depend on the fitted twist: close, not exact.
    single = [v for k, v in errs.items() if not k.startswith(('pelvis->', 'spine3->'))]
    assert max(float(v.max()) for v in single) < 1e-3
    assert max(float(v.mean()) for v in errs.values()) < 0.05


def test_calibration_recovers_the_rigs_axes(synthetic):
    rest, _, _, axes, src = synthetic
    calib = calibrate([src], SMPL_RIG, rest)
    # R_smpl = G_src @ B and G_src = R_smpl @ axes, so B = axes^-1.
    for name in ('pelvis', 'left_knee', 'right_elbow', 'left_hip'):
        assert rotation_angle(calib[name] @ axes[J[name]]) < 2e-3


def test_rig_with_missing_joint_fails_clearly(synthetic):
    _, _, _, _, src = synthetic
    with pytest.raises(ValueError, match='needs joints'):
        retarget(src, RIGS['bandai'])


def test_real_deepmimic_walk(shared_mocap):
    from hmr_models.data.mocap.deepmimic import read_deepmimic
    from hmr_models.data.mocap.motion import resample
    folder = shared_mocap / 'deepmimic'
    src = read_deepmimic(folder / 'humanoid3d_walk.txt', folder / 'humanoid.urdf')
    out = retarget(src, RIGS['deepmimic'])
    joints, _ = smpl_forward_kinematics(out.pose, out.trans, default_rest_joints())
    errs = bone_direction_errors(joints, src, RIGS['deepmimic'])
    limb = [v for k, v in errs.items() if not k.startswith('pelvis->')]
    assert max(float(v.max()) for v in limb) < 1e-3
    walk = resample(out, 30.0)
    speed = np.linalg.norm(walk.trans[-1, [0, 2]] - walk.trans[0, [0, 2]]) / walk.duration
    assert 0.8 < speed < 1.8                      # a walk, in metres per second
    pelvis_height = joints[:, 0, 1]
    assert 0.75 < pelvis_height.mean() < 1.05     # standing, feet near the floor
    assert joints[:, [10, 11], 1].min() > -0.05
