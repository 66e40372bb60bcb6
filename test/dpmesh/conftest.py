"""Fixtures for the DPMesh tests: a tiny config and a small SMPL-format test body."""
import pytest
import torch

from hmr_models.dpmesh import load_config

# Tiny models on a shared 2-core machine: one thread avoids oversubscription stalls.
torch.set_num_threads(1)


@pytest.fixture(scope='session')
def test_body(tmp_path_factory):
    from hmr_models.body import load_body_model
    from fixtures.bodies import make_test_body_file
    path = make_test_body_file(tmp_path_factory.mktemp('body') / 'test_body.npz')
    return load_body_model(path)


@pytest.fixture
def tiny_config():
    return load_config('tiny')
