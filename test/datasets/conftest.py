"""Fixtures for the dataset-loader tests."""
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope='session')
def test_body(tmp_path_factory):
    from hmr_models.body import load_body_model
    from fixtures.bodies import make_test_body_file
    path = make_test_body_file(tmp_path_factory.mktemp('body') / 'test_body.npz')
    return load_body_model(path)
