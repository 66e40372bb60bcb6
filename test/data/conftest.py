"""Fixtures for the data-engine tests: a test body, smooth synthetic motions, shared mocap."""
from pathlib import Path

import pytest

from fixtures.motions import walking_motion

SHARED_MOCAP = Path(__file__).resolve().parents[2].parent / 'shared' / 'data' / 'mocap'


@pytest.fixture(scope='session')
def make_walk():
    """The walking_motion factory (conftest modules are not importable by name)."""
    return walking_motion


@pytest.fixture(scope='session')
def motions():
    return [walking_motion(60, phase=p, name=f'walk{i}') for i, p in enumerate((0.0, 1.0, 2.5))]


@pytest.fixture(scope='session')
def shared_mocap():
    if not (SHARED_MOCAP / 'deepmimic' / 'humanoid.urdf').is_file():
        pytest.skip(f'shared mocap data not found at {SHARED_MOCAP}')
    return SHARED_MOCAP


@pytest.fixture(autouse=True, scope='module')
def single_torch_thread():
    """Small body forwards run faster on one thread, most of all on a busy 2-core machine."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
