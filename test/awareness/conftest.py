"""Fixtures of the awareness tests: the bundled open body, one torch thread."""
import pytest
import torch


@pytest.fixture(scope='session')
def open_body():
    from hmr_models.body import load_body_model
    torch.set_num_threads(1)  # small batches: threads only contend on a busy machine
    return load_body_model()
