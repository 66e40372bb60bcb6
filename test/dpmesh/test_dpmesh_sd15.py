"""Offline loading of SD UNet / VAE / ControlNet weights: diffusers folders and single files.

Tiny random models stand in for SD1.5; they are saved in the same layouts real weights come in
(diffusers folders, a full CompVis checkpoint, a ControlNet .pth) and loaded with network
access blocked.
"""
import os
import socket

import pytest
import torch

from dpmesh_helpers import make_model
from hmr_models.dpmesh import DPMesh, load_config
from hmr_models.dpmesh.weights.ldm_keys import LDM_PREFIX, controlnet_pairs, convert_state_dict, \
    unet_pairs, vae_pairs
from hmr_models.paths import MissingModelFile


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError('network access attempted while loading weights')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')


@pytest.fixture(scope='module')
def components():
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    cfg = load_config('tiny')
    torch.manual_seed(7)
    return {'unet': UNet2DConditionModel(**cfg.resolved_component('unet')),
            'vae': AutoencoderKL(**cfg.resolved_component('vae')),
            'controlnet': ControlNetModel(**cfg.resolved_component('controlnet'))}


def _ldm(model, name):
    cfg = {k: v for k, v in dict(model.config).items() if not k.startswith('_')}
    pairs = {'unet': unet_pairs, 'vae': vae_pairs, 'controlnet': controlnet_pairs}[name](cfg)
    state, unmapped = convert_state_dict(model.state_dict(), pairs, to='ldm')
    assert not unmapped
    return {LDM_PREFIX[name] + k: v.contiguous() for k, v in state.items()}


def _check_loaded(model, components):
    bb = model.backbone
    ref = components['unet'].state_dict()
    got = bb.unet.state_dict()
    for k, v in ref.items():
        if k.startswith(('conv_out.', 'conv_norm_out.')):
            assert k not in got      # the noise-prediction head is not part of DPMesh
            continue
        key = k if k in got else k.replace('.weight', '.base_layer.weight').replace(
            '.bias', '.base_layer.bias')
        assert torch.equal(got[key], v), k
    vae = components['vae']
    for k, v in vae.encoder.state_dict().items():
        assert torch.equal(bb.vae.encoder.state_dict()[k], v), k
    assert torch.equal(bb.vae.quant_conv.weight, vae.quant_conv.weight)
    cn_ref = components['controlnet'].state_dict()
    cn = bb.controlnet.state_dict()
    for k, v in cn_ref.items():
        if k.startswith('controlnet_cond_embedding.'):
            assert k not in cn       # concat mode: no image-hint embedder
        elif k == 'conv_in.weight':
            assert torch.equal(cn[k][:, :4], v) and torch.count_nonzero(cn[k][:, 4:]) == 0
        else:
            assert torch.equal(cn[k], v), k


def test_diffusers_folders(tmp_path, components):
    for name, m in components.items():
        m.save_pretrained(tmp_path / 'pipe' / name)
    model = make_model({'unet_weights': str(tmp_path / 'pipe' / 'unet'),
                        'vae_weights': str(tmp_path / 'pipe'),            # pipeline root
                        'controlnet_weights': str(tmp_path / 'pipe' / 'controlnet')})
    _check_loaded(model, components)


def test_single_files_in_compvis_layout(tmp_path, components):
    from safetensors.torch import save_file
    sd = {**_ldm(components['unet'], 'unet'), **_ldm(components['vae'], 'vae')}
    sd['cond_stage_model.transformer.text_model.final_layer_norm.weight'] = torch.ones(8)
    save_file(sd, str(tmp_path / 'sd15-tiny.safetensors'))
    torch.save({'state_dict': _ldm(components['controlnet'], 'controlnet')},
               tmp_path / 'control_tiny_openpose.pth')
    model = make_model({'unet_weights': str(tmp_path / 'sd15-tiny.safetensors'),
                        'vae_weights': str(tmp_path / 'sd15-tiny.safetensors'),
                        'controlnet_weights': str(tmp_path / 'control_tiny_openpose.pth')})
    _check_loaded(model, components)


def test_single_file_in_diffusers_layout(tmp_path, components):
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in components['unet'].state_dict().items()},
              str(tmp_path / 'unet.safetensors'))
    model = make_model({'unet_weights': str(tmp_path / 'unet.safetensors')})
    ref = components['unet'].state_dict()
    got = model.backbone.unet.state_dict()
    assert torch.equal(got['conv_in.weight'], ref['conv_in.weight'])


def test_controlnet_defaults_to_a_copy_of_the_unet_encoder(tmp_path, components):
    components['unet'].save_pretrained(tmp_path / 'unet')
    model = make_model({'unet_weights': str(tmp_path / 'unet')})
    cn = model.backbone.controlnet.state_dict()
    ref = components['unet'].state_dict()
    key = 'down_blocks.0.resnets.0.conv1.weight'
    assert torch.equal(cn[key], ref[key])
    assert torch.equal(cn['conv_in.weight'][:, :4], ref['conv_in.weight'])


def test_missing_weights_name_the_parameter(tmp_path):
    with pytest.raises(MissingModelFile, match="unet_weights"):
        make_model({'unet_weights': str(tmp_path / 'nope.safetensors')})
    (tmp_path / 'empty').mkdir()
    with pytest.raises(MissingModelFile, match='not a diffusers model folder'):
        make_model({'vae_weights': str(tmp_path / 'empty')})


def test_architecture_mismatch_is_reported(tmp_path):
    from diffusers import UNet2DConditionModel
    cfg = load_config('tiny').resolved_component('unet')
    cfg['block_out_channels'] = [8, 8, 16, 16]
    cfg['norm_num_groups'] = 4
    UNet2DConditionModel(**cfg).save_pretrained(tmp_path / 'unet')
    with pytest.raises(ValueError, match='block_out_channels'):
        make_model({'unet_weights': str(tmp_path / 'unet')})


def test_unknown_file_type_is_refused(tmp_path):
    bad = tmp_path / 'weights.txt'
    bad.write_text('x')
    with pytest.raises(ValueError, match='unknown weights format'):
        make_model({'unet_weights': str(bad)})


def test_hub_is_never_contacted_without_weights():
    assert os.environ['HF_HUB_OFFLINE'] == '1'
    assert isinstance(make_model(), DPMesh)
