"""DPMesh's diffusion backbone: one UNet + ControlNet step on the crop's latent -> 8x8 features.

    image crop (B,3,S,S) --VAE encoder--> latent (B,4,h,w)
    keypoint heatmaps (B,K,h,w) --+-- concat with the latent --> ControlNet --> residuals
    keypoints (B,K,2) --2-layer MLP--> tokens (B,K,D) = encoder_hidden_states everywhere
    UNet(latent, t, tokens, residuals): decoder outputs at h/8, h/4, h/2, h (forward hooks)
        + per-keypoint cross-attention maps at h/4, h/2 (attention processor)
    fusion: strided convs bring everything to h/4 -> (B, fused_channels, h/4, w/4)

At SD1.5 size (S=256, h=32, D=768) the output is 2048 x 8 x 8, as in the paper.
"""
import logging

import torch
from torch import nn
import torch.nn.functional as F

from ..weights.sd15 import sd_components
from .attention import AttentionStore, install_recorders

log = logging.getLogger(__name__)


def _groups(channels, wanted):
    """Largest group count <= wanted that divides `channels` (GroupNorm needs a divisor)."""
    g = max(1, min(wanted, channels))
    while channels % g:
        g -= 1
    return g


class KeypointTokens(nn.Module):
    """2D keypoints -> cross-attention tokens (the paper's c_t, replacing CLIP text tokens).

    Input coordinates are crop-normalised ([0, 1] inside the crop); missing keypoints are zeroed
    and, with `visibility`, flagged by a third input. `identity` adds a learned per-keypoint
    vector so tokens of different joints differ even at equal coordinates.
    """

    def __init__(self, num_keypoints, dim, layers=2, visibility=True, identity=True):
        super().__init__()
        in_dim = 3 if visibility else 2
        if layers == 1:
            self.mlp = nn.Sequential(nn.Linear(in_dim, dim))
        elif layers == 2:
            self.mlp = nn.Sequential(nn.Linear(in_dim, dim), nn.GELU(), nn.Linear(dim, dim))
        else:
            raise ValueError(f'keypoint_embed_layers must be 1 or 2, got {layers}')
        self.visibility = visibility
        self.identity = nn.Parameter(torch.zeros(num_keypoints, dim)) if identity else None

    def forward(self, keypoints, valid):
        """keypoints (B, K, 2) crop-normalised, valid (B, K) -> tokens (B, K, dim)."""
        v = valid.to(keypoints.dtype)[..., None]
        x = torch.nan_to_num(keypoints) * v
        if self.visibility:
            x = torch.cat([x, v], dim=-1)
        tokens = self.mlp(x)
        if self.identity is not None:
            tokens = tokens + self.identity
        return tokens


class FeatureFusion(nn.Module):
    """Brings the four decoder taps (+ attention maps) to latent/4 and fuses them.

    Same structure as the authors' VPD-style `outmodules`, so their weights map 1:1:
    full-resolution tap -> conv s2, GN, ReLU, conv s2; half-resolution tap -> conv s2;
    quarter-resolution tap concatenated with the 2x-upsampled coarsest tap; all concatenated
    -> 1x1 conv -> GN -> ReLU.
    """

    def __init__(self, ch_full, ch_half, ch_quarter, ch_coarse, out_channels, groups=16):
        super().__init__()
        self.down_full = nn.Sequential(
            nn.Conv2d(ch_full, ch_full, 3, stride=2, padding=1),
            nn.GroupNorm(_groups(ch_full, groups), ch_full), nn.ReLU(),
            nn.Conv2d(ch_full, ch_full, 3, stride=2, padding=1))
        self.down_half = nn.Sequential(nn.Conv2d(ch_half, ch_half, 3, stride=2, padding=1))
        total = ch_full + ch_half + ch_quarter + ch_coarse
        self.project = nn.Sequential(nn.Conv2d(total, out_channels, 1),
                                     nn.GroupNorm(_groups(out_channels, groups), out_channels),
                                     nn.ReLU())
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, full, half, quarter, coarse):
        coarse = F.interpolate(coarse, scale_factor=2.0, mode='nearest')
        x = torch.cat([self.down_full(full), self.down_half(half), quarter, coarse], dim=1)
        return self.project(x)


class DiffusionBackbone(nn.Module):
    """VAE encoder + ControlNet + (LoRA) UNet run once, returning fused features.

    forward(images, keypoints, valid, heatmaps) -> dict with 'features' (B, C, h/4, w/4),
    'attention' {size: (B, K, size, size)} and 'latent'.
    """

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        unet, vae, controlnet = sd_components(cfg)
        # DPMesh reads decoder features, never the noise prediction: drop the output layer
        # (saves compute, and no parameter is left without a gradient under DDP).
        unet.conv_norm_out, unet.conv_act, unet.conv_out = None, None, nn.Identity()
        self.vae = vae
        self.controlnet = controlnet
        self.unet = unet
        self.keypoint_embed = KeypointTokens(cfg.num_keypoints, cfg.token_dim,
                                             cfg.keypoint_embed_layers,
                                             cfg.keypoint_embed_visibility, cfg.keypoint_identity)
        self._configure_training(cfg)
        self.attention_store = AttentionStore()
        self.recording_layers = install_recorders(unet, self.attention_store,
                                                  cfg.attention_parts, cfg.attention_levels)
        self._taps = {}
        self._hooks = self._install_taps(cfg.tap_layer)
        channels = list(cfg.resolved_component('unet')['block_out_channels'])
        k = cfg.num_keypoints
        levels = set(cfg.attention_levels)
        self.fusion = FeatureFusion(
            ch_full=channels[0] + (k if 3 in levels else 0),
            ch_half=channels[1] + (k if 2 in levels else 0),
            ch_quarter=channels[2] + (k if 1 in levels else 0),
            ch_coarse=channels[3], out_channels=cfg.fused_channels, groups=cfg.fusion_groups)

    # ------------------------------------------------------------------ construction helpers
    def _configure_training(self, cfg):
        self.vae.requires_grad_(bool(cfg.vae_trainable))
        self.unet.requires_grad_(cfg.unet_training == 'full')
        if cfg.unet_training == 'lora':
            from peft import LoraConfig
            which = 'attn2' if cfg.lora_targets == 'cross' else 'attn[12]'
            lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha or cfg.lora_rank,
                              init_lora_weights=True,
                              target_modules=rf'.*\.{which}\.(to_q|to_k|to_v|to_out\.0)')
            self.unet.add_adapter(lora)   # only the LoRA matrices are trainable

    def _install_taps(self, layer):
        hooks = []
        ups = self.unet.up_blocks
        for level in range(3):
            block = ups[level]
            module = block.attentions[layer] if getattr(block, 'attentions', None) else \
                block.resnets[layer]
            hooks.append(module.register_forward_hook(self._tap_hook(level)))
        hooks.append(ups[3].register_forward_hook(self._tap_hook(3)))
        return hooks

    def _tap_hook(self, level):
        def hook(module, inputs, output):
            if hasattr(output, 'sample'):            # a diffusers output dataclass
                output = output.sample
            self._taps[level] = output[0] if isinstance(output, (tuple, list)) else output
        return hook

    # ------------------------------------------------------------------ forward
    def encode(self, images):
        """Crop images (B, 3, S, S) already in the configured range -> latent (B, 4, h, w)."""
        if self.cfg.vae_trainable and self.training:
            return self.vae(images)
        with torch.no_grad():
            return self.vae(images)

    def forward(self, images, keypoints, valid, heatmaps, latent=None):
        """Run the backbone.

        Args:
            images: (B, 3, S, S) crops in the VAE range (see DPMeshConfig.image_range).
            keypoints: (B, K, 2) crop-normalised keypoints ([0, 1] inside the crop).
            valid: (B, K) bool/float visibility.
            heatmaps: (B, K, h, w) Gaussian heatmaps at latent resolution (zero for missing).
            latent: optional precomputed latent (B, 4, h, w) (skips the VAE).
        """
        if latent is None:
            latent = self.encode(images)
        b = latent.shape[0]
        heatmaps = heatmaps.to(latent.dtype)
        tokens = self.keypoint_embed(keypoints.to(latent.dtype), valid).to(latent.dtype)
        t = torch.full((b,), self.cfg.timestep, device=latent.device, dtype=torch.long)
        if self.cfg.condition_mode == 'concat':
            cn_sample, cn_cond = torch.cat([latent, heatmaps], dim=1), latent
        else:
            cn_sample, cn_cond = latent, heatmaps
        down_res, mid_res = self.controlnet(cn_sample, t, encoder_hidden_states=tokens,
                                            controlnet_cond=cn_cond, return_dict=False)
        self._taps = {}
        self.attention_store.reset()
        self.attention_store.active = True
        try:
            self.unet(latent, t, encoder_hidden_states=tokens,
                      down_block_additional_residuals=down_res,
                      mid_block_additional_residual=mid_res, return_dict=False)
        finally:
            self.attention_store.active = False
        h = int(latent.shape[-1])  # a plain int also when traced (ONNX export)
        sizes = {3: h, 2: h // 2, 1: h // 4}
        attention = {sizes[lv]: self.attention_store.maps(sizes[lv])
                     for lv in self.cfg.attention_levels}
        taps = dict(self._taps)
        self._taps = {}
        self.attention_store.reset()

        def level(lv):
            x = taps[lv]
            if lv in self.cfg.attention_levels:
                x = torch.cat([x, attention[sizes[lv]].to(x.dtype)], dim=1)
            return x

        features = self.fusion(level(3), level(2), level(1), taps[0])
        return {'features': features, 'attention': attention, 'latent': latent,
                'tokens': tokens}
