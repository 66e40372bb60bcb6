"""DPMesh forward: shapes, gradients, attention maps, condition modes, body/camera outputs."""
import numpy as np
import pytest
import torch

from dpmesh_helpers import make_model, random_inputs
from hmr_models.dpmesh import CropCameras
from hmr_models.geometry.projection import perspective_project


@pytest.fixture(scope='module')
def model():
    """One tiny model in eval mode for the tests that only read from it."""
    return make_model().eval()


@pytest.mark.parametrize('batch', [1, 4])
def test_output_shapes(model, batch):
    cfg = model.config
    images, kp, valid = random_inputs(cfg, batch)
    with torch.no_grad():
        out = model(images, kp, valid)
    assert out.pose.shape == (batch, 72)
    assert out.rotmats.shape == (batch, 24, 3, 3)
    assert out.betas.shape == (batch, 10)
    assert out.camera.shape == (batch, 3)
    assert (out.camera[:, 0] > 0).all()
    assert out.joint_coords.shape == (batch, len(cfg.regressor.joint_names), 3)
    assert ((out.joint_coords >= 0) & (out.joint_coords <= 1)).all()
    f = cfg.feature_size
    assert out.features.shape == (batch, cfg.fused_channels, f, f)
    assert out.pose_logits.shape == (batch, cfg.pose_head.vqvae.num_tokens,
                                     cfg.pose_head.vqvae.codebook_size)
    eye = torch.eye(3).expand(batch, 24, 3, 3)
    assert torch.allclose(out.rotmats @ out.rotmats.transpose(-1, -2), eye, atol=1e-4)
    for t in (out.pose, out.betas, out.camera, out.features):
        assert torch.isfinite(t).all()


def test_sd15_sizes_follow_the_paper():
    from hmr_models.dpmesh import load_config
    cfg = load_config('sd15')
    assert (cfg.latent_size, cfg.feature_size, cfg.token_dim) == (32, 8, 768)
    assert cfg.fused_channels == 2048
    assert cfg.pose_head.vqvae.codebook_size == 2048
    assert cfg.pose_head.vqvae.code_dim == 256 and cfg.pose_head.vqvae.num_tokens == 48
    assert cfg.lora_rank == 64 and cfg.timestep == 1 and cfg.condition_mode == 'concat'
    assert (cfg.loss.w_2d, cfg.loss.w_3d, cfg.loss.w_smpl, cfg.loss.w_nkr) == (5, 2, 1, 0.1)


@pytest.mark.parametrize('batch', [1, 4])
def test_attention_maps_are_probabilities_over_keypoints(model, batch):
    cfg = model.config
    images, kp, valid = random_inputs(cfg, batch, seed=1)
    with torch.no_grad():
        out = model(images, kp, valid)
    h = cfg.latent_size
    assert sorted(out.attention) == [h // 4, h // 2]
    for size, maps in out.attention.items():
        assert maps.shape == (batch, cfg.num_keypoints, size, size)
        assert (maps >= 0).all()
        torch.testing.assert_close(maps.sum(1), torch.ones(batch, size, size),
                                   atol=1e-5, rtol=0)


def test_recorded_layers_cover_down_and_up_cross_attention(model):
    names = model.backbone.recording_layers
    assert names and all(n.endswith('attn2.processor') for n in names)
    assert any(n.startswith('down_blocks') for n in names)
    assert any(n.startswith('up_blocks') for n in names)
    # levels 1, 2 <-> down blocks 2, 1 and up blocks 1, 2 (the 8x8 / 16x16 maps at SD size)
    assert {n.split('.')[1] for n in names if n.startswith('down')} == {'1', '2'}
    assert {n.split('.')[1] for n in names if n.startswith('up')} == {'1', '2'}


def test_only_lora_controlnet_and_heads_receive_gradients(test_body):
    model = make_model().train()
    cfg = model.config
    images, kp, valid = random_inputs(cfg, 2)
    cams = _cameras(2, cfg.crop_size)
    out = model(images, kp, valid, cameras=cams, body=test_body)
    loss = (out.pose.square().mean() + out.betas.square().mean() + out.joints.square().mean()
            + out.joint_coords.mean() + out.keypoints2d.mean())
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    # frozen: the UNet except its LoRA matrices, the VAE, the pose prior
    for n, p in model.named_parameters():
        frozen = (n.startswith('backbone.unet.') and 'lora_' not in n) or \
            n.startswith('backbone.vae.') or n.startswith('pose_prior.')
        assert (n not in trainable) == frozen, n
        if frozen:
            assert grads[n] is None, n
    lora = [n for n in trainable if 'lora_' in n]
    assert lora and all('.attn2.' in n for n in lora)      # cross-attention only
    assert all(any(t in n for t in ('to_q', 'to_k', 'to_v', 'to_out.0')) for n in lora)
    for prefix in ('backbone.unet.', 'backbone.controlnet.', 'backbone.fusion.',
                   'backbone.keypoint_embed.', 'regressor.', 'heads.'):
        received = [n for n in trainable if n.startswith(prefix) and grads[n] is not None
                    and grads[n].abs().sum() > 0]
        assert received, f'no gradient reached {prefix}'


def test_lora_targets_attention_option():
    model = make_model({'lora_targets': 'attention'})
    lora = [n for n, p in model.named_parameters() if p.requires_grad and 'lora_' in n]
    assert any('.attn1.' in n for n in lora) and any('.attn2.' in n for n in lora)


def test_full_unet_training_mode_has_no_lora():
    model = make_model({'unet_training': 'full', 'vae_trainable': True})
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert not any('lora_' in n for n in names)
    assert any(n.startswith('backbone.unet.') for n in names)
    assert any(n.startswith('backbone.vae.') for n in names)


def test_concat_and_add_condition_modes():
    concat = make_model({'condition_mode': 'concat'}).eval()
    add = make_model({'condition_mode': 'add'}).eval()
    k = concat.config.num_keypoints
    assert concat.backbone.controlnet.conv_in.in_channels == 4 + k
    assert add.backbone.controlnet.conv_in.in_channels == 4
    assert add.backbone.controlnet.controlnet_cond_embedding.conv_in.in_channels == k
    assert not list(concat.backbone.controlnet.controlnet_cond_embedding.parameters())
    images, kp, valid = random_inputs(concat.config, 2, seed=3)
    for model in (concat, add):
        # the heatmap condition reaches the features in both modes (make it non-trivial:
        # zero-initialised ControlNet paths are perturbed first)
        with torch.no_grad():
            for p in model.backbone.controlnet.parameters():
                p.add_(0.01 * torch.randn_like(p))
            hm = model.heatmaps(kp, valid)
            a = model(images, kp, valid, heatmaps=hm).features
            b = model(images, kp, valid, heatmaps=torch.zeros_like(hm)).features
        assert not torch.allclose(a, b)


def test_concat_controlnet_keeps_the_latent_weights_and_zeroes_heatmap_channels(model):
    w = model.backbone.controlnet.conv_in.weight
    assert torch.count_nonzero(w[:, 4:]) == 0
    assert torch.count_nonzero(w[:, :4]) > 0


def test_keypoints_change_the_output(model):
    images, kp, valid = random_inputs(model.config, 2, seed=4)
    with torch.no_grad():
        a = model(images, kp, valid).features
        b = model(images, kp.flip(1), valid).features
    assert not torch.allclose(a, b)


def test_wrong_keypoint_count_is_refused(model):
    images, kp, valid = random_inputs(model.config, 1)
    with pytest.raises(ValueError, match='expected 17 keypoints'):
        model(images, kp[:, :10], valid[:, :10])


def _cameras(batch, crop_size, box=(100.0, 80.0, 300.0, 280.0)):
    x0, y0, x1, y1 = box
    size = x1 - x0
    to_crop = torch.tensor([[crop_size / size, 0, -x0 * crop_size / size],
                            [0, crop_size / size, -y0 * crop_size / size]])
    return CropCameras(focal=torch.full((batch, 2), 800.0),
                       principal=torch.tensor([[320.0, 240.0]]).expand(batch, 2),
                       box_center=torch.tensor([[(x0 + x1) / 2, (y0 + y1) / 2]]).expand(batch, 2),
                       box_size=torch.full((batch,), size),
                       image_to_crop=to_crop.expand(batch, 2, 3))


def test_body_outputs_and_cliff_translation(model, test_body):
    cfg = model.config
    images, kp, valid = random_inputs(cfg, 3)
    cams = _cameras(3, cfg.crop_size)
    with torch.no_grad():
        out = model(images, kp, valid, cameras=cams, body=test_body)
    v = test_body.num_vertices
    assert out.vertices.shape == (3, v, 3) and out.joints.shape == (3, 24, 3)
    assert out.keypoints3d.shape == (3, 17, 3)
    assert out.joints2d.shape == (3, 24, 2) and out.keypoints2d.shape == (3, 17, 2)
    assert (out.translation[:, 2] > 0).all()
    # The translated origin projects where the weak-perspective crop camera says.
    pix = perspective_project(out.translation[:, None], cams.focal, cams.principal)[:, 0]
    s, tx, ty = out.camera.unbind(-1)
    shift = torch.stack([tx, ty], -1)
    expect = cams.box_center + cams.box_size[:, None] / 2 * s[:, None] * shift
    torch.testing.assert_close(pix, expect, atol=1e-2, rtol=0)
    # 2D outputs are the crop-normalised projections of the 3D joints
    full = perspective_project(out.joints, cams.focal, cams.principal)
    crop = (full - torch.tensor([100.0, 80.0])) / 200.0
    torch.testing.assert_close(out.joints2d, crop, atol=1e-4, rtol=0)


def test_vposer_head_variant():
    model = make_model({'pose_head': {'type': 'vposer'}, 'camera_mode': 'authors'}).eval()
    images, kp, valid = random_inputs(model.config, 2)
    with torch.no_grad():
        out = model(images, kp, valid)
    assert out.pose.shape == (2, 72) and out.pose_logits is None
    np.testing.assert_allclose(out.pose[:, 66:].numpy(), 0.0, atol=1e-6)   # hands at rest
    assert (out.camera[:, 0] > 0).all()
