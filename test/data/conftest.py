"""Fixtures for the data-engine tests: a test body, smooth synthetic motions, shared mocap."""
from pathlib import Path

import numpy as np
import pytest

from hmr_models.data.mocap.motion import SMPLMotion
from hmr_models.skeleton import SMPL24_NAMES

J = {n: i for i, n in enumerate(SMPL24_NAMES)}
SHARED_MOCAP = Path(__file__).resolve().parents[2].parent / 'shared' / 'data' / 'mocap'


def walking_motion(frames=40, fps=30.0, speed=1.2, phase=0.0, name='walk', free=True):
    """A smooth walk-like SMPL motion (legs and arms swinging, moving along +z)."""
    t = np.arange(frames) / fps
    w = 2 * np.pi * 0.9 * t + phase
    pose = np.zeros((frames, 24, 3))
    pose[:, J['left_hip'], 0] = 0.5 * np.sin(w)
    pose[:, J['right_hip'], 0] = -0.5 * np.sin(w)
    pose[:, J['left_knee'], 0] = 0.6 * (1 - np.cos(w)) / 2 + 0.1
    pose[:, J['right_knee'], 0] = 0.6 * (1 + np.cos(w)) / 2 + 0.1
    pose[:, J['left_shoulder'], 2] = -1.2 + 0.1 * np.sin(w)
    pose[:, J['right_shoulder'], 2] = 1.2 + 0.1 * np.sin(w)
    pose[:, J['left_shoulder'], 1] = -0.4 * np.sin(w)
    pose[:, J['right_shoulder'], 1] = -0.4 * np.sin(w)
    pose[:, J['left_elbow'], 1] = 0.4
    pose[:, J['right_elbow'], 1] = -0.4
    pose[:, J['spine2'], 1] = 0.1 * np.sin(w)
    trans = np.stack([np.zeros(frames), 0.02 * np.sin(2 * w), speed * t], -1)
    return SMPLMotion(pose=pose.reshape(frames, 72), trans=trans, fps=fps, name=name,
                      meta={'collection': 'test', 'free': free})


@pytest.fixture(scope='session')
def make_walk():
    """The walking_motion factory (conftest modules are not importable by name)."""
    return walking_motion


@pytest.fixture(scope='session')
def test_body(tmp_path_factory):
    from hmr_models.body import load_body_model
    from fixtures.bodies import make_test_body_file
    path = tmp_path_factory.mktemp('body') / 'test_body.npz'
    make_test_body_file(path)
    return load_body_model(path)


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
