"""A small shared trainer: seeded, DDP under torchrun, AMP on GPU, resumable, logged.

Used by every training entry point (VQ-VAE, DPMesh teacher/student, DiffMesh):

    trainer = Trainer(model, loss_fn, train_set, TrainConfig(out_dir='runs/x', epochs=30),
                      val_set=val_set, save_fn=lambda m, d: m.save_pretrained(d))
    history = trainer.fit()

`loss_fn(model, batch) -> (loss, {name: scalar})` gets the (possibly DDP-wrapped) model and a
collated batch already moved to the device. `save_fn(module, folder)` / `load_fn(module,
folder)` write and restore the model part of a checkpoint (default: the whole state dict in
model.safetensors). Launch on several GPUs with
`torchrun --nproc_per_node N -m hmr_models.train.<entry> ...`: the trainer reads WORLD_SIZE /
RANK / LOCAL_RANK, shards the data with a DistributedSampler and averages gradients with DDP.

Output folder:
    checkpoints/epoch_XXX/   model files (save_fn) + train_state.pt (optimizer, scaler, RNG)
    best/                    the epoch with the lowest validation loss (if a val set is given)
    train_log.csv            one row every `log_every` steps; epochs.csv one row per epoch
    loss_curve.png           training (and validation) loss so far
    tensorboard/             when the tensorboard package is installed
Resume: rerunning with the same out_dir continues from the newest complete checkpoint.
"""
from dataclasses import asdict, dataclass, field
import csv
import logging
import math
import os
from pathlib import Path
import random
import shutil
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from hmr_models.config import Config

log = logging.getLogger(__name__)

TRAIN_STATE = 'train_state.pt'


@dataclass
class TrainConfig(Config):
    """Training schedule and plumbing (model-independent; same names in every entry point)."""

    out_dir: str = 'runs/train'
    epochs: int = 30
    batch_size: int = field(default=16, metadata={'help': 'per process'})
    lr: float = 1e-4
    lr_final: float = 1e-5
    final_epochs: int = field(default=5, metadata={
        'help': 'the last N epochs run at lr_final (paper: 1e-5 for the last 5), never the first '
                'epoch'})
    warmup_steps: int = 0
    weight_decay: float = 1e-6
    grad_clip: float = field(default=0.0, metadata={'help': 'max gradient norm; 0 = off'})
    amp: bool = field(default=True, metadata={'help': 'mixed precision, only ever on CUDA'})
    amp_dtype: str = field(default='float16', metadata={
        'help': "'float16' (with a GradScaler) or 'bfloat16'"})
    seed: int = 0
    device: str = field(default='auto', metadata={
        'help': "'auto', 'cpu', 'cuda', 'cuda:N' (DDP: LOCAL_RANK wins)"})
    threads: int = field(default=0, metadata={'help': 'CPU threads (0 = torch default)'})
    num_workers: int = 0
    max_steps_per_epoch: int = field(default=0, metadata={
        'help': '0 = the whole dataset each epoch'})
    log_every: int = 10
    save_every: int = field(default=1, metadata={
        'help': 'epochs between checkpoints (the last epoch always)'})
    keep_checkpoints: int = field(default=3, metadata={
        'help': 'newest epoch checkpoints kept (0 = all)'})
    resume: bool = True
    find_unused_parameters: bool = False
    broadcast_buffers: bool = field(default=True, metadata={
        'help': "DDP: re-send rank 0's buffers every step (BatchNorm)"})
    progress: bool = True

    @classmethod
    def from_dict(cls, data, where='train'):
        return super().from_dict(data, where)

    def validate(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError('train.epochs and train.batch_size must be >= 1')
        if self.lr <= 0 or self.lr_final <= 0:
            raise ValueError('train.lr and train.lr_final must be > 0')
        if self.final_epochs < 0:
            raise ValueError('train.final_epochs must be >= 0')
        if self.amp_dtype not in ('float16', 'bfloat16'):
            raise ValueError("train.amp_dtype must be 'float16' or 'bfloat16'")

    def lr_at(self, epoch, step):
        """Learning rate for a 0-based epoch and global step."""
        final = min(self.final_epochs, self.epochs - 1)
        lr = self.lr_final if epoch >= self.epochs - final else self.lr
        if self.warmup_steps and step < self.warmup_steps:
            lr *= (step + 1) / self.warmup_steps
        return lr


def seed_everything(seed):
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def _worker_init(worker_id):
    base = torch.initial_seed() % (2 ** 32)
    np.random.seed((base + worker_id) % (2 ** 32))
    random.seed(base + worker_id)


def distributed_env():
    """(world_size, rank, local_rank) from torchrun's environment variables."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    return world, int(os.environ.get('RANK', '0')), int(os.environ.get('LOCAL_RANK', '0'))


def move_to(batch, device):
    """Recursively move tensors in dicts/lists/tuples to `device`."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def default_save(model, directory, model_config=None, kind='model'):
    """A checkpoint folder (hmr_models.checkpoints) of `model` and its config dict."""
    from hmr_models.checkpoints import save_checkpoint
    save_checkpoint(directory, model_config or {}, model.state_dict(), kind)


def load_weights_into(model, directory):
    """Load `model.safetensors` of a checkpoint folder (keys it stores) into `model`."""
    from hmr_models.checkpoints import read_weights
    state = read_weights(directory)
    _, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f'{directory}: checkpoint has keys the model lacks: {unexpected[:8]}')


def unwrap(model):
    """The module inside a DistributedDataParallel wrapper, or `model` itself."""
    from torch.nn.parallel import DistributedDataParallel
    return model.module if isinstance(model, DistributedDataParallel) else model


class Trainer:
    """See the module docstring."""

    def __init__(self, model, loss_fn, train_set, config, val_set=None, collate_fn=None,
                 save_fn=None, load_fn=None, val_fn=None, param_groups=None, model_config=None):
        config.validate()
        self.cfg = config
        self.loss_fn = loss_fn
        self.val_fn = val_fn or self._default_val
        self.train_set, self.val_set = train_set, val_set
        self.collate_fn = collate_fn
        self.model_config = model_config
        self.save_fn = save_fn
        self.load_fn = load_fn or load_weights_into
        self.world, self.rank, self.local_rank = distributed_env()
        self.is_main = self.rank == 0
        self._init_distributed()
        self.device = self._pick_device()
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.module = model.to(self.device)
        self.model = self.module
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.device.type == 'cuda' else None
            self.model = DDP(self.module, device_ids=ids,
                             find_unused_parameters=config.find_unused_parameters,
                             broadcast_buffers=config.broadcast_buffers)
        groups = param_groups if param_groups is not None else [
            {'params': [p for p in self.module.parameters() if p.requires_grad]}]
        n_train = sum(p.numel() for g in groups for p in g['params'])
        if n_train == 0:
            raise ValueError('the model has no trainable parameters')
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.use_amp = bool(config.amp) and self.device.type == 'cuda'
        self.amp_dtype = getattr(torch, config.amp_dtype)
        self.scaler = torch.amp.GradScaler('cuda', enabled=self.use_amp and
                                           self.amp_dtype == torch.float16)
        self.out_dir = Path(config.out_dir)
        self.epoch, self.step = 0, 0
        self.best = math.inf
        self.history = {'step': [], 'loss': [], 'epoch': [], 'train_loss': [], 'val_loss': []}
        self._tb = None
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            log.info('trainer: %d trainable parameters, device %s, world %d, amp %s',
                     n_train, self.device, self.world, self.use_amp)

    def _default_val(self, model, batch):
        loss, parts = self.loss_fn(model, batch)
        out = {k: float(v) for k, v in parts.items()}
        out['loss'] = float(loss)
        return out

    # ------------------------------------------------------------------ setup
    def _init_distributed(self):
        if self.world > 1 and not dist.is_initialized():
            backend = 'nccl' if torch.cuda.is_available() else 'gloo'
            dist.init_process_group(backend=backend)

    def _pick_device(self):
        dev = self.cfg.device
        if self.world > 1 and torch.cuda.is_available():
            return torch.device('cuda', self.local_rank)
        if dev == 'auto':
            dev = 'cuda' if torch.cuda.is_available() else 'cpu'
        if dev.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError(f"train.device '{dev}' requested but torch sees no CUDA GPU")
        device = torch.device(dev)
        if device.type == 'cuda':
            torch.cuda.set_device(device)
        return device

    def _loader(self, dataset, shuffle, epoch):
        sampler = None
        if self.world > 1:
            sampler = DistributedSampler(dataset, shuffle=shuffle, seed=self.cfg.seed,
                                         drop_last=shuffle)
            sampler.set_epoch(epoch)
        gen = torch.Generator().manual_seed(self.cfg.seed * 1000 + epoch)
        return DataLoader(dataset, batch_size=self.cfg.batch_size,
                          shuffle=shuffle and sampler is None, sampler=sampler,
                          num_workers=self.cfg.num_workers, collate_fn=self.collate_fn,
                          generator=gen, worker_init_fn=_worker_init,
                          drop_last=shuffle and len(dataset) > self.cfg.batch_size,
                          pin_memory=self.device.type == 'cuda')

    # ------------------------------------------------------------------ checkpoints
    def _checkpoints(self):
        root = self.out_dir / 'checkpoints'
        if not root.is_dir():
            return []
        return sorted(p for p in root.glob('epoch_*') if (p / TRAIN_STATE).is_file())

    def save(self, tag=None):
        """Write the model and the training state (rank 0); returns the folder."""
        d = self.out_dir / 'checkpoints' / (tag or f'epoch_{self.epoch:03d}')
        if self.is_main:
            d.mkdir(parents=True, exist_ok=True)
            if self.save_fn is not None:
                self.save_fn(self.module, d)
            else:
                default_save(self.module, d, self.model_config)
            torch.save({'epoch': self.epoch, 'step': self.step, 'best': self.best,
                        'optimizer': self.optimizer.state_dict(),
                        'scaler': self.scaler.state_dict(), 'history': self.history,
                        'config': asdict(self.cfg),
                        'rng': {'python': random.getstate(), 'numpy': np.random.get_state(),
                                'torch': torch.get_rng_state()}}, d / TRAIN_STATE)
            keep = self.cfg.keep_checkpoints
            if keep > 0 and tag is None:
                for old in self._checkpoints()[:-keep]:
                    shutil.rmtree(old, ignore_errors=True)
        if self.world > 1:
            dist.barrier()
        return d

    def maybe_resume(self):
        """Continue from the newest complete checkpoint in out_dir (if resume is on)."""
        if not self.cfg.resume:
            return False
        ckpts = self._checkpoints()
        if not ckpts:
            return False
        d = ckpts[-1]
        self.load_fn(self.module, d)
        state = torch.load(d / TRAIN_STATE, map_location='cpu', weights_only=False)
        self.optimizer.load_state_dict(state['optimizer'])
        self.scaler.load_state_dict(state['scaler'])
        self.epoch, self.step = int(state['epoch']) + 1, int(state['step'])
        self.best = float(state.get('best', math.inf))
        self.history = state.get('history', self.history)
        rng = state.get('rng')
        if rng:
            random.setstate(rng['python'])
            np.random.set_state(rng['numpy'])
            torch.set_rng_state(rng['torch'])
        if self.is_main:
            log.info('resumed from %s (next epoch %d, step %d)', d, self.epoch, self.step)
        return True

    # ------------------------------------------------------------------ loop
    def _set_lr(self):
        lr = self.cfg.lr_at(self.epoch, self.step)
        for g in self.optimizer.param_groups:
            g['lr'] = lr * g.get('lr_scale', 1.0)
        return lr

    def train_epoch(self):
        cfg = self.cfg
        self.model.train()
        loader = self._loader(self.train_set, True, self.epoch)
        total = len(loader)
        if cfg.max_steps_per_epoch > 0:
            total = min(total, cfg.max_steps_per_epoch)
        bar = None
        if self.is_main and cfg.progress:
            from tqdm import tqdm
            bar = tqdm(total=total, desc=f'epoch {self.epoch + 1}/{cfg.epochs}', leave=False)
        sums, count = {}, 0
        for i, batch in enumerate(loader):
            if i >= total:
                break
            lr = self._set_lr()
            batch = move_to(batch, self.device)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
                loss, parts = self.loss_fn(self.model, batch)
            if not torch.isfinite(loss):
                values = {k: float(v) for k, v in parts.items()}
                raise FloatingPointError(f'non-finite loss {float(loss.detach())} at step '
                                         f'{self.step} (parts: {values})')
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(
                    [p for g in self.optimizer.param_groups for p in g['params']], cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            row = {'loss': float(loss.detach())}
            row.update({k: float(v) for k, v in parts.items()})
            for k, v in row.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            if self.is_main:
                self.history['step'].append(self.step)
                self.history['loss'].append(row['loss'])
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f'{lr:.1e}')
                if self.step % cfg.log_every == 0 or i == total - 1:
                    self._log_row('train_log.csv', {'epoch': self.epoch + 1, 'step': self.step,
                                                    'lr': lr, **row})
        if bar is not None:
            bar.close()
        means = {k: v / max(count, 1) for k, v in sums.items()}
        return self._all_mean(means)

    @torch.no_grad()
    def validate(self):
        if self.val_set is None:
            return {}
        self.model.eval()
        sums, count = {}, 0
        for batch in self._loader(self.val_set, False, 0):
            batch = move_to(batch, self.device)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
                out = self.val_fn(self.model, batch)
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            count += 1
        return self._all_mean({k: v / max(count, 1) for k, v in sums.items()})

    def _all_mean(self, values):
        if self.world <= 1 or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], device=self.device, dtype=torch.float64)
        dist.all_reduce(t)
        return {k: float(v) / self.world for k, v in zip(keys, t.tolist())}

    def fit(self):
        """Train for the configured epochs (continuing a previous run when resuming)."""
        cfg = self.cfg
        self.maybe_resume()
        start = time.time()
        while self.epoch < cfg.epochs:
            t0 = time.time()
            train = self.train_epoch()
            val = self.validate()
            row = {'epoch': self.epoch + 1, 'step': self.step,
                   'lr': cfg.lr_at(self.epoch, self.step), 'seconds': time.time() - t0}
            row.update({f'train_{k}': v for k, v in train.items()})
            row.update({f'val_{k}': v for k, v in val.items()})
            if self.is_main:
                self.history['epoch'].append(self.epoch + 1)
                self.history['train_loss'].append(train.get('loss', math.nan))
                self.history['val_loss'].append(val.get('loss', math.nan))
                self._log_row('epochs.csv', row)
                self._tensorboard(row)
                self._plot()
                log.info('epoch %d/%d: train loss %.5f%s', self.epoch + 1, cfg.epochs,
                         train.get('loss', math.nan),
                         f", val loss {val['loss']:.5f}" if 'loss' in val else '')
            last = self.epoch == cfg.epochs - 1
            if last or (self.epoch + 1) % max(cfg.save_every, 1) == 0:
                d = self.save()
                if 'loss' in val and val['loss'] < self.best:
                    self.best = val['loss']
                    if self.is_main:
                        shutil.rmtree(self.out_dir / 'best', ignore_errors=True)
                        shutil.copytree(d, self.out_dir / 'best')
            self.epoch += 1
        if self.is_main:
            log.info('training done in %.1f s (%d steps)', time.time() - start, self.step)
        return self.history

    # ------------------------------------------------------------------ logging
    def _log_row(self, name, row):
        path = self.out_dir / name
        exists = path.is_file()
        header = None
        if exists:
            with open(path, newline='') as f:
                header = next(csv.reader(f), None)
        if header is None or set(row) - set(header):
            # New columns (e.g. a loss part that appears later): rewrite with the union.
            old = []
            if exists:
                with open(path, newline='') as f:
                    old = list(csv.DictReader(f))
            header = list(header or []) + [k for k in row if k not in (header or [])]
            with open(path, 'w', newline='') as f:
                w = csv.DictWriter(f, fieldnames=header)
                w.writeheader()
                w.writerows(old)
        with open(path, 'a', newline='') as f:
            csv.DictWriter(f, fieldnames=header, extrasaction='ignore').writerow(row)

    def _tensorboard(self, row):
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:      # tensorboard is optional
                self._tb = False
                return
            self._tb = SummaryWriter(str(self.out_dir / 'tensorboard'))
        if self._tb:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k not in ('epoch', 'step'):
                    self._tb.add_scalar(k, v, self.step)
            self._tb.flush()

    def _plot(self):
        try:
            import matplotlib
            matplotlib.use('Agg')
            import matplotlib.pyplot as plt
        except ImportError:         # pragma: no cover - matplotlib is a requirement
            return
        h = self.history
        fig, ax = plt.subplots(figsize=(7, 4))
        if h['loss']:
            losses = np.asarray(h['loss'])
            k = max(1, len(losses) // 50)
            smooth = np.convolve(losses, np.ones(k) / k, mode='valid')
            ax.plot(h['step'][:len(smooth)], smooth, label='train (per step, smoothed)')
        if h['epoch'] and any(np.isfinite(h['val_loss'])):
            steps = np.linspace(0, self.step, len(h['epoch']) + 1)[1:]
            ax.plot(steps, h['val_loss'], 'o-', label='validation (per epoch)')
        ax.set_xlabel('step')
        ax.set_ylabel('loss')
        ax.set_yscale('log')
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.out_dir / 'loss_curve.png', dpi=100)
        plt.close(fig)
