"""Unit tests of DPMesh's pure parts: config, geometry, keypoint sets, noise, losses, priors."""
import math

import numpy as np
import pytest
import torch

from hmr_models.dpmesh import load_config
from hmr_models.dpmesh.config import VQVAEConfig
from hmr_models.dpmesh.model import authors_camera_to_weak_perspective
from hmr_models.geometry.projection import perspective_project, weak_perspective_to_translation
from hmr_models.geometry.rotations import (axis_angle_to_matrix, matrix_to_axis_angle,
                                           matrix_to_rot6d, rot6d_interleaved_to_matrix,
                                           rot6d_to_matrix)
from hmr_models.data.synth.keypoint_corruption import KeypointNoiseConfig, corrupt_keypoints, \
    person_extent
from hmr_models.dpmesh.parts.keypoints import DPMESH30_NAMES, flip_permutation, from_coco17
from hmr_models.dpmesh.training.losses import NKRLoss, masked_l1
from hmr_models.dpmesh.parts.pose_prior import PoseVQVAE, VPoserDecoder


# ---------------------------------------------------------------------------- config
def test_profiles_load_and_validate(tmp_path):
    for name in ('sd15', 'compact', 'tiny'):
        cfg = load_config(name)
        assert cfg.profile == name
        assert cfg.crop_size % (cfg.vae_downsample * 8) == 0
    c = load_config('compact')
    assert c.resolved_component('unet')['block_out_channels'] == [32, 64, 128, 128]
    assert c.latent_size == 16 and c.unet_training == 'full'
    path = tmp_path / 'mine.yaml'
    c.save(path)
    again = load_config(str(path))
    assert again.to_dict() == c.to_dict()


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="unknown config key.*'dpmesh.regressor'.*foo"):
        load_config('tiny', {'regressor': {'foo': 1}})
    with pytest.raises(ValueError, match="condition_mode"):
        load_config('tiny', {'condition_mode': 'multiply'})
    with pytest.raises(ValueError, match='num_keypoints=30 does not match'):
        load_config('tiny', {'num_keypoints': 30})
    with pytest.raises(ValueError, match='crop_size'):
        load_config('tiny', {'crop_size': 50})
    with pytest.raises(FileNotFoundError, match='sd15'):
        load_config('nonexistent_profile')
    yaml_file = tmp_path / 'child.yaml'
    yaml_file.write_text('base: tiny\nlora_rank: 8\n')
    assert load_config(str(yaml_file)).lora_rank == 8


# ---------------------------------------------------------------------------- geometry
def test_rotation_conversions_round_trip():
    torch.manual_seed(0)
    aa = torch.randn(500, 3) * 1.2
    aa[:4] = torch.tensor([[math.pi - 1e-4, 0, 0], [0, 0, 1e-8], [0, 0, 0], [0.3, -2.9, 0.1]])
    rot = axis_angle_to_matrix(aa)
    eye = torch.eye(3).expand_as(rot)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(axis_angle_to_matrix(matrix_to_axis_angle(rot)), rot,
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(rot6d_to_matrix(matrix_to_rot6d(rot)), rot, atol=1e-5, rtol=0)
    # the interleaved (HMR / VPoser) layout reads the same columns in another order
    inter = torch.stack([rot[..., 0], rot[..., 1]], -1).reshape(-1, 6)
    torch.testing.assert_close(rot6d_interleaved_to_matrix(inter), rot, atol=1e-5, rtol=0)


def test_cliff_translation_projects_the_root_into_the_crop():
    cam = torch.tensor([[0.8, 0.1, -0.2], [1.2, -0.3, 0.05]])
    centre = torch.tensor([[500.0, 300.0], [120.0, 400.0]])
    size = torch.tensor([250.0, 90.0])
    focal = torch.tensor([[1100.0, 1100.0], [900.0, 900.0]])
    pp = torch.tensor([[640.0, 360.0], [320.0, 240.0]])
    t = weak_perspective_to_translation(cam, centre, size, focal, pp)
    uv = perspective_project(t[:, None], focal, pp)[:, 0]
    expect = centre + size[:, None] / 2 * cam[:, :1] * cam[:, 1:]
    torch.testing.assert_close(uv, expect, atol=1e-3, rtol=0)
    # depth follows the apparent size: half the box -> twice as far
    t2 = weak_perspective_to_translation(cam, centre, size / 2, focal, pp)
    torch.testing.assert_close(t2[:, 2], 2 * t[:, 2])


def test_authors_camera_equivalent_scale():
    raw = torch.tensor([[0.1, -0.2, 0.0]])
    wp = authors_camera_to_weak_perspective(raw, camera_3d_size=2.5)
    # sigmoid(0) = 0.5: t_z = k / 2 with k = f * 2.5 / box -> s = 2 / (2.5 * 0.5)
    assert wp[0, 0].item() == pytest.approx(1.6)
    assert wp[0, 1:].tolist() == pytest.approx([0.1, -0.2])


# ---------------------------------------------------------------------------- keypoints
def test_keypoint_sets_from_coco17():
    rng = np.random.default_rng(0)
    kp = rng.random((2, 17, 2)).astype(np.float32)
    valid = np.ones((2, 17), bool)
    valid[1, 11] = False                     # a left hip missing
    same, ok = from_coco17(kp, valid, 'coco17')
    np.testing.assert_array_equal(ok, valid)
    np.testing.assert_allclose(same[0], kp[0])
    k30, ok30 = from_coco17(kp, valid, 'dpmesh30')
    assert k30.shape == (2, 30, 2)
    pelvis, neck = DPMESH30_NAMES.index('pelvis'), DPMESH30_NAMES.index('neck')
    np.testing.assert_allclose(k30[0, pelvis], (kp[0, 11] + kp[0, 12]) / 2, rtol=1e-6)
    np.testing.assert_allclose(k30[0, neck], (kp[0, 5] + kp[0, 6]) / 2, rtol=1e-6)
    assert ok30[0, pelvis] and not ok30[1, pelvis]
    assert not ok30[:, DPMESH30_NAMES.index('spine1')].any()
    t30, tok = from_coco17(torch.as_tensor(kp), torch.as_tensor(valid), 'dpmesh30')
    np.testing.assert_array_equal(tok.numpy(), ok30)
    np.testing.assert_allclose(t30.numpy()[ok30], k30[ok30], rtol=1e-6)


# ---------------------------------------------------------------------------- noise
def _people(b=64, k=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    kp = 0.3 + 0.4 * torch.rand(b, k, 2, generator=g)
    return kp, torch.ones(b, k, dtype=torch.bool)


def test_noise_is_seeded_and_rates_follow_the_config():
    kp, valid = _people(512)
    cfg = KeypointNoiseConfig(p_missing=0.2, jitter=0.0, p_outlier=0.0, p_swap=0.0,
                              p_flip=0.0, p_neighbor=0.0)
    flip = flip_permutation('coco17')
    a = corrupt_keypoints(kp, valid, flip, cfg, torch.Generator().manual_seed(1))
    b = corrupt_keypoints(kp, valid, flip, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert abs((~a[1]).float().mean().item() - 0.2) < 0.02
    torch.testing.assert_close(a[0], kp)      # no jitter configured


def test_jitter_scales_with_person_size():
    kp, valid = _people(256)
    small = 0.5 + (kp - 0.5) * 0.25
    cfg = KeypointNoiseConfig(p_missing=0.0, jitter=0.05, p_outlier=0.0, p_swap=0.0,
                              p_flip=0.0, p_neighbor=0.0)
    flip = flip_permutation('coco17')
    big_err = (corrupt_keypoints(kp, valid, flip, cfg, torch.Generator().manual_seed(2))[0]
               - kp).abs().mean()
    small_err = (corrupt_keypoints(small, valid, flip, cfg, torch.Generator().manual_seed(2))[0]
                 - small).abs().mean()
    ratio = (person_extent(kp, valid).mean() / person_extent(small, valid).mean()).item()
    assert big_err / small_err == pytest.approx(ratio, rel=0.05)


def test_swaps_and_neighbours():
    kp, valid = _people(32)
    flip = flip_permutation('coco17')
    cfg = KeypointNoiseConfig(p_missing=0.0, jitter=0.0, p_outlier=0.0, p_swap=0.0, p_flip=1.0,
                              p_neighbor=0.0)
    out, _ = corrupt_keypoints(kp, valid, flip, cfg, torch.Generator().manual_seed(3))
    torch.testing.assert_close(out, kp[:, flip])          # the whole body mirrored
    cfg = KeypointNoiseConfig(p_missing=0.0, jitter=0.0, p_outlier=0.0, p_swap=1.0, p_flip=0.0,
                              p_neighbor=0.0)
    out, _ = corrupt_keypoints(kp, valid, flip, cfg, torch.Generator().manual_seed(3))
    changed = (out != kp).any(-1).sum(1)
    assert (changed == 2).all()                            # exactly one pair per sample
    other = torch.full_like(kp, 0.9)
    cfg = KeypointNoiseConfig(p_missing=0.0, jitter=0.0, p_outlier=0.0, p_swap=0.0,
                              p_flip=0.0, p_neighbor=0.5)
    out, _ = corrupt_keypoints(kp, valid, flip, cfg, torch.Generator().manual_seed(4), other,
                               valid)
    grabbed = (out == 0.9).all(-1).float().mean().item()
    assert 0.4 < grabbed < 0.6
    with pytest.raises(ValueError, match='p_swap'):
        KeypointNoiseConfig(p_swap=2.0).validate()


# ---------------------------------------------------------------------------- losses
def test_masked_l1_and_nkr():
    x = torch.zeros(2, 3, 2)
    y = torch.ones(2, 3, 2)
    assert masked_l1(x, y, torch.zeros(2, 3)).item() == 0.0
    m = torch.tensor([[1, 0, 0], [0, 0, 0]], dtype=torch.bool)
    assert masked_l1(x, y, m).item() == 1.0
    torch.manual_seed(0)
    nkr = NKRLoss(8, 4, temperature=0.1)
    feats = torch.randn(6, 8, 2, 2)
    mse, nce_match = nkr(feats, feats)
    assert mse.item() == 0.0
    _, nce_shuffled = nkr(feats, feats[torch.randperm(6)])
    assert nce_match < nce_shuffled


def test_losses_vanish_at_the_ground_truth(test_body):
    from hmr_models.dpmesh.training.losses import dpmesh_losses, joint_volume_targets, \
        regressor_joint_index
    from hmr_models.dpmesh.model import DPMeshOutput
    cfg = load_config('tiny')
    torch.manual_seed(0)
    b = 3
    pose = 0.3 * torch.randn(b, 72)
    betas = torch.randn(b, 10)
    transl = torch.tensor([[0.1, 0.2, 4.0]]).expand(b, 3)
    posed = test_body(pose, betas, transl)
    coco = test_body.regress(posed.vertices, 'coco17')
    j2d = posed.joints[..., :2] / posed.joints[..., 2:] * 0.2 + 0.5   # any consistent 2D
    names = cfg.regressor.joint_names
    batch = {'pose': pose, 'betas': betas, 'has_smpl': torch.ones(b, dtype=torch.bool),
             'joints3d': posed.joints, 'joints3d_valid': torch.ones(b, 24, dtype=torch.bool),
             'keypoints3d': coco, 'keypoints3d_valid': torch.ones(b, 17, dtype=torch.bool),
             'joints2d': j2d, 'joints2d_valid': torch.ones(b, 24, dtype=torch.bool)}
    coords = joint_volume_targets(j2d, posed.joints, regressor_joint_index(names),
                                  cfg.regressor.depth_range_m)
    out = DPMeshOutput(pose=pose, rotmats=axis_angle_to_matrix(pose.view(b, 24, 3)),
                       betas=betas, camera=None, joint_coords=coords, features=None,
                       joints=posed.joints, keypoints3d=coco, joints2d=j2d)
    total, parts = dpmesh_losses(out, batch, cfg.loss, names, cfg.regressor.depth_range_m)
    assert total.item() < 1e-5
    out.joints = posed.joints + 0.01
    out.betas = betas + 1.0
    total2, parts2 = dpmesh_losses(out, batch, cfg.loss, names, cfg.regressor.depth_range_m)
    assert parts2['betas'].item() == pytest.approx(1.0)
    assert parts2['joints3d'].item() == pytest.approx(0.0, abs=1e-6)   # root-aligned
    assert total2.item() == pytest.approx(cfg.loss.w_smpl * cfg.loss.w_betas, rel=1e-4)


# ---------------------------------------------------------------------------- priors
def _small_vq():
    return VQVAEConfig(num_tokens=4, codebook_size=16, code_dim=8, enc_hidden=16, enc_blocks=1,
                       enc_token_hidden=8, enc_channel_hidden=16, dec_hidden=8,
                       dec_token_hidden=8, dec_channel_hidden=8)


def test_vqvae_shapes_ema_and_soft_decoding():
    torch.manual_seed(0)
    vq = PoseVQVAE(_small_vq())
    rot = axis_angle_to_matrix(0.5 * torch.randn(32, 23, 3))
    vq.eval()
    before = vq.codebook.clone()
    out = vq(rot)
    assert out['recon'].shape == (32, 23, 3, 3) and out['indices'].shape == (32, 4)
    assert torch.equal(vq.codebook, before)            # no codebook change in eval
    vq.train()
    vq(rot)
    assert bool(vq.initialised) and not torch.equal(vq.codebook, before)
    idx = out['indices'][:2]
    onehot = torch.nn.functional.one_hot(idx, 16).float()
    from hmr_models.geometry.rotations import project_to_rotation
    torch.testing.assert_close(vq.decode_probs(onehot),
                               project_to_rotation(vq.decode_indices(idx)), atol=1e-5, rtol=0)


def test_vqvae_reseeds_dead_codes():
    torch.manual_seed(0)
    cfg = _small_vq()
    cfg.dead_code_threshold = 0.5
    vq = PoseVQVAE(cfg).train()
    rot = axis_angle_to_matrix(0.1 * torch.randn(8, 23, 3))
    vq(rot)
    vq.codebook[0] = 1e3                     # a code nothing will ever pick
    vq.ema_count[0] = 0.0
    vq(rot)
    assert vq.codebook[0].abs().max() < 1e2


def test_vposer_decoder_gives_rotations():
    torch.manual_seed(0)
    dec = VPoserDecoder()
    rot = dec(torch.randn(5, 32))
    assert rot.shape == (5, 21, 3, 3)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), torch.eye(3).expand_as(rot),
                               atol=1e-5, rtol=0)
    assert torch.allclose(torch.det(rot), torch.ones(5, 21), atol=1e-5)
