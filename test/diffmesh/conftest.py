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


@pytest.fixture(scope='session')
def test_body(tmp_path_factory):
    """A small SMPL-format body (fixtures.bodies), loaded through load_body_model."""
    from hmr_models.body import load_body_model
    from fixtures.bodies import make_test_body_file
    path = tmp_path_factory.mktemp('body') / 'test_body.npz'
    make_test_body_file(path)
    return load_body_model(path)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# The tiny test models are per-op-overhead bound: one thread is as fast and does not suffer
# when the machine is busy (2 threads contending with other processes slow down 10x).
torch.set_num_threads(1)
