"""Square person crops: geometry, content and the affines both ways."""
import numpy as np
import pytest

from hmr_models.frontend import make_crops
from hmr_models.frontend.crops import crop_geometry


def dotted_image(points, h=480, w=640):
    """Black image with a 3x3 white dot at each integer point (x, y)."""
    image = np.zeros((h, w, 3), np.uint8)
    for x, y in points:
        image[y - 1:y + 2, x - 1:x + 2] = 255
    return image


def test_shapes_square_boxes_and_aspect_correction():
    boxes = np.array([[100, 50, 160, 290], [300, 300, 500, 380]], np.float32)   # tall, wide
    crops = make_crops(np.zeros((480, 640, 3), np.uint8), boxes, size=256)
    assert crops.images.shape == (2, 256, 256, 3) and crops.images.dtype == np.uint8
    assert crops.image_to_crop.shape == (2, 2, 3) and crops.crop_to_image.shape == (2, 2, 3)
    sides = crops.boxes_square[:, 2:] - crops.boxes_square[:, :2]
    np.testing.assert_allclose(sides, [[300, 300], [250, 250]])     # 1.25 x the longer side
    centres = (crops.boxes_square[:, :2] + crops.boxes_square[:, 2:]) / 2
    np.testing.assert_allclose(centres, (boxes[:, :2] + boxes[:, 2:]) / 2)
    assert len(make_crops(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4)))) == 0


def test_round_trip_and_normalisation():
    boxes = np.array([[100, 50, 160, 290], [-40, 400, 60, 520]], np.float32)
    crops = make_crops(np.zeros((480, 640, 3), np.uint8), boxes)
    pts = np.random.default_rng(0).uniform(-50, 650, (2, 17, 2)).astype(np.float32)
    np.testing.assert_allclose(crops.to_image(crops.to_crop(pts)), pts, atol=1e-3)
    centres = ((boxes[:, :2] + boxes[:, 2:]) / 2)[:, None]
    np.testing.assert_allclose(crops.normalise(centres), 0.5, atol=1e-6)
    corners = crops.boxes_square[:, None, :2]
    np.testing.assert_allclose(crops.normalise(corners), 0.0, atol=1e-6)
    geometry = crop_geometry(boxes)                   # the same crops, no image cut
    for key in ('image_to_crop', 'crop_to_image', 'boxes_square'):
        np.testing.assert_array_equal(getattr(geometry, key), getattr(crops, key))
    assert geometry.size == crops.size and not geometry.images.any()


def test_crop_content_follows_the_affine():
    """A dot in the image appears in the crop where the affine puts it."""
    dots = [(130, 100), (150, 250), (112, 170)]
    image = dotted_image(dots)
    crops = make_crops(image, np.array([[100, 60, 160, 280]], np.float32), size=256)
    mapped = crops.to_crop(np.array([dots], np.float32))[0]
    for (u, v) in mapped:
        u, v = int(round(u)), int(round(v))
        assert crops.images[0, v, u].min() > 100, f'dot not at ({u}, {v}) in the crop'
    # Far from every mapped dot the crop is black.
    mask = np.ones((256, 256), bool)
    for (u, v) in mapped:
        mask[max(0, int(v) - 8):int(v) + 9, max(0, int(u) - 8):int(u) + 9] = False
    assert crops.images[0][mask].max() == 0


def test_outside_the_image_is_black_and_bad_size_raises():
    image = np.full((100, 100, 3), 200, np.uint8)
    crops = make_crops(image, np.array([[-50, -50, 10, 10]], np.float32), size=64)
    assert crops.images[0, 0, 0].max() == 0 and crops.images[0, -1, -1].max() == 200
    with pytest.raises(ValueError, match='crop size'):
        make_crops(image, np.zeros((1, 4)), size=0)
