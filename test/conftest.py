"""Session-wide test settings.

Every test session gets its own ROS domain so parallel sessions (and other ROS programs on the
machine) never see each other's topics; processes the tests start inherit it, run the working
tree's code (PYTHONPATH) and find the installed share/hmr_ros (AMENT_PREFIX_PATH).
"""
import os
from pathlib import Path
import random
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ['PYTHONPATH'] = os.pathsep.join(
    [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])
_prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
if sys.prefix not in _prefixes:
    os.environ['AMENT_PREFIX_PATH'] = os.pathsep.join(_prefixes + [sys.prefix])
# Every process of the session (nodes, launches, this one) with the launch files' Fast DDS
# profile from this checkout, unless the user chose Fast DDS settings (hmr_ros.transport).
from hmr_ros.transport import use_large_image_transport  # noqa: E402
use_large_image_transport(profile=REPO / 'config' / 'fastdds_large_images.xml')


@pytest.fixture(scope='session', autouse=True)
def cpu_load():
    """HMR_TEST_CPU_LOAD=N keeps N busy processes running for the whole session.

    `.ci/run` runs the ROS and user-path tests a second time this way: users' machines and CI
    machines are busy, and waits must hold there too.
    """
    n = int(os.environ.get('HMR_TEST_CPU_LOAD', '0') or 0)
    procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(n)]
    yield n
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.fixture(scope='session')
def test_body(tmp_path_factory):
    """A small SMPL-format body (fixtures.bodies), loaded through load_body_model."""
    from hmr_models.body import load_body_model
    from fixtures.bodies import make_test_body_file
    return load_body_model(make_test_body_file(tmp_path_factory.mktemp('body') / 'test_body.npz'))


@pytest.fixture(scope='module')
def scene(test_body):
    """The small synthetic scene of fixtures.scenes (its detections: the next fixture)."""
    from fixtures.scenes import small_scene
    return small_scene(test_body)


@pytest.fixture(scope='module')
def detections(scene):
    import numpy as np
    from hmr_models.data.synth.writers import detect_scene
    return detect_scene(scene, np.random.default_rng(0))
