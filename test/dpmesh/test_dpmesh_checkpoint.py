"""Checkpoints: config beside the weights, bit-identical round trips, offline, base weights."""
import json
import os
import socket

import pytest
import torch

from dpmesh_helpers import make_model, random_inputs
from hmr_models.dpmesh import DPMesh, load_config
from hmr_models.paths import MissingModelFile


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')

    def refuse(*args, **kwargs):
        raise AssertionError('network access attempted')
    monkeypatch.setattr(socket.socket, 'connect', refuse)


def _perturb(model):
    # LoRA B starts at zero; give every trainable tensor a value a wrong load would miss.
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))


def test_round_trip_is_bit_identical(tmp_path):
    assert os.environ['HF_HUB_OFFLINE'] == '1'
    model = make_model(seed=3)
    _perturb(model)
    model.save_pretrained(tmp_path / 'ckpt')
    cfg = json.loads((tmp_path / 'ckpt' / 'config.json').read_text())
    assert cfg['profile'] == 'tiny' and cfg['lora_rank'] == 4
    meta = json.loads((tmp_path / 'ckpt' / 'meta.json').read_text())
    assert meta['format'] == 'hmr_models.dpmesh' and meta['version'] == 2
    torch.manual_seed(123)          # a different init must not matter after loading
    loaded = DPMesh.from_pretrained(tmp_path / 'ckpt')
    a_state, b_state = model.state_dict(), loaded.state_dict()
    assert a_state.keys() == b_state.keys()
    assert all(torch.equal(a_state[k], b_state[k]) for k in a_state)
    model.eval()
    loaded.eval()
    images, kp, valid = random_inputs(model.config, 3, seed=5)
    with torch.no_grad():
        a, b = model(images, kp, valid), loaded(images, kp, valid)
    for name in ('pose', 'betas', 'camera', 'joint_coords', 'features'):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_base_weights_are_referenced_not_copied(tmp_path):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    cfg = load_config('tiny')
    torch.manual_seed(1)
    UNet2DConditionModel(**cfg.resolved_component('unet')).save_pretrained(tmp_path / 'unet')
    AutoencoderKL(**cfg.resolved_component('vae')).save_pretrained(tmp_path / 'vae')
    model = make_model({'unet_weights': str(tmp_path / 'unet'),
                        'vae_weights': str(tmp_path / 'vae')})
    _perturb(model)
    model.save_pretrained(tmp_path / 'ckpt')
    from safetensors.torch import load_file
    stored = load_file(str(tmp_path / 'ckpt' / 'model.safetensors'))
    assert not any(k.startswith('backbone.vae.') for k in stored)
    unet_keys = [k for k in stored if k.startswith('backbone.unet.')]
    assert unet_keys and all('lora_' in k for k in unet_keys)
    meta = json.loads((tmp_path / 'ckpt' / 'meta.json').read_text())
    assert 'backbone.unet.' in meta['base_prefixes_not_stored']
    loaded = DPMesh.from_pretrained(tmp_path / 'ckpt')
    a, b = model.state_dict(), loaded.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    full = tmp_path / 'full'
    model.save_pretrained(full, full=True)
    assert any(k.startswith('backbone.vae.') for k in load_file(str(full / 'model.safetensors')))


def test_incomplete_checkpoint_names_the_file(tmp_path):
    model = make_model()
    model.save_pretrained(tmp_path / 'ckpt')
    (tmp_path / 'ckpt' / 'model.safetensors').unlink()
    with pytest.raises(MissingModelFile, match='model.safetensors'):
        DPMesh.from_pretrained(tmp_path / 'ckpt')


def test_mismatched_config_is_detected(tmp_path):
    model = make_model()
    model.save_pretrained(tmp_path / 'ckpt')
    with pytest.raises((ValueError, RuntimeError)):
        DPMesh.from_pretrained(tmp_path / 'ckpt', overrides={'fused_channels': 32})
