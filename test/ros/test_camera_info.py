"""Calibration YAML, CameraInfo <-> intrinsics, scaling."""
import threading
import time

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo

from hmr_models.types import CameraIntrinsics
from hmr_ros.camera_info import (
    CalibrationError, camera_info_from_intrinsics, CameraInfoByStamp,
    intrinsics_from_camera_info, load_calibration, scale_camera_info)

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


def _info(sec, fx=500.0):
    msg = CameraInfo(width=640, height=480, k=[fx, 0.0, 320.0, 0.0, fx, 240.0, 0.0, 0.0, 1.0])
    msg.header.stamp.sec = sec
    return msg


def test_camera_info_by_stamp_pairs_and_falls_back_to_the_latest():
    infos = CameraInfoByStamp(wait_s=0.0, keep=3)
    assert infos.get((1, 0)) is None                     # nothing yet
    for sec in (1, 2, 3, 4):
        infos.put((sec, 0), _info(sec, fx=100.0 * sec))
    assert infos.get((3, 0)).k[0] == 300.0               # its own, not the latest
    assert infos.get((1, 0)).k[0] == 400.0, 'forgotten (keep 3): the latest'
    assert infos.get((9, 0)).k[0] == 400.0


def test_camera_info_by_stamp_waits_for_a_late_info_once_they_come_paired():
    """The info of an image can come after the image (another topic). Once infos are seen
    paired with images by stamp, an image waits for its own; a wait that times out stops the
    waiting until a pair is seen again."""
    infos = CameraInfoByStamp(wait_s=60.0)
    infos.put((1, 0), _info(1, fx=100.0))
    assert infos.get((2, 0)).k[0] == 100.0, 'not known to pair yet: the latest, no wait'
    infos.put((2, 0), _info(2, fx=200.0))                # image 2's info after it: paired
    got = []
    waiter = threading.Thread(target=lambda: got.append(infos.get((3, 0))))
    waiter.start()
    deadline = time.monotonic() + 60
    while not infos._images or infos._images[-1] != (3, 0):   # the image has asked
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert waiter.is_alive(), 'waits for its own info'
    infos.put((3, 0), _info(3, fx=300.0))
    waiter.join(60)
    assert not waiter.is_alive() and got[0].k[0] == 300.0
    # A source whose infos stop coming with the images' stamps: one timed-out wait, then none.
    infos.wait_s = 0.01
    assert infos.get((4, 0)).k[0] == 300.0 and infos.waits_timed_out == 1
    infos.wait_s = 60.0
    t0 = time.monotonic()
    assert infos.get((5, 0)).k[0] == 300.0 and time.monotonic() - t0 < 30
    assert infos.waits_timed_out == 1
    infos.put((5, 0), _info(5, fx=500.0))                # paired again: waiting again
    assert infos._paired
