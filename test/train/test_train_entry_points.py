"""The training entry points end to end on tiny data: VQ-VAE, DPMesh teacher, NKR student."""
import csv

import numpy as np
import pytest
import torch
import yaml

from hmr_models.train import train_dpmesh, train_vqvae


@pytest.fixture(scope='module')
def body_file(tmp_path_factory):
    from fixtures.bodies import make_test_body_file
    return make_test_body_file(tmp_path_factory.mktemp('body') / 'body.npz')


@pytest.fixture(scope='module')
def shard(tmp_path_factory, body_file):
    from hmr_models.body import load_body_model
    from fixtures.datasets import write_test_shard
    return write_test_shard(tmp_path_factory.mktemp('data') / 'shard.npz',
                            load_body_model(body_file), n=6, crop_size=64)


def test_mirror_pose():
    from hmr_models.skeleton import mirror_pose
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.4, (5, 72)).astype(np.float32)
    twice = mirror_pose(mirror_pose(poses))
    np.testing.assert_allclose(twice, poses)
    m = mirror_pose(poses).reshape(5, 24, 3)
    assert m.dtype == np.float32
    p = poses.reshape(5, 24, 3)
    np.testing.assert_allclose(m[:, 18], p[:, 19] * [1, -1, -1])   # left elbow <- right elbow


def test_train_vqvae_cli(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / 'poses.npz', pose=rng.normal(0, 0.3, (400, 72)).astype(np.float32))
    cfg = {'profile': 'tiny', 'data': {'npz': [str(tmp_path / 'poses.npz')], 'mirror': True,
                                       'val_fraction': 0.1},
           'train': {'epochs': 2, 'batch_size': 64, 'lr': 3e-3, 'lr_final': 1e-3,
                     'final_epochs': 1, 'progress': False}}
    path = tmp_path / 'vq.yaml'
    path.write_text(yaml.safe_dump(cfg))
    assert train_vqvae.main(['--config', str(path), '--out-dir', str(tmp_path / 'out'),
                             '--set', 'train.epochs=3']) == 0
    with open(tmp_path / 'out' / 'epochs.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert float(rows[-1]['train_recon']) < float(rows[0]['train_recon'])
    assert {'val_recon', 'val_angle_deg', 'train_perplexity'} <= set(rows[0])
    # the result is what pose_head.prior_weights points at
    from hmr_models.dpmesh import DPMesh, load_config
    model = DPMesh(load_config('tiny', {'pose_head': {'prior_weights': str(tmp_path / 'out' /
                                                                           'final')}}))
    from safetensors.torch import load_file
    saved = load_file(str(tmp_path / 'out' / 'final' / 'model.safetensors'))
    assert torch.equal(model.pose_prior.codebook, saved['codebook'])
    assert bool(model.pose_prior.initialised)


def test_vqvae_needs_data(tmp_path):
    with pytest.raises(ValueError, match='no pose data'):
        train_vqvae.run({'profile': 'tiny', 'train': {'epochs': 1}}, tmp_path)


@pytest.mark.slow
def test_teacher_then_student(tmp_path, shard, body_file):
    base = {'model': 'tiny', 'body_model_path': str(body_file),
            'data': {'train': [{'type': 'synthetic', 'paths': [str(shard)]}],
                     'val': [{'type': 'synthetic', 'paths': [str(shard)],
                              'input_keypoints': 'detected'}]},
            'train': {'epochs': 1, 'batch_size': 3, 'lr': 1e-4, 'progress': False}}
    path = tmp_path / 'teacher.yaml'
    path.write_text(yaml.safe_dump(base))
    assert train_dpmesh.main(['--config', str(path), '--stage', 'teacher',
                              '--out-dir', str(tmp_path / 'teacher')]) == 0
    teacher = tmp_path / 'teacher' / 'final'
    assert (teacher / 'config.json').is_file() and (teacher / 'model.safetensors').is_file()
    with open(tmp_path / 'teacher' / 'epochs.csv') as f:
        row = list(csv.DictReader(f))[0]
    assert float(row['val_mpjpe_mm']) > 0 and float(row['val_pa_mpjpe_mm']) > 0
    student = dict(base, teacher=str(teacher), noise={'p_missing': 0.2, 'p_swap': 0.3})
    module, history, final = train_dpmesh.run(student, 'student', tmp_path / 'student')
    assert module.teacher is not None and module.nkr is not None
    with open(tmp_path / 'student' / 'train_log.csv') as f:
        log = list(csv.DictReader(f))
    assert {'nkr_mse', 'nkr_nce'} <= set(log[0])
    from hmr_models.dpmesh import DPMesh
    assert DPMesh.from_pretrained(final).config.profile == 'tiny'
    assert (tmp_path / 'student' / 'checkpoints' / 'epoch_000' /
            'nkr_head.safetensors').is_file()
    # the lifted model: image teacher's backbone + a pretrained, frozen lifter; heads learn
    from hmr_models.dpmesh.parts.keypoint_lifter import KeypointLifter, KeypointLifterConfig
    from hmr_models.train.train_lifter import save_lifter
    lifter = KeypointLifter(17, KeypointLifterConfig(hidden=32, blocks=1))
    save_lifter(lifter, tmp_path / 'lifter')
    lifted = dict(student, init_partial=str(teacher), freeze_lifter=True, model={
        'base': 'tiny', 'pose_head': {'type': 'lifted'}, 'keypoint_lifter': {
            'enabled': True, 'hidden': 32, 'blocks': 1, 'weights': str(tmp_path / 'lifter')}})
    module, _, final = train_dpmesh.run(lifted, 'student', tmp_path / 'lifted')
    trained = DPMesh.from_pretrained(final)
    for a, b in zip(trained.keypoint_lifter.parameters(), lifter.parameters()):
        assert torch.equal(a, b)
    assert any(float(p.detach().abs().max()) > 0 for p in trained.heads.parameters())


def test_dpmesh_config_errors(tmp_path, shard, body_file):
    with pytest.raises(ValueError, match="needs 'teacher'"):
        train_dpmesh.run({'model': 'tiny', 'body_model_path': str(body_file)}, 'student',
                         tmp_path)
    with pytest.raises(ValueError, match='no training data'):
        train_dpmesh.run({'model': 'tiny', 'body_model_path': str(body_file)}, 'teacher',
                         tmp_path)
    with pytest.raises(ValueError, match='data source type'):
        train_dpmesh.build_dataset({'type': 'imagenet'}, 64)


def test_shipped_example_configs_are_valid():
    from hmr_models.paths import ASSETS_DIR
    from hmr_models.train.config_io import load_run_config
    from hmr_models.train.trainer import TrainConfig
    files = sorted((ASSETS_DIR / 'configs' / 'train').glob('*.yaml'))
    assert len(files) >= 3
    for f in files:
        run = load_run_config(f)
        TrainConfig.from_dict(run['train'])
        if f.name.startswith('vqvae'):
            assert train_vqvae.vqvae_config(run).num_tokens > 0
        elif f.name.startswith('diffmesh'):
            from hmr_models.diffmesh import DiffMeshConfig
            assert DiffMeshConfig.from_dict(run.get('model') or {}).num_frames == 16
            assert run['data']['corpus']
        elif f.name.startswith('lifter'):
            assert run['data']['train']['paths'] and run['w_nkr'] > 0
        else:
            cfg = train_dpmesh.model_config(run['model'])
            assert cfg.pose_head.prior_weights or cfg.keypoint_lifter.weights
            assert all(s['type'] in ('synthetic', 'pw3d', 'coco', 'npz')
                       for s in run['data']['train'])


def test_corpus_folder_resolution(tmp_path):
    (tmp_path / 'smpl_abc').mkdir()
    (tmp_path / 'smpl_abc' / 'index.json').write_text('{}')
    assert train_vqvae.corpus_folder(tmp_path) == tmp_path / 'smpl_abc'
    (tmp_path / 'smpl_def').mkdir()
    (tmp_path / 'smpl_def' / 'index.json').write_text('{}')
    with pytest.raises(ValueError, match='several corpora'):
        train_vqvae.corpus_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match='build_corpus'):
        train_vqvae.corpus_folder(tmp_path / 'none')


def test_train_lifter_teacher_then_nkr_student(tmp_path, shard, body_file):
    from safetensors.torch import load_file
    from hmr_models.dpmesh import DPMesh, load_config
    from hmr_models.train import train_lifter
    cfg = {'lifter': {'hidden': 64, 'blocks': 1}, 'body_model_path': str(body_file),
           'w_nkr': 0.5, 'loss': {'w_3d': 5.0},
           'data': {'train': {'paths': [str(shard)]}, 'val': {'paths': [str(shard)]}},
           'train': {'epochs': 3, 'batch_size': 3, 'lr': 3e-3, 'lr_final': 1e-3,
                     'final_epochs': 1, 'progress': False}}
    path = tmp_path / 'lifter.yaml'
    path.write_text(yaml.safe_dump(cfg))
    teacher = tmp_path / 'teacher'
    assert train_lifter.main(['--config', str(path), '--stage', 'teacher',
                              '--out-dir', str(teacher)]) == 0
    with open(teacher / 'epochs.csv') as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]['train_loss']) < float(rows[0]['train_loss'])
    assert {'val_mpjpe_mm', 'val_pa_mpjpe_mm'} <= set(rows[0])
    student = tmp_path / 'student'
    assert train_lifter.main(['--config', str(path), '--stage', 'student', '--out-dir',
                              str(student), '--set', f'teacher={teacher / "final"}']) == 0
    with open(student / 'epochs.csv') as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]['train_nkr_mse']) > 0
    # DPMesh's keypoint_lifter.weights loads the result
    model = DPMesh(load_config('tiny', {'pose_head': {'type': 'lifted'}, 'keypoint_lifter': {
        'enabled': True, 'hidden': 64, 'blocks': 1, 'weights': str(student / 'final')}}))
    saved = load_file(str(student / 'final' / 'model.safetensors'))
    assert torch.equal(model.keypoint_lifter.out.weight, saved['out.weight'])
    assert not torch.equal(saved['out.weight'], load_file(
        str(teacher / 'final' / 'model.safetensors'))['out.weight'])


def test_train_lifter_init_and_nce(tmp_path, shard, body_file):
    """`init` starts a stage from a saved lifter; `w_nkr_nce` adds DPMesh's SimCLR term."""
    from safetensors.torch import load_file
    from hmr_models.dpmesh.parts.keypoint_lifter import KeypointLifter, KeypointLifterConfig
    from hmr_models.train import train_lifter
    start = train_lifter.save_lifter(
        KeypointLifter(17, KeypointLifterConfig(hidden=48, blocks=1, scores=True)),
        tmp_path / 'start')
    base = {'body_model_path': str(body_file), 'data': {'train': {'paths': [str(shard)]}},
            'train': {'epochs': 1, 'batch_size': 3, 'lr': 1e-3, 'final_epochs': 0,
                      'progress': False}}
    # the teacher stage fine-tunes the given lifter (its size and settings, not `lifter`)
    teacher, _, teacher_final = train_lifter.run(
        dict(base, init=str(start), lifter={'hidden': 64}), 'teacher', tmp_path / 't')
    assert teacher.lifter.config.hidden == 48 and teacher.lifter.config.scores
    # the student starts from `init` (here the untrained lifter), not the teacher: at a
    # vanishing learning rate it ends where it started
    _, _, final = train_lifter.run(
        dict(base, teacher=str(teacher_final), init=str(start), w_nkr=0.0, w_nkr_nce=1.0,
             train=dict(base['train'], lr=1e-12)), 'student', tmp_path / 's')
    ended, began = (load_file(str(d / 'model.safetensors')) for d in (final, start))
    assert all(torch.allclose(ended[k], began[k], atol=1e-6) for k in began)
    assert not torch.allclose(ended['out.weight'], load_file(
        str(teacher_final / 'model.safetensors'))['out.weight'], atol=1e-6)
    with open(tmp_path / 's' / 'epochs.csv') as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]['train_nkr_nce']) > 0 and 'train_nkr_mse' in rows[0]
