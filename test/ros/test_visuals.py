"""The node's display outputs are drawn at a bounded size, with everything drawn scaled alike."""
import numpy as np

from hmr_models.types import CameraIntrinsics, People
from hmr_ros.visuals import display_size


def _people():
    kp = np.full((1, 17, 2), 100.0, np.float32)
    kp[0, 3] = np.nan                                   # a keypoint the backend did not find
    return People(boxes=np.array([[10, 20, 410, 620]], np.float32), scores=np.ones(1, np.float32),
                  keypoints=kp, keypoint_scores=np.ones((1, 17), np.float32),
                  track_ids=np.array([4]))


def test_images_no_wider_than_the_limit_are_left_alone():
    rgb = np.zeros((720, 1280, 3), np.uint8)
    camera, people = CameraIntrinsics.from_image_diagonal(1280, 720), _people()
    for limit in (0, 1280, 4000):
        out = display_size(rgb, camera, people, limit)
        assert out[0] is rgb and out[1] is camera and out[2] is people


def test_a_wide_image_its_camera_and_its_people_shrink_together():
    rgb = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    camera, people = CameraIntrinsics.from_image_diagonal(1280, 720), _people()
    small, small_camera, small_people = display_size(rgb, camera, people, 640)
    assert small.shape == (360, 640, 3) and small.dtype == np.uint8
    assert (small_camera.width, small_camera.height) == (640, 360)
    np.testing.assert_allclose(small_people.boxes, people.boxes / 2)
    np.testing.assert_allclose(small_people.keypoints, people.keypoints / 2)   # NaN stays NaN
    assert small_people.track_ids.tolist() == [4] and people.boxes[0, 2] == 410  # input kept
    # A point in front of the camera lands at half its full-size pixel position.
    point = np.array([0.4, -0.3, 3.0])
    np.testing.assert_allclose(small_camera.project(point), camera.project(point) / 2, atol=0.5)
    # An odd size keeps the aspect ratio.
    odd = display_size(np.zeros((481, 1001, 3), np.uint8),
                       CameraIntrinsics.from_image_diagonal(1001, 481), people, 500)
    assert odd[0].shape == (240, 500, 3) and (odd[1].width, odd[1].height) == (500, 240)
