"""hmr_models.checkpoints: one folder format, and the folders written before it still load."""
import json

import pytest
import torch
import yaml

from hmr_models.checkpoints import (read_config, read_meta, read_weights, save_checkpoint,
                                    weights_file)
from hmr_models.diffmesh import DiffMesh, DiffMeshConfig
from hmr_models.paths import MissingModelFile


def test_round_trip_and_provenance(tmp_path):
    state = {'a': torch.arange(6.0).reshape(2, 3), 'b': torch.tensor([1, 2])}
    d = save_checkpoint(tmp_path / 'ck', {'width': 3, 'span': [0, 1]}, state, 'toy',
                        trained_on='nothing')
    names = sorted(p.name for p in d.iterdir())
    assert names == ['config.json', 'meta.json', 'model.safetensors']
    assert read_config(d) == {'width': 3, 'span': [0, 1]}
    back = read_weights(d)
    assert all(torch.equal(back[k], state[k]) for k in state)
    assert read_meta(d) == {'format': 'hmr_models.toy', 'version': 2, 'tensors': 2,
                            'trained_on': 'nothing'}
    with pytest.raises(MissingModelFile, match="parameter 'temporal_weights'"):
        read_weights(tmp_path / 'nowhere', 'DiffMesh checkpoint', 'temporal_weights')


def test_diffmesh_folders_of_the_old_format_still_load(tmp_path):
    cfg = DiffMeshConfig(num_frames=8, num_steps=8, width=32, heads=4, depth=1, cond_width=32,
                         head_hidden=32, num_tokens=4, mix_dim=8)
    torch.manual_seed(0)
    model = DiffMesh(cfg)
    old = tmp_path / 'old'
    old.mkdir()                           # before 2026-12: wrapped config + torch state dict
    (old / 'config.json').write_text(json.dumps({'config': cfg.to_dict(), 'run_config': {}}))
    torch.save(model.state_dict(), old / 'diffmesh.pt')
    assert weights_file(old).name == 'diffmesh.pt'
    loaded = DiffMesh.from_pretrained(old)
    assert loaded.config == cfg
    new = loaded.save_pretrained(tmp_path / 'new')
    again = DiffMesh.from_pretrained(new)
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k


def test_old_yaml_configs_still_load(tmp_path):
    (tmp_path / 'config.yaml').write_text(yaml.safe_dump({'profile': 'tiny', 'lora_rank': 4}))
    assert read_config(tmp_path) == {'profile': 'tiny', 'lora_rank': 4}
