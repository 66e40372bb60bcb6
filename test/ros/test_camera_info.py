"""Calibration YAML, CameraInfo <-> intrinsics, scaling."""
import numpy as np
import pytest

from hmr_models.types import CameraIntrinsics
from hmr_ros.camera_info import (
    CalibrationError, camera_info_from_intrinsics, intrinsics_from_camera_info,
    load_calibration, scale_camera_info)

CALIB = """image_width: 640
image_height: 480
camera_name: test
camera_matrix: {rows: 3, cols: 3, data: [500.0, 0, 320.5, 0, 510.0, 240.5, 0, 0, 1]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0.1, -0.2, 0, 0, 0]}
"""


def test_load_calibration(tmp_path):
    path = tmp_path / 'cam.yaml'
    path.write_text(CALIB)
    info = load_calibration(path)
    assert (info.width, info.height) == (640, 480)
    intr = intrinsics_from_camera_info(info)
    assert (intr.fx, intr.fy, intr.cx, intr.cy) == (500.0, 510.0, 320.5, 240.5)
    assert list(info.d) == [0.1, -0.2, 0, 0, 0]
    assert info.p[0] == 500.0 and info.p[6] == 240.5


@pytest.mark.parametrize('text, match', [
    (None, 'not found'),
    ('image_width: [', 'not valid YAML'),
    ('image_width: 640\nimage_height: 480\n', "missing 'camera_matrix'"),
    ('camera_matrix: {data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n', 'image_width'),
    ('image_width: 640\nimage_height: 480\ncamera_matrix: {data: [1, 2]}\n', '9 numbers'),
])
def test_bad_calibration_files(tmp_path, text, match):
    path = tmp_path / 'cam.yaml'
    if text is not None:
        path.write_text(text)
    with pytest.raises(CalibrationError, match=match):
        load_calibration(path)


def test_estimated_intrinsics_round_trip_and_scaling():
    intr = CameraIntrinsics.from_image_diagonal(1280, 720)
    assert intr.estimated and np.isclose(intr.fx, np.hypot(1280, 720))
    info = camera_info_from_intrinsics(intr)
    back = intrinsics_from_camera_info(info)
    assert np.isclose(back.fx, intr.fx) and back.cx == 640.0
    half = intrinsics_from_camera_info(scale_camera_info(info, 640, 360))
    assert np.isclose(half.fx, intr.fx / 2) and half.cy == 180.0 and half.width == 640
