"""The shared trainer: learning, schedule, logs, checkpoints, resume, DDP (gloo, 2 processes)."""
import csv
import os
import socket

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from hmr_models.train.trainer import TrainConfig, Trainer, seed_everything


class Line(Dataset):
    """y = w.x + b + noise, as dict samples (like the real datasets)."""

    def __init__(self, n=64, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -0.5, 0.25, 0.5]) - 0.2 + 0.01 * torch.randn(
            n, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {'x': self.x[i], 'y': self.y[i]}


def mse(model, batch):
    err = model(batch['x']).squeeze(-1) - batch['y']
    loss = err.pow(2).mean()
    return loss, {'mae': err.abs().mean().detach()}


def _trainer(tmp_path, epochs=3, val=True, final_epochs=1, **kw):
    seed_everything(0)
    cfg = TrainConfig(out_dir=str(tmp_path), epochs=epochs, batch_size=8, lr=0.1,
                      lr_final=0.02, final_epochs=final_epochs, weight_decay=0.0, log_every=2,
                      progress=False, **kw)
    return Trainer(nn.Linear(4, 1), mse, Line(), cfg, val_set=Line(16, seed=1) if val else None,
                   model_config={'kind': 'linear', 'in': 4})


def test_learns_and_writes_everything(tmp_path):
    trainer = _trainer(tmp_path)
    history = trainer.fit()
    assert history['train_loss'][-1] < 0.1 * history['train_loss'][0]
    assert len(history['epoch']) == 3 and len(history['val_loss']) == 3
    ck = tmp_path / 'checkpoints' / 'epoch_002'
    for name in ('model.safetensors', 'config.json', 'meta.json', 'train_state.pt'):
        assert (ck / name).is_file(), name
    assert (tmp_path / 'best' / 'model.safetensors').is_file()
    assert (tmp_path / 'loss_curve.png').stat().st_size > 1000
    with open(tmp_path / 'epochs.csv') as f:
        rows = list(csv.DictReader(f))
    assert [int(r['epoch']) for r in rows] == [1, 2, 3]
    assert {'train_loss', 'train_mae', 'val_loss', 'val_mae', 'lr'} <= set(rows[0])
    assert float(rows[-1]['lr']) == pytest.approx(0.02)        # the final-epochs rate
    with open(tmp_path / 'train_log.csv') as f:
        steps = list(csv.DictReader(f))
    assert steps and {'step', 'loss', 'mae', 'lr'} <= set(steps[0])


def test_learning_rate_schedule():
    cfg = TrainConfig(epochs=30, lr=1e-4, lr_final=1e-5, final_epochs=5, warmup_steps=10)
    assert cfg.lr_at(24, 1000) == 1e-4
    assert cfg.lr_at(25, 1000) == 1e-5
    assert cfg.lr_at(0, 0) == pytest.approx(1e-5)         # warming up
    short = TrainConfig(epochs=3, final_epochs=5)
    assert [short.lr_at(e, 100) for e in range(3)] == [short.lr, short.lr_final, short.lr_final]
    with pytest.raises(ValueError, match='final_epochs'):
        TrainConfig(epochs=3, final_epochs=-1).validate()
    with pytest.raises(ValueError, match="unknown config key.*'train'.*learning_rate"):
        TrainConfig.from_dict({'epochs': 2, 'learning_rate': 1})


def test_resume_continues_exactly(tmp_path):
    # (no final-epochs rate here: it depends on the total epoch count, which changes)
    full = _trainer(tmp_path / 'a', epochs=3, val=False, final_epochs=0)
    full.fit()
    part = _trainer(tmp_path / 'b', epochs=2, val=False, final_epochs=0)
    part.fit()
    resumed = _trainer(tmp_path / 'b', epochs=3, val=False, final_epochs=0)
    resumed.fit()
    assert resumed.step == full.step
    for (_, a), (_, b) in zip(full.module.state_dict().items(),
                              resumed.module.state_dict().items()):
        assert torch.equal(a, b)
    assert len(resumed.history['train_loss']) == 3


def test_amp_is_cpu_safe_and_bad_losses_stop_training(tmp_path):
    trainer = _trainer(tmp_path, epochs=1, val=False, amp=True)
    assert not trainer.use_amp                 # mixed precision only ever on CUDA
    cfg = TrainConfig(out_dir=str(tmp_path / 'nan'), epochs=1, batch_size=8, progress=False)
    bad = Trainer(nn.Linear(4, 1), lambda m, b: (m(b['x']).sum() * float('nan'), {}), Line(),
                  cfg)
    with pytest.raises(FloatingPointError, match='non-finite loss'):
        bad.fit()
    frozen = nn.Linear(4, 1).requires_grad_(False)
    with pytest.raises(ValueError, match='no trainable parameters'):
        Trainer(frozen, mse, Line(), cfg)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out_dir, result_dir):
    os.environ.update({'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(port),
                       'WORLD_SIZE': str(world), 'RANK': str(rank), 'LOCAL_RANK': str(rank)})
    torch.set_num_threads(1)
    seed_everything(0)
    cfg = TrainConfig(out_dir=out_dir, epochs=2, batch_size=4, lr=0.05, lr_final=0.05,
                      final_epochs=0, progress=False)
    trainer = Trainer(nn.Linear(4, 1), mse, Line(), cfg)
    trainer.fit()
    torch.save(trainer.module.state_dict(), os.path.join(result_dir, f'rank{rank}.pt'))
    torch.save(len(trainer._loader(trainer.train_set, True, 0)),
               os.path.join(result_dir, f'batches{rank}.pt'))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_processes_stay_in_sync(tmp_path):
    import torch.multiprocessing as mp
    out, res = tmp_path / 'run', tmp_path / 'res'
    res.mkdir()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(out), str(res)), nprocs=2, join=True)
    a = torch.load(res / 'rank0.pt')
    b = torch.load(res / 'rank1.pt')
    assert all(torch.equal(a[k], b[k]) for k in a)      # gradients were averaged
    # each rank saw half the data (64 samples, batch 4 -> 8 batches per rank)
    assert torch.load(res / 'batches0.pt') == 8
    assert (out / 'checkpoints' / 'epoch_001' / 'model.safetensors').is_file()
