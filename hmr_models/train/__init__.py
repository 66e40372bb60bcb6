"""Training entry points (one per stage) and the shared trainer.

    python -m hmr_models.train.train_vqvae --config vqvae.yaml
    python -m hmr_models.train.train_dpmesh --config dpmesh.yaml --stage teacher
    python -m hmr_models.train.train_dpmesh --config dpmesh.yaml --stage student
    torchrun --nproc_per_node 4 -m hmr_models.train.train_dpmesh --config dpmesh.yaml

`trainer.Trainer` (seeding, DDP, AMP on GPU, resume, checkpoints with their config, tqdm, CSV /
TensorBoard logs, loss-curve PNG) is shared by every entry point.
"""
from .trainer import TrainConfig, Trainer, seed_everything

__all__ = ['TrainConfig', 'Trainer', 'seed_everything']
