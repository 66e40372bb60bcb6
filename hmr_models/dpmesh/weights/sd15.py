"""Build the SD1.5 UNet / VAE / ControlNet of a DPMesh config and load local weights.

Weights come from local paths only (never a model hub), in either layout diffusers knows:
- a diffusers folder (`.../unet` with `config.json` + weights, or a pipeline folder holding a
  `unet/`, `vae/`, `controlnet/` subfolder);
- a single `.safetensors` / `.ckpt` / `.pth` / `.bin` file in the original CompVis layout (a full
  SD1.5 checkpoint, a ControlNet file such as `control_sd15_openpose.pth`) or in diffusers
  layout. `from_single_file` gets its architecture from the config folder we ship
  (`hmr_models/assets/configs/sd15`, plus the profile's overrides), so it needs no network.

The ControlNet is then adapted to DPMesh's condition: `concat` widens its first convolution to
take the latent and the K heatmaps together (pretrained channels copied, new ones zero) and
drops the image-hint embedder; `add` keeps the latent path and gives it a fresh hint embedder at
latent resolution whose output is added (the usual ControlNet way).
"""
import json
import logging
from pathlib import Path
import tempfile

import torch
from torch import nn

from hmr_models.paths import MissingModelFile

log = logging.getLogger(__name__)

SINGLE_FILE_SUFFIXES = ('.safetensors', '.ckpt', '.pth', '.pt', '.bin')
GET_SD15 = ('Point it at a local Stable Diffusion 1.5 diffusers folder or single '
            '.safetensors/.ckpt file (and a ControlNet such as control_sd15_openpose for '
            'controlnet_weights); models are never downloaded at run time.')


def _diffusers_classes():
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    return {'unet': UNet2DConditionModel, 'vae': AutoencoderKL, 'controlnet': ControlNetModel}


def read_checkpoint(path):
    """State dict of a .safetensors / torch file; unwraps 'state_dict' / 'network' / 'model'."""
    path = Path(path)
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        state = load_file(str(path), device='cpu')
    else:
        try:
            state = torch.load(str(path), map_location='cpu', weights_only=True)
        except Exception as err:   # a pickle with non-tensor objects (e.g. Lightning metadata)
            raise ValueError(
                f'{path}: cannot read it as a weights-only torch checkpoint ({err}). Convert it '
                'to .safetensors, or re-save its state_dict with torch.save.') from err
    for key in ('state_dict', 'network', 'model'):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f'{path}: expected a state dict, found {type(state).__name__}')
    return state


def load_pretrained(name, path, config, parameter):
    """A diffusers model ('unet' | 'vae' | 'controlnet') with `config`, weights from `path`.

    `config` is the model's native architecture (the shipped SD1.5 config plus the profile's
    overrides). Raises MissingModelFile naming `parameter` when the path does not exist.
    """
    cls = _diffusers_classes()[name]
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingModelFile(f'{name} weights not found: {p} (set by parameter '
                               f"'{parameter}'). {GET_SD15}")
    if p.is_dir():
        if (p / 'config.json').is_file():
            model = cls.from_pretrained(str(p), local_files_only=True)
        elif (p / name / 'config.json').is_file():
            model = cls.from_pretrained(str(p), subfolder=name, local_files_only=True)
        else:
            raise MissingModelFile(
                f"{p} (parameter '{parameter}') is a folder without config.json or "
                f'{name}/config.json: not a diffusers model folder. {GET_SD15}')
        _check_architecture(name, model.config, config, p, parameter)
        return model
    if p.suffix not in SINGLE_FILE_SUFFIXES:
        raise ValueError(f"{p} (parameter '{parameter}'): unknown weights format; expected a "
                         f'diffusers folder or one of {SINGLE_FILE_SUFFIXES}')
    state = read_checkpoint(p)
    with tempfile.TemporaryDirectory() as tmp:
        # from_single_file reads the architecture from a diffusers config folder.
        (Path(tmp) / name).mkdir()
        cfg = dict(config, _class_name=cls.__name__)
        (Path(tmp) / name / 'config.json').write_text(json.dumps(cfg))
        try:
            model = cls.from_single_file(state, config=tmp, subfolder=name,
                                         local_files_only=True)
        except Exception as err:
            raise ValueError(f"{p} (parameter '{parameter}'): could not load it as a {name} "
                             f'with the configured architecture: {err}') from err
    return model


def _check_architecture(name, loaded, expected, path, parameter):
    keys = ('block_out_channels', 'layers_per_block', 'cross_attention_dim', 'latent_channels',
            'in_channels')
    for k in keys:
        if k in expected and k in loaded and list(_as_list(loaded[k])) != list(
                _as_list(expected[k])):
            raise ValueError(f"{path} (parameter '{parameter}'): its {name} has {k}="
                             f'{loaded[k]} but the DPMesh config expects {expected[k]}')


def _as_list(v):
    return v if isinstance(v, (list, tuple)) else [v]


def build_component(name, config, path='', parameter=''):
    """Random-initialised model from `config`, or the pretrained one when `path` is set."""
    if path:
        return load_pretrained(name, path, config, parameter)
    return _diffusers_classes()[name](**config)


class LatentEncoder(nn.Module):
    """The VAE encoder half: image (B, 3, S, S) in the VAE's range -> latent mean * scale."""

    def __init__(self, vae, scale):
        super().__init__()
        self.encoder = vae.encoder
        self.quant_conv = vae.quant_conv
        self.scale = float(scale)

    def forward(self, images):
        moments = self.encoder(images)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, _ = moments.chunk(2, dim=1)   # the posterior's mode: deterministic latent
        return mean * self.scale


class NoConditionEmbedding(nn.Module):
    """Stands in for ControlNet's hint embedder when the hint enters through `conv_in`.

    ControlNetModel adds `controlnet_cond_embedding(cond)` to `conv_in(sample)`; returning a zero
    scalar makes that addition a no-op (the authors' ControlNet has no hint embedder at all).
    """

    def forward(self, conditioning):
        return conditioning.new_zeros(())


def adapt_controlnet(native, mode, num_keypoints, add_embedding_channels=64):
    """DPMesh's ControlNet built from a native one (pretrained or copied from the UNet).

    concat: conv_in takes 4 + K channels (latent, heatmaps); pretrained latent channels are
    copied, heatmap channels start at zero (so the pretrained behaviour is kept at step 0).
    add: conv_in unchanged; a fresh hint embedder maps the K heatmaps, at latent resolution,
    to features added after conv_in.
    """
    from diffusers import ControlNetModel
    cfg = {k: v for k, v in dict(native.config).items() if not k.startswith('_')}
    latent_ch = int(cfg['in_channels'])
    if mode == 'concat':
        cfg['in_channels'] = latent_ch + num_keypoints
    else:
        cfg['conditioning_channels'] = num_keypoints
        cfg['conditioning_embedding_out_channels'] = [int(add_embedding_channels)]
    model = ControlNetModel(**cfg)
    state = native.state_dict()
    target = model.state_dict()
    new_state = {}
    for key, value in target.items():
        if key.startswith('controlnet_cond_embedding.'):
            new_state[key] = value    # fresh embedder (dropped below in concat mode)
        elif key == 'conv_in.weight' and mode == 'concat':
            w = torch.zeros_like(value)
            w[:, :latent_ch] = state[key]
            new_state[key] = w
        else:
            new_state[key] = state[key]
    model.load_state_dict(new_state)
    if mode == 'concat':
        model.controlnet_cond_embedding = NoConditionEmbedding()
    return model


def sd_components(cfg):
    """(unet, latent_encoder, controlnet) of a DPMeshConfig, weights loaded, not yet LoRA'd."""
    unet_cfg = cfg.resolved_component('unet')
    vae_cfg = cfg.resolved_component('vae')
    cn_cfg = cfg.resolved_component('controlnet')
    if cfg.profile == 'sd15' and not (cfg.unet_weights and cfg.vae_weights):
        log.warning('DPMesh sd15 profile without unet_weights/vae_weights: the diffusion backbone '
                    'is randomly initialised (fine for timing and tests, useless for inference)')
    unet = build_component('unet', unet_cfg, cfg.unet_weights, 'unet_weights')
    vae = build_component('vae', vae_cfg, cfg.vae_weights, 'vae_weights')
    if cfg.controlnet_weights:
        native_cn = build_component('controlnet', cn_cfg, cfg.controlnet_weights,
                                    'controlnet_weights')
    else:
        # The ControlNet recipe: start from a copy of the UNet's encoder.
        from diffusers import ControlNetModel
        native_cn = ControlNetModel.from_unet(unet, conditioning_channels=int(
            cn_cfg.get('conditioning_channels', 3)), conditioning_embedding_out_channels=tuple(
            cn_cfg.get('conditioning_embedding_out_channels', (16, 32, 96, 256))))
    controlnet = adapt_controlnet(native_cn, cfg.condition_mode, cfg.num_keypoints,
                                  cfg.add_embedding_channels)
    encoder = LatentEncoder(vae, cfg.latent_scale)
    del vae, native_cn
    return unet, encoder, controlnet
