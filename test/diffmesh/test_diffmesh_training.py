"""The training entry point: a two-epoch run on synthetic motion, resume, and loading."""
import numpy as np
import pytest

from hmr_models.diffmesh import DiffMesh
from hmr_models.train import train_diffmesh

TINY = {'model': dict(num_frames=8, num_steps=10, num_tokens=2, width=32, heads=2, depth=1,
                      cond_width=32, cond_depth=1, head_hidden=64),
        'data': dict(synthetic=8, windows_per_item=4, train_items=4, val_items=2),
        'train': dict(epochs=2, batch_size=2, warmup_steps=0, final_epochs=1, progress=False,
                      threads=1, log_every=1)}


def test_train_resume_and_load(tmp_path):
    model, history, final = train_diffmesh.run(TINY, tmp_path / 'run')
    assert len(history['epoch']) == 2 and all(np.isfinite(history['val_loss']))
    loaded = DiffMesh.from_pretrained(final)
    assert loaded.config.num_frames == 8
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k].numpy(), v.numpy())
    log = (tmp_path / 'run' / 'epochs.csv').read_text()
    assert 'val_mpjpe_mm' in log and 'val_acc_err_input' in log
    # Resume: asking for a third epoch trains only that one.
    more = dict(TINY, train=dict(TINY['train'], epochs=3))
    _, history, _ = train_diffmesh.run(more, tmp_path / 'run')
    assert history['epoch'] == [1, 2, 3]
    # A checkpoint folder loads directly too (config.json + diffmesh.pt next to train_state).
    ckpt = sorted((tmp_path / 'run' / 'checkpoints').glob('epoch_*'))[-1]
    assert DiffMesh.from_pretrained(ckpt).config == loaded.config


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match='data.errors'):
        train_diffmesh.run(dict(TINY, data=dict(TINY['data'], errors={'jitter': 1})),
                           tmp_path / 'x')
    with pytest.raises(ValueError, match='no motion data'):
        train_diffmesh.run(dict(TINY, data={}), tmp_path / 'y')
    with pytest.raises(ValueError, match='unknown DiffMeshConfig keys'):
        train_diffmesh.run(dict(TINY, model={'widht': 3}), tmp_path / 'z')


def test_main_cli(tmp_path):
    import yaml
    cfg = tmp_path / 'c.yaml'
    cfg.write_text(yaml.safe_dump(TINY))
    assert train_diffmesh.main(['--config', str(cfg), '--out-dir', str(tmp_path / 'cli'),
                                '--set', 'train.epochs=1']) == 0
    assert (tmp_path / 'cli' / 'final' / 'diffmesh.pt').is_file()
