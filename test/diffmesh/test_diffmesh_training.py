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
    # A checkpoint folder loads directly too (config.json + model.safetensors, train_state).
    ckpt = sorted((tmp_path / 'run' / 'checkpoints').glob('epoch_*'))[-1]
    assert DiffMesh.from_pretrained(ckpt).config == loaded.config


def test_fine_tune_starts_from_init(tmp_path, monkeypatch):
    """`init` loads the given weights before training (a fine-tune of the shipped model)."""
    _, _, final = train_diffmesh.run(TINY, tmp_path / 'first')
    seen = {}
    fit = train_diffmesh.Trainer.fit

    def spy(trainer):
        seen['start'] = {k: v.clone() for k, v in trainer.module.state_dict().items()}
        return fit(trainer)
    monkeypatch.setattr(train_diffmesh.Trainer, 'fit', spy)
    train_diffmesh.run(dict(TINY, init=str(final)), tmp_path / 'tuned')
    start = DiffMesh.from_pretrained(final).state_dict()
    for k, v in seen['start'].items():
        np.testing.assert_array_equal(v.numpy(), start[k].numpy())
    with pytest.raises(Exception):
        train_diffmesh.run(dict(TINY, init=str(tmp_path / 'nothing')), tmp_path / 'bad')


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match='data.errors'):
        train_diffmesh.run(dict(TINY, data=dict(TINY['data'], errors={'jitter': 1})),
                           tmp_path / 'x')
    with pytest.raises(ValueError, match='no motion data'):
        train_diffmesh.run(dict(TINY, data={}), tmp_path / 'y')
    with pytest.raises(ValueError, match="unknown config key.*'model'.*widht"):
        train_diffmesh.run(dict(TINY, model={'widht': 3}), tmp_path / 'z')


def test_main_cli(tmp_path):
    import yaml
    cfg = tmp_path / 'c.yaml'
    cfg.write_text(yaml.safe_dump(TINY))
    assert train_diffmesh.main(['--config', str(cfg), '--out-dir', str(tmp_path / 'cli'),
                                '--set', 'train.epochs=1']) == 0
    assert (tmp_path / 'cli' / 'final' / 'model.safetensors').is_file()


def _tracks_file(path, n=6, t=24, seed=0):
    """A tracks file (hmr_models.data.synth.estimates) of noisy estimates of slow motions."""
    from hmr_models.data.synth.estimates import write_tracks
    rng = np.random.default_rng(seed)
    phase = np.linspace(0, 2, t)[None, :, None]
    gt_pose = (0.3 * np.sin(phase + rng.uniform(0, 6, (n, 1, 72)))).astype(np.float32)
    gt_transl = np.concatenate([rng.normal(0, 0.3, (n, t, 2)), np.full((n, t, 1), 4.0)], -1)
    centre = np.array([320.0, 240.0])
    box = np.concatenate([centre - 60, centre + 60]).astype(np.float32)
    part = {'gt_pose': gt_pose, 'gt_transl': gt_transl.astype(np.float32),
            'gt_betas': rng.normal(0, 1, (n, 10)).astype(np.float32),
            'est_pose': gt_pose + rng.normal(0, 0.1, gt_pose.shape).astype(np.float32),
            'est_betas': rng.normal(0, 1, (n, t, 10)).astype(np.float32),
            'est_transl': gt_transl.astype(np.float32) + 0.05,
            'keypoints': (centre + rng.normal(0, 40, (n, t, 17, 2))).astype(np.float32),
            'keypoint_scores': rng.uniform(0, 1, (n, t, 17)).astype(np.float32),
            'boxes': np.broadcast_to(box, (n, t, 4)).copy(),
            'observed': rng.random((n, t)) < 0.8,
            'joint_codes': np.zeros((n, t, 24), np.uint8),
            'fps': np.full(n, 30.0, np.float32)}
    write_tracks(path, [part])
    return path


def test_train_on_real_estimates(tmp_path):
    """data.estimates mixes windows of estimate tracks into the batches; val_estimates
    validates on them; the share is checked."""
    tracks = str(_tracks_file(tmp_path / 'tracks_0000.npz'))
    data = dict(TINY['data'], estimates=[tracks], estimates_share=0.5, val_estimates=tracks)
    _, history, final = train_diffmesh.run(dict(TINY, data=data), tmp_path / 'mixed')
    assert all(np.isfinite(history['val_loss'])) and (final / 'model.safetensors').is_file()
    only = dict(TINY, data=dict(data, estimates_share=1.0), train=dict(TINY['train'], epochs=1))
    _, history, _ = train_diffmesh.run(only, tmp_path / 'only')
    assert np.isfinite(history['val_loss']).all()
    with pytest.raises(ValueError, match='estimates_share'):
        train_diffmesh.run(dict(TINY, data=dict(data, estimates_share=0.0)), tmp_path / 'bad')
