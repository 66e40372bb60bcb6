"""Self-describing DPMesh checkpoints.

The project's one format (hmr_models.checkpoints: config.json, model.safetensors, meta.json).

    save_pretrained(model, 'runs/teacher/best')
    model = load_pretrained('runs/teacher/best')          # no network, ever

When the config points at base SD1.5 weights (unet_weights / vae_weights) and those parts stay
frozen, their 3.4 GB are not copied into every checkpoint: only what training changed (LoRA,
ControlNet, heads, fusion, pose prior) is stored, and the base weights load from the same
paths on the way back. Compact/tiny models, trained from scratch, are stored whole.
"""
import logging
from pathlib import Path

import torch

from hmr_models.checkpoints import WEIGHTS, read_config, read_weights, save_checkpoint
from hmr_models.paths import MissingModelFile

from .config import load_config

log = logging.getLogger(__name__)

BACKBONE = 'backbone.'    # the diffusion backbone's keys in a DPMesh state dict


def _base_prefixes(cfg):
    """State-dict prefixes whose (frozen) values come from the configured base weights."""
    out = []
    if cfg.unet_weights and cfg.unet_training != 'full':
        out.append('backbone.unet.')
    if cfg.vae_weights and not cfg.vae_trainable:
        out.append('backbone.vae.')
    return tuple(out)


def _is_base(key, prefixes):
    return key.startswith(prefixes) and 'lora_' not in key


def save_pretrained(model, directory, full=False):
    """Write config.json, model.safetensors and meta.json into `directory`."""
    cfg = model.config
    model.ensure_backbone()               # a deferred one is part of the checkpoint too
    prefixes = () if full else _base_prefixes(cfg)
    state = {k: v for k, v in model.state_dict().items() if not _is_base(k, prefixes)}
    d = save_checkpoint(directory, cfg.to_dict(), state, 'dpmesh',
                        base_prefixes_not_stored=list(prefixes))
    log.info('saved DPMesh (%s, %d tensors) to %s', cfg.profile, len(state), d)
    return d


def load_pretrained(directory, overrides=None, device='cpu', defer_backbone=False):
    """DPMesh from a checkpoint folder; `overrides` patch its config (e.g. new weight paths).

    defer_backbone: build the diffusion backbone, and read its weights, only when something
    uses it (DPMesh.defer_backbone): the inference of a lifted model from its keypoints alone.
    """
    from .model import DPMesh
    d = Path(directory).expanduser()
    # Both files read before the model is built: a missing one is named at once.
    cfg = load_config(read_config(d, 'DPMesh checkpoint', 'dpmesh_checkpoint'), overrides)
    state = read_weights(d, 'DPMesh checkpoint', 'dpmesh_checkpoint')
    # The prior's trained weights travel inside the checkpoint: do not reload them from disk.
    cfg.pose_head.prior_weights = ''
    cfg.keypoint_lifter.weights = ''      # so do the lifter's
    model = DPMesh(cfg, build_backbone=not defer_backbone)
    if defer_backbone:
        state = {k: v for k, v in state.items() if not k.startswith(BACKBONE)}

        def load_backbone(backbone):      # the file read again: its tensors are not kept
            whole = read_weights(d, 'DPMesh checkpoint', 'dpmesh_checkpoint')
            _load_checked(backbone, {k[len(BACKBONE):]: v for k, v in whole.items()
                                     if k.startswith(BACKBONE)}, cfg, d, BACKBONE)
        model.defer_backbone(load_backbone)
    _load_checked(model, state, cfg, d)
    return model.to(device)


def _load_checked(module, state, cfg, directory, prefix=''):
    """Load `state` into `module` (DPMesh, or its part at `prefix`); only base weights may lack."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    prefixes = _base_prefixes(cfg)
    missing = [k for k in missing if not _is_base(prefix + k, prefixes)]
    if missing or unexpected:
        raise ValueError(f'{directory / WEIGHTS} does not match its config: missing '
                         f'{missing[:8]} ({len(missing)}), unexpected {unexpected[:8]} '
                         f'({len(unexpected)})')


def trainable_state_dict(model):
    """Only what an optimiser changes (plus buffers): the small part of a training state."""
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in names}


def count_parameters(model):
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def adopt_weights(model, directory):
    """Start `model` from another checkpoint where tensor names and shapes agree.

    For a model whose configuration changed (e.g. the compact profile gaining the keypoint
    lifter): everything that still fits is taken; the regressor's parameter queries keep their
    layout (root, pose..., betas, camera) when the number of pose tokens changed; heads that
    become corrections of the lifter (a source without one) stay zero. Returns (taken, skipped)
    key lists, and logs them.
    """
    from safetensors.torch import load_file
    d = Path(directory).expanduser()
    if not (d / WEIGHTS).is_file():
        raise MissingModelFile(f'DPMesh checkpoint to start from not found: {d / WEIGHTS}')
    state = load_file(str(d / WEIGHTS))
    own = model.state_dict()
    heads_are_corrections = (getattr(model, 'keypoint_lifter', None) is not None
                             and not any(k.startswith('keypoint_lifter.') for k in state))
    taken, skipped = {}, []
    for key, value in state.items():
        target = own.get(key)
        if target is None or (heads_are_corrections and key.startswith('heads.')):
            skipped.append(key)
            continue
        if key == 'regressor.param_queries' and value.shape[1:] == target.shape[1:]:
            n = target.shape[0]
            value = torch.cat([value[:n - 2], value[-2:]], 0)
        if value.shape != target.shape:
            skipped.append(key)
            continue
        taken[key] = value
    model.load_state_dict(taken, strict=False)
    log.info('started from %s: %d tensors taken, %d skipped (%s...)', d, len(taken),
             len(skipped), ', '.join(skipped[:4]))
    return list(taken), skipped
