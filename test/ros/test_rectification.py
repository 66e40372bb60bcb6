"""Raw images undistorted with their CameraInfo, as image_proc would, and described by P."""
import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo

from hmr_models.types import People
from hmr_ros.rectification import Rectifier, topic_is_rectified

W, H = 160, 120


def info(d, model='plumb_bob', p_focal=90.0, size=(W, H)):
    msg = CameraInfo(width=size[0], height=size[1], distortion_model=model)
    s = size[0] / W
    msg.k = [100.0 * s, 0.0, 80.0 * s, 0.0, 100.0 * s, 60.0 * s, 0.0, 0.0, 1.0]
    msg.d = list(d)
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [p_focal * s, 0.0, 80.0 * s, 0.0, 0.0, p_focal * s, 60.0 * s, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def coordinate_image():
    """Red = x, green = y of each raw pixel (scaled to 0-255): where a pixel came from."""
    ys, xs = np.mgrid[0:H, 0:W]
    return np.stack([xs * 255.0 / (W - 1), ys * 255.0 / (H - 1), np.zeros_like(xs)],
                    -1).round().astype(np.uint8)


def raw_pixels_of(rectified_uv, d, model):
    """Where the rectified pixels (P = 90 px focal) are in the raw image (K, D)."""
    rays = (rectified_uv - [80.0, 60.0]) / 90.0
    k = np.array([[100.0, 0, 80.0], [0, 100.0, 60.0], [0, 0, 1]])
    if model == 'equidistant':
        return cv2.fisheye.distortPoints(rays.reshape(-1, 1, 2), k,
                                         np.array(d, float)).reshape(-1, 2)
    points = np.concatenate([rays, np.ones((len(rays), 1))], 1)
    raw, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k, np.array(d, float))
    return raw.reshape(-1, 2)


@pytest.mark.parametrize('d, model', [([-0.3, 0.08, 0.001, -0.001, 0.0], 'plumb_bob'),
                                      ([-0.05, 0.01, 0.0, 0.0], 'equidistant')])
def test_each_rectified_pixel_shows_the_raw_pixel_the_lens_put_there(d, model):
    lines = []
    rect = Rectifier('auto', '/cam/image_raw', lines.append)
    out, intr = rect.apply(coordinate_image(), info(d, model))
    assert (intr.fx, intr.fy, intr.cx, intr.cy) == (90.0, 90.0, 80.0, 60.0)   # P, not K
    uv = np.array([[20.0, 15.0], [140.0, 100.0], [30.0, 95.0], [80.0, 60.0], [150.0, 20.0]])
    src = raw_pixels_of(uv, d, model)
    got = out[uv[:, 1].astype(int), uv[:, 0].astype(int)].astype(float)
    expected = np.stack([src[:, 0] * 255 / (W - 1), src[:, 1] * 255 / (H - 1)], -1)
    assert np.abs(got[:, :2] - expected).max() < 3.0, (got, expected)
    # the lens moved the corners by many pixels: an image left as it was would fail above
    assert np.abs(src - uv).max() > 5.0
    assert len(lines) == 1 and f'{model} distortion' in lines[0]
    rect.apply(coordinate_image(), info(d, model))
    assert len(lines) == 1, 'said again for the same calibration'
    # a raw point of another detector lands where its pixel is in the rectified image
    back = rect.points(src[:2])
    assert np.abs(back - uv[:2]).max() < 0.5


def test_what_is_left_as_it_comes():
    image = coordinate_image()
    d = [-0.3, 0.08, 0.0, 0.0, 0.0]
    # no distortion: nothing to do, the raw camera K
    out, intr = Rectifier('auto', '/cam/image_raw').apply(image, info([0.0] * 5))
    assert out is image and intr.fx == 100.0
    # a topic that is rectified already (image_proc's image_rect): P describes it
    assert topic_is_rectified('/cam/image_rect') and topic_is_rectified('/cam/image_rect_color')
    assert not topic_is_rectified('/cam/image_raw') and not topic_is_rectified('/rect/image')
    out, intr = Rectifier('auto', '/cam/image_rect_color').apply(image, info(d))
    assert out is image and intr.fx == 90.0
    # 'true' rectifies whatever the name; 'false' never, with K
    out, _ = Rectifier('true', '/cam/image_rect').apply(image, info(d))
    assert out is not image
    out, intr = Rectifier('false', '/cam/image_raw').apply(image, info(d))
    assert out is image and intr.fx == 100.0
    # a model OpenCV cannot undo: said once, used as it comes
    lines = []
    out, intr = Rectifier('auto', '', lines.append).apply(image, info(d, model='unknown'))
    assert out is image and intr.fx == 100.0 and "'unknown'" in lines[0]
    # no usable focal length: no intrinsics (the node then estimates one)
    nan, inf = float('nan'), float('inf')
    for k in ([0.0] * 9, [nan] + [0.0] * 8, [100.0, 0, inf, 0, 100.0, 60, 0, 0, 1]):
        bad = info(d)
        bad.k = k
        assert Rectifier().apply(image, bad)[1] is None, k
    # NaN distortion: said, not used; a NaN P: K describes the image
    lines = []
    bad = info([nan] * 5)
    out, intr = Rectifier('auto', '', lines.append).apply(image, bad)
    assert out is image and intr.fx == 100.0 and 'non-finite' in lines[0]
    bad = info([0.0] * 5)
    bad.p = [nan] * 12
    out, intr = Rectifier('auto', '/cam/image_rect').apply(image, bad)
    assert out is image and intr.fx == 100.0
    with pytest.raises(ValueError, match='rectify must be one of'):
        Rectifier('yes')


def test_a_calibration_of_another_size_is_scaled_to_the_image():
    d = [-0.3, 0.08, 0.0, 0.0, 0.0]
    big, intr = Rectifier().apply(coordinate_image(), info(d, size=(2 * W, 2 * H)))
    small, _ = Rectifier().apply(coordinate_image(), info(d))
    assert intr.fx == 90.0 and (intr.width, intr.height) == (W, H)
    assert np.abs(big.astype(int) - small).max() <= 1


def test_people_of_another_detector_move_with_the_image():
    rect = Rectifier()
    rect.apply(coordinate_image(), info([-0.3, 0.08, 0.0, 0.0, 0.0]))
    keypoints = np.full((1, 17, 2), np.nan, np.float32)
    keypoints[0, :3] = [[10, 10], [80, 60], [150, 110]]
    people = People(boxes=np.array([[10, 10, 150, 110]], np.float32),
                    scores=np.ones(1, np.float32), keypoints=keypoints,
                    keypoint_scores=np.ones((1, 17), np.float32), track_ids=np.zeros(1))
    moved = rect.people(people)
    assert np.isnan(moved.keypoints[0, 3:]).all(), 'missing keypoints stay missing'
    assert np.allclose(moved.keypoints[0, 1], [80, 60], atol=0.01)      # the centre stays
    # a barrel lens pulled the corners in: rectified, they are further out
    assert moved.keypoints[0, 0, 0] < 10 and moved.keypoints[0, 2, 0] > 150
    assert moved.boxes[0, 0] <= moved.keypoints[0, 0, 0] + 1e-3
    assert moved.boxes[0, 2] >= moved.keypoints[0, 2, 0] - 1e-3
