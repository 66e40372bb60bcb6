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
    # Deferred: nothing of the backbone until it is used, then the same model.
    deferred = DPMesh.from_pretrained(tmp_path / 'ckpt', defer_backbone=True).eval()
    assert not deferred.backbone_built
    assert not any(k.startswith('backbone.') for k in deferred.state_dict())
    with torch.no_grad():
        c = deferred(images, kp, valid)
    assert deferred.backbone_built and not deferred.training
    c_state = deferred.state_dict()
    assert c_state.keys() == a_state.keys()
    assert all(torch.equal(a_state[k], c_state[k]) for k in a_state)
    for name in ('pose', 'betas', 'camera', 'joint_coords', 'features'):
        assert torch.equal(getattr(a, name), getattr(c, name)), name
    from safetensors.torch import load_file
    DPMesh.from_pretrained(tmp_path / 'ckpt', defer_backbone=True).save_pretrained(
        tmp_path / 'again')             # a backbone not built yet is saved all the same
    assert load_file(str(tmp_path / 'again' / 'model.safetensors')).keys() == a_state.keys()


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
    deferred = DPMesh.from_pretrained(tmp_path / 'ckpt', defer_backbone=True)
    deferred.ensure_backbone()      # base weights from their paths, LoRA from the checkpoint
    c = deferred.state_dict()
    assert c.keys() == a.keys() and all(torch.equal(a[k], c[k]) for k in a)
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
    # A deferred backbone is checked when it is built.
    deferred = DPMesh.from_pretrained(tmp_path / 'ckpt', defer_backbone=True,
                                      overrides={'lora_rank': 8})
    with pytest.raises((ValueError, RuntimeError)):
        deferred.ensure_backbone()
