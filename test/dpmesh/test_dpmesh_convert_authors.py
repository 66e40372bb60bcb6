"""Converter for the authors' released checkpoints, on a synthetic state dict with their names."""
import json

import pytest
import torch

from dpmesh_authors_replica import make_authors_state
from hmr_models.dpmesh import DPMesh, load_config
from hmr_models.dpmesh.weights.authors import convert_state, main, merge_lora, \
    missing_targets

SD = 'module.backbone.sd_model.'


@pytest.fixture(scope='module')
def converted():
    cfg = load_config('tiny')
    state, comps = make_authors_state(cfg, lora_rank=4, seed=0)
    model, new_cfg, conv, report = convert_state(state, 'tiny')
    return state, comps, model, new_cfg, conv, report


def test_every_source_key_is_reported_once(converted):
    state, _, model, _, conv, report = converted
    sources = [r.source for r in report]
    stripped = {k[len('module.'):] for k in state}
    assert len(sources) == len(set(sources)) == len(state)
    assert set(sources) == stripped
    left = {r.source for r in report if r.status == 'left_out'}
    expected_left = ('backbone.sd_model.cond_stage_model.', 'backbone.sd_model.betas',
                     'backbone.sd_model.alphas_cumprod', 'human_model_layer.',
                     'vposer.vposer.bodyprior_enc', 'pos_embed_1d.pos_table',
                     'backbone.sd_model.first_stage_model.post_quant_conv',
                     'backbone.sd_model.model.diffusion_model.out.')
    assert all(k.startswith(expected_left) for k in left), sorted(left)
    aliases = [r for r in report if r.status == 'alias']
    assert aliases and all(r.source.startswith(('backbone.unet.unet.',
                                                'backbone.encoder_vq.')) for r in aliases)
    # every parameter and persistent buffer of the model comes from the checkpoint
    assert missing_targets(model, conv) == []


def test_inferred_config_matches_the_release(converted):
    _, _, _, cfg, _, _ = converted
    assert cfg.keypoint_set == 'dpmesh30' and cfg.num_keypoints == 30
    assert cfg.pose_head.type == 'vposer' and cfg.camera_mode == 'authors'
    assert cfg.keypoint_embed_layers == 1 and not cfg.keypoint_embed_visibility
    assert cfg.image_range == 'zero_one' and cfg.latent_scale == 1.0
    assert cfg.lora_rank == 4 and cfg.lora_alpha == 4 and cfg.lora_targets == 'attention'
    assert cfg.token_dim == 768


def test_values_land_in_the_right_places(converted):
    state, comps, model, _, conv, _ = converted
    got = model.state_dict()
    assert torch.equal(got['regressor.input_proj.weight'], state['module.down_linear.weight'])
    assert torch.equal(got['regressor.decoder_layers.1.cross_attn.in_proj_weight'],
                       state['module.transformer.decoder.layers.1.multihead_attn.in_proj_weight'])
    assert torch.equal(got['heads.betas.layers.1.weight'],
                       state['module.cascade_shaoe_out.1.weight'])
    assert torch.equal(got['regressor.param_queries'], state['module.spose_shape_cam_param'])
    assert torch.equal(got['backbone.keypoint_embed.mlp.0.weight'],
                       state['module.kp_lifting.weight'])
    assert torch.equal(got['backbone.fusion.down_full.3.weight'],
                       state['module.backbone.outmodules.0.3.weight'])
    assert torch.equal(got['pose_prior.out.weight'],
                       state['module.vposer.vposer.bodyprior_dec_out.weight'])
    # ControlNet: the 34-channel first conv becomes conv_in (latent + 30 heatmaps)
    assert torch.equal(got['backbone.controlnet.conv_in.weight'],
                       state[SD + 'control_model.input_blocks.0.0.weight'])
    # LoRA on attention linears -> peft A/B; LoRA on the feed-forward -> merged
    ldm = SD + 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.'
    ours = 'backbone.unet.down_blocks.0.attentions.0.transformer_blocks.0.'
    assert torch.equal(got[ours + 'attn2.to_q.lora_A.default.weight'],
                       state[ldm + 'attn2.to_q.lora_down.weight'])
    assert torch.equal(got[ours + 'attn2.to_q.lora_B.default.weight'],
                       state[ldm + 'attn2.to_q.lora_up.weight'])
    assert torch.equal(got[ours + 'attn1.to_k.base_layer.weight'],
                       state[ldm + 'attn1.to_k.linear.weight'])
    merged = merge_lora(state[ldm + 'ff.net.0.proj.linear.weight'],
                        state[ldm + 'ff.net.0.proj.lora_down.weight'],
                        state[ldm + 'ff.net.0.proj.lora_up.weight'])
    torch.testing.assert_close(got[ours + 'ff.net.0.proj.weight'], merged)


def test_converted_unet_computes_what_the_merged_weights_compute(converted):
    """peft LoRA (kept trainable) == the authors' W + up @ down, numerically."""
    from diffusers import UNet2DConditionModel
    from hmr_models.dpmesh.weights.ldm_keys import convert_state_dict, unet_pairs
    state, comps, model, cfg, _, _ = converted
    unet_cfg = cfg.resolved_component('unet')
    prefix = SD + 'model.diffusion_model.'
    plain, groups = {}, {}
    for k, v in state.items():
        if k.startswith(prefix):
            rel = k[len(prefix):]
            for part in ('linear', 'lora_down', 'lora_up'):
                tag = f'.{part}.'
                if tag in rel:
                    path, kind = rel.split(tag)
                    groups.setdefault(path, {})[f'{part}.{kind}'] = v
                    break
            else:
                plain[rel] = v
    for path, g in groups.items():
        plain[f'{path}.weight'] = merge_lora(g['linear.weight'], g['lora_down.weight'],
                                             g['lora_up.weight'])
        if 'linear.bias' in g:
            plain[f'{path}.bias'] = g['linear.bias']
    ref = UNet2DConditionModel(**unet_cfg)
    ref.load_state_dict(convert_state_dict(plain, unet_pairs(unet_cfg), 'diffusers')[0])
    ref.conv_norm_out, ref.conv_act, ref.conv_out = None, None, torch.nn.Identity()
    ref.eval()
    ours = model.backbone.unet.eval()
    torch.manual_seed(0)
    x, ctx = torch.randn(2, 4, 16, 16), torch.randn(2, 30, 768)
    with torch.no_grad():
        a = ref(x, 1, encoder_hidden_states=ctx).sample
        b = ours(x, 1, encoder_hidden_states=ctx).sample
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_converted_model_runs(converted):
    _, _, model, cfg, _, _ = converted
    model.eval()
    images = torch.rand(2, 3, cfg.crop_size, cfg.crop_size)   # zero_one range
    kp = torch.rand(2, 30, 2)
    valid = torch.ones(2, 30, dtype=torch.bool)
    with torch.no_grad():
        out = model(images, kp, valid)
    assert out.pose.shape == (2, 72) and torch.isfinite(out.pose).all()


def test_merge_all_lora_option():
    cfg = load_config('tiny')
    state, _, = make_authors_state(cfg, seed=1)
    _, _, conv, report = convert_state(state, 'tiny', merge_all_lora=True, build_model=False)
    assert not any('lora_' in k for k in conv)
    assert sum(r.status == 'merged' for r in report) > 0


def test_vqvae_head_checkpoint_converts():
    """The authors' VQ variant (`vq_model.py`, PCT tokenizer) maps onto our VQ-VAE head."""
    from hmr_models.dpmesh.config import VQVAEConfig
    from hmr_models.dpmesh.parts.pose_prior import PoseVQVAE
    cfg = load_config('tiny')
    state, _ = make_authors_state(cfg, seed=2)
    state = {k: v for k, v in state.items() if not k.startswith('module.vposer.')}
    vq = PoseVQVAE(VQVAEConfig(num_tokens=6, codebook_size=16, code_dim=8, enc_hidden=16,
                               enc_blocks=2, enc_token_hidden=8, enc_channel_hidden=16,
                               dec_hidden=8, dec_token_hidden=8, dec_channel_hidden=8))
    rename = {'embed': 'start_embed', 'encoder_norm': 'encoder_layer_norm',
              'to_tokens': 'token_mlp', 'to_code': 'feature_embed',
              'from_tokens': 'decoder_token_mlp', 'decoder_in': 'decoder_start',
              'decoder_norm': 'decoder_layer_norm', 'to_rotation': 'recover_embed',
              'ema_count': 'ema_cluster_size', 'ema_sum': 'ema_w'}
    inner = {'norm1': 'layernorm1', 'norm2': 'layernorm2', 'token_mlp': 'MLP_token.ff',
             'channel_mlp': 'MLP_channel.ff'}
    for k, v in vq.state_dict().items():
        if k == 'initialised':
            continue
        head, rest = k.split('.', 1) if '.' in k else (k, '')
        if head in ('encoder', 'decoder'):
            i, sub, tail = rest.split('.', 2)
            name = f'{head}.{i}.{inner[sub]}.{tail}'
        else:
            name = rename.get(head, head) + (f'.{rest}' if rest else '')
        state[f'module.vqvae.{name}'] = v
    # their head: one query per token + root/betas/camera, logits over the codebook
    d = cfg.regressor.d_model
    state['module.spose_shape_cam_param'] = torch.randn(6 + 3, d)
    layers = cfg.regressor.dec_layers
    for i in range(layers):
        extra = 0 if i == 0 else 16
        state[f'module.cascade_pose_out.{i}.weight'] = torch.randn(16, d + extra)
        state[f'module.cascade_pose_out.{i}.bias'] = torch.randn(16)
    model, new_cfg, conv, report = convert_state(state, 'tiny')
    assert new_cfg.pose_head.type == 'vqvae' and new_cfg.pose_head.vqvae.num_tokens == 6
    assert torch.equal(model.pose_prior.codebook, vq.codebook)
    assert bool(model.pose_prior.initialised)
    assert missing_targets(model, conv) == []


def test_command_line_writes_a_loadable_checkpoint_and_report(tmp_path):
    cfg = load_config('tiny')
    state, _ = make_authors_state(cfg, seed=3)
    torch.save({'network': state}, tmp_path / 'tiny_best_ckpt.pth.tar')
    assert main([str(tmp_path / 'tiny_best_ckpt.pth.tar'), str(tmp_path / 'out'),
                 '--base', 'tiny']) == 0
    report = (tmp_path / 'out' / 'conversion_report.md').read_text()
    assert 'mapped' in report and 'left_out' in report
    rows = json.loads((tmp_path / 'out' / 'conversion_report.json').read_text())
    assert len([r for r in rows if r['source']]) == len(state)
    loaded = DPMesh.from_pretrained(tmp_path / 'out')
    assert loaded.config.pose_head.type == 'vposer'
    assert main([str(tmp_path / 'missing.pth'), str(tmp_path / 'x'), '--base', 'tiny']) == 2
