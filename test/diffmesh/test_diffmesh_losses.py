"""DiffMesh losses: zero at the truth, masks, the translation split and the newest-frame weight."""
from dataclasses import replace

import torch

from hmr_models.diffmesh import DiffMeshConfig
from hmr_models.diffmesh.kinematics import JointModel, synthetic_rest_joints
from hmr_models.diffmesh.losses import diffmesh_losses
from hmr_models.diffmesh.model import DiffMeshOutput
from hmr_models.geometry.rotations import axis_angle_to_matrix

B, T = 2, 6


def setup():
    g = torch.Generator().manual_seed(0)
    pose = torch.randn(B, T, 72, generator=g) * 0.3
    betas = torch.randn(B, 10, generator=g)
    trans = torch.randn(B, T, 3, generator=g) + torch.tensor([0.0, 0.0, 5.0])
    cond = torch.randn(B, T - 1, 8, generator=g)
    out = DiffMeshOutput(axis_angle_to_matrix(pose.view(B, T, 24, 3)), betas.clone(),
                         trans.clone(), cond, cond.clone())
    jm = JointModel.from_rest_joints(synthetic_rest_joints())
    return out, pose, betas, trans, jm


def losses(out, pose, betas, trans, jm, mask=None, **cfg):
    mask = torch.ones(B, T) if mask is None else mask
    return diffmesh_losses(out, pose, betas, trans, mask, jm, DiffMeshConfig(**cfg))


def test_zero_at_the_truth():
    out, pose, betas, trans, jm = setup()
    total, terms = losses(out, pose, betas, trans, jm, loss_joint_velocity=1.0)
    assert float(total) < 1e-8
    assert set(terms) == {'pose', 'betas', 'joints', 'translation', 'translation_abs',
                          'joint_velocity', 'cond'}


def test_constant_translation_offset_only_hits_the_absolute_term():
    out, pose, betas, trans, jm = setup()
    shifted = replace(out, translation=out.translation + torch.tensor([0.0, 0.0, 0.3]))
    _, terms = losses(shifted, pose, betas, trans, jm)
    assert terms['translation'] < 1e-10
    assert abs(terms['translation_abs'] - 0.09 / 3) < 1e-6  # mean over x, y, z


def test_mask_leaves_frames_out():
    out, pose, betas, trans, jm = setup()
    bad = out.rotmats.clone()
    bad[:, 0] = torch.eye(3)  # only the first frame is wrong ...
    mask = torch.ones(B, T)
    mask[:, 0] = 0            # ... and it has no ground truth
    _, terms = losses(replace(out, rotmats=bad), pose, betas, trans, jm, mask)
    assert terms['pose'] < 1e-10 and terms['joints'] < 1e-10
    _, terms = losses(replace(out, rotmats=bad), pose, betas, trans, jm)
    assert terms['pose'] > 1e-3


def test_newest_frame_weight():
    out, pose, betas, trans, jm = setup()
    bad = out.rotmats.clone()
    bad[:, -1] = torch.eye(3)
    wrong_last = replace(out, rotmats=bad)
    _, uniform = losses(wrong_last, pose, betas, trans, jm)
    _, boosted = losses(wrong_last, pose, betas, trans, jm, loss_newest_frame=3.0)
    # Weighted mean: the wrong frame's share goes from 1/6 to 4/9.
    assert abs(boosted['pose'] / uniform['pose'] - (4 / 9) / (1 / 6)) < 1e-4
