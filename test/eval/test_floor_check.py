"""benchmarks/floor_from_people.py's check without meshes: the horizon from people's boxes."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from hmr_models.fitting.floor_estimate import up_vector
from hmr_models.types import CameraIntrinsics


@pytest.fixture(scope='module')
def check():
    path = Path(__file__).resolve().parents[2] / 'benchmarks' / 'floor_from_people.py'
    spec = importlib.util.spec_from_file_location('floor_from_people', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('pitch_deg, high', [(5.0, 0.1), (20.0, 1.1), (30.0, 7.7)])
def test_the_horizon_from_boxes_gives_the_pitch(check, pitch_deg, high):
    """Upright people of 1.6-1.8 m on a floor 5 m below a pitched camera: their boxes' height
    against their foot row gives the pitch, reading high by `high` degrees: the linear model
    (box height proportional to the foot row's distance below the horizon) holds for a level
    camera only, so the check is good to about a degree up to 20 degrees, not beyond."""
    camera = CameraIntrinsics.from_image_diagonal(768, 576)
    up = up_vector(math.radians(pitch_deg), 0.0)
    ahead = np.cross(up, (1.0, 0.0, 0.0))
    rng = np.random.default_rng(1)
    boxes = []
    for _ in range(2000):
        x, z = rng.uniform(-6, 6), rng.uniform(2, 40)
        feet = x * np.array([1.0, 0.0, 0.0]) + z * ahead - 5.0 * up
        head = feet + rng.uniform(1.6, 1.8) * up
        (_, v_feet), (_, v_head) = camera.project(np.stack([feet, head]))
        if 0 < v_head and v_feet < camera.height:
            boxes.append((v_feet, v_feet - v_head))
    assert len(boxes) > 50
    found = check.horizon_pitch(np.array(boxes), camera)
    assert found - pitch_deg == pytest.approx(high, abs=0.5)
    assert math.isnan(check.horizon_pitch(np.zeros((5, 2)), camera))    # too few people
