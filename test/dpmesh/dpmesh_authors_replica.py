"""A synthetic checkpoint with the parameter names of the authors' released DPMesh.

The names are produced by a small replica of their module tree (attribute names as in
EternalEvan/DPMesh `common/model.py`, `common/nets/transformer.py`, `common/vpd/*`,
`cldm/cldm.py`, cloneofsimo/lora's `LoraInjectedLinear`, VPoser v1), filled with random values,
at any width. The SD components are diffusers models renamed to CompVis names with our
ldm_keys maps (checked against diffusers' own single-file converter in test_dpmesh_sd15.py).
"""
import re

import torch
from torch import nn

from hmr_models.dpmesh.weights.ldm_keys import controlnet_pairs, convert_state_dict, unet_pairs, \
    vae_pairs

LORA_RE = re.compile(r'(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.0\.proj)\.(weight|bias)$')


class _EncLayer(nn.Module):
    def __init__(self, d, ffn):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, 4)
        self.linear1, self.linear2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)


class _DecLayer(_EncLayer):
    def __init__(self, d, ffn):
        super().__init__(d, ffn)
        self.multihead_attn = nn.MultiheadAttention(d, 4)
        self.norm3 = nn.LayerNorm(d)


class _Encoder(nn.Module):
    def __init__(self, d, ffn, n, norm):
        super().__init__()
        self.layers = nn.ModuleList([_EncLayer(d, ffn) for _ in range(n)])
        if norm:
            self.norm = nn.LayerNorm(d)


class _Decoder(nn.Module):
    def __init__(self, d, ffn, n):
        super().__init__()
        self.layers = nn.ModuleList([_DecLayer(d, ffn) for _ in range(n)])
        self.norm = nn.LayerNorm(d)
        self.joint_img_regress = nn.ModuleList([nn.Linear(d, 3)] + [
            nn.Linear(d + 3, 3) for _ in range(n - 1)])
        self.fc_pos_3d = nn.Sequential(nn.Linear(3, d), nn.LayerNorm(d), nn.ReLU(),
                                       nn.Linear(d, d))


class _Transformer(nn.Module):
    def __init__(self, d, ffn, enc, dec):
        super().__init__()
        self.encoder = _Encoder(d, ffn, enc, norm=False)
        self.decoder = _Decoder(d, ffn, dec)
        self.smpl_tgt = nn.Parameter(torch.randn(d))
        self.kp_tgt = nn.Parameter(torch.randn(d))


class _VPoserV1(nn.Module):
    def __init__(self, latent=32, hidden=512, n_features=63):
        super().__init__()
        self.bodyprior_enc_bn1 = nn.BatchNorm1d(n_features)
        self.bodyprior_enc_fc1 = nn.Linear(n_features, hidden)
        self.bodyprior_enc_bn2 = nn.BatchNorm1d(hidden)
        self.bodyprior_enc_fc2 = nn.Linear(hidden, hidden)
        self.bodyprior_enc_mu = nn.Linear(hidden, latent)
        self.bodyprior_enc_logvar = nn.Linear(hidden, latent)
        self.bodyprior_dec_fc1 = nn.Linear(latent, hidden)
        self.bodyprior_dec_fc2 = nn.Linear(hidden, hidden)
        self.bodyprior_dec_out = nn.Linear(hidden, 21 * 6)


class _Heads(nn.Module):
    """The non-backbone part of the authors' `Model` (VPoser variant)."""

    def __init__(self, d, fused, ffn, vol_ffn, enc, dec, size):
        super().__init__()
        self.down_linear = nn.Conv2d(fused, d, 1)
        self.transformer = _Transformer(d, ffn, enc, dec)
        self.register_buffer('pos_table', torch.randn(size ** 3, d))
        self.kp_lifting = nn.Linear(2, 768)
        self.spose_shape_cam_param = nn.Parameter(torch.randn(3, d))
        self.query = nn.Embedding(15, d)
        self.cascade_root_pose_out = nn.ModuleList([nn.Linear(d, 6)] + [
            nn.Linear(d + 6, 6) for _ in range(dec - 1)])
        self.cascade_pose_out = nn.ModuleList([nn.Linear(d, 32)] + [
            nn.Linear(d + 32, 32) for _ in range(dec - 1)])
        self.cascade_shaoe_out = nn.ModuleList([nn.Linear(d, 10)] + [
            nn.Linear(d + 10, 10) for _ in range(dec - 1)])
        self.cascade_cam_out = nn.ModuleList([nn.Linear(d, 3)] + [
            nn.Linear(d + 3, 3) for _ in range(dec - 1)])
        self.conv2d_to_3d = nn.Conv2d(fused, d * size, 1)
        self.exponent = nn.Parameter(torch.tensor(3.0))
        self.conv_3d_coord = nn.Sequential(nn.Conv3d(d + 3, d, 1))
        self.refine_3d = _Encoder(d, vol_ffn, enc, norm=True)


def _outmodules(c_full, c_half, c_quarter, fused):
    return nn.ModuleList([
        nn.Sequential(nn.Conv2d(c_full, c_full, 3, 2, 1), nn.GroupNorm(8, c_full), nn.ReLU(),
                      nn.Conv2d(c_full, c_full, 3, 2, 1)),
        nn.Sequential(nn.Conv2d(c_half, c_half, 3, 2, 1)),
        nn.Sequential(nn.Conv2d(c_full + c_half + c_quarter, fused, 1),
                      nn.GroupNorm(8, fused), nn.ReLU())])


def _ldm(model, pairs):
    state, unmapped = convert_state_dict(model.state_dict(), pairs, to='ldm')
    assert not unmapped, unmapped
    return state


def _inject_lora(state, rank, gen):
    """cloneofsimo naming: X.weight -> X.linear.weight + X.lora_down/up.weight."""
    out = {}
    for k, v in state.items():
        m = LORA_RE.search(k)
        if not m:
            out[k] = v
            continue
        path = k[:-len('.' + m.group(3))]
        out[f'{path}.linear.{m.group(3)}'] = v
        if m.group(3) == 'weight':
            out[f'{path}.lora_down.weight'] = 0.05 * torch.randn(rank, v.shape[1], generator=gen)
            out[f'{path}.lora_up.weight'] = 0.05 * torch.randn(v.shape[0], rank, generator=gen)
    return out


def make_authors_state(cfg, lora_rank=4, seed=0):
    """(state dict with the release's names, {'unet': ..} diffusers components used).

    `cfg` gives the SD component sizes (e.g. load_config('tiny')); K = 30 heatmaps.
    """
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    unet_cfg = cfg.resolved_component('unet')
    unet_cfg['cross_attention_dim'] = 768          # Linear(2, 768) keypoint lifting
    cn_cfg = dict(cfg.resolved_component('controlnet'), cross_attention_dim=768,
                  in_channels=4 + 30)
    vae_cfg = cfg.resolved_component('vae')
    unet = UNet2DConditionModel(**unet_cfg)
    cn = ControlNetModel(**cn_cfg)
    vae = AutoencoderKL(**vae_cfg)
    state = {}
    sd = 'module.backbone.sd_model.'
    unet_ldm = _inject_lora(_ldm(unet, unet_pairs(unet_cfg)), lora_rank, gen)
    state.update({sd + 'model.diffusion_model.' + k: v for k, v in unet_ldm.items()})
    cn_state = {k: v for k, v in cn.state_dict().items()
                if not k.startswith('controlnet_cond_embedding.')}
    cn_ldm, unmapped = convert_state_dict(cn_state, controlnet_pairs(cn_cfg, hint_block=False),
                                          to='ldm')
    assert not unmapped
    state.update({sd + 'control_model.' + k: v for k, v in cn_ldm.items()})
    vae_ldm = _ldm(vae, vae_pairs(vae_cfg))
    state.update({sd + 'first_stage_model.' + k: v for k, v in vae_ldm.items()
                  if not k.startswith('decoder.')})          # the authors delete the decoder
    # the same modules again under the wrappers' names (UNetWrapper, encoder_vq)
    for k in list(state):
        if k.startswith(sd):
            state['module.backbone.unet.unet.' + k[len(sd):]] = state[k]
        if k.startswith(sd + 'first_stage_model.'):
            state['module.backbone.encoder_vq.' + k[len(sd + 'first_stage_model.'):]] = state[k]
    state[sd + 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight'] = \
        torch.randn(10, 768)
    state[sd + 'betas'] = torch.linspace(1e-4, 0.02, 1000)
    state[sd + 'alphas_cumprod'] = torch.linspace(1.0, 0.1, 1000)
    state['module.human_model_layer.th_v_template'] = torch.randn(1, 20, 3)
    state['module.human_model_layer.th_J_regressor'] = torch.randn(24, 20)
    ch = list(unet_cfg['block_out_channels'])
    fused, size = cfg.fused_channels, cfg.feature_size
    outm = _outmodules(ch[0], ch[1] + 30, ch[2] + 30 + ch[3], fused)
    state.update({f'module.backbone.outmodules.{k}': v for k, v in outm.state_dict().items()})
    reg = cfg.regressor
    heads = _Heads(reg.d_model, fused, reg.ffn_dim, reg.volume_ffn_dim, reg.enc_layers,
                   reg.dec_layers, size)
    for k, v in heads.state_dict().items():
        name = 'pos_embed_1d.pos_table' if k == 'pos_table' else k
        state['module.' + name] = v
    for k, v in _VPoserV1().state_dict().items():
        state['module.vposer.vposer.' + k] = v
    return state, {'unet': unet, 'controlnet': cn, 'vae': vae}
