"""Shared fixtures of the DiffMesh tests: tiny models and smooth synthetic motion."""
import numpy as np
import pytest
import torch

from diffmesh_helpers import tiny_config
from hmr_models.diffmesh import DiffMesh


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return DiffMesh(tiny_config()).eval()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# The tiny test models are per-op-overhead bound: one thread is as fast and does not suffer
# when the machine is busy (2 threads contending with other processes slow down 10x).
torch.set_num_threads(1)
