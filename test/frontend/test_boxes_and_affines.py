"""Pure geometry: IoU, NMS, square boxes, affines, keypoint similarity."""
import numpy as np

from hmr_models.frontend.boxes import box_iou, keypoint_similarity, nms, square_boxes
from hmr_models.geometry.affine import apply_affine, box_to_crop_affine, invert_affine


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    iou = box_iou(a, b)
    np.testing.assert_allclose(iou[0], [50 / 150, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(iou[1], 0.0)          # degenerate box: no NaN
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_nms_keeps_best_of_overlapping_and_separate_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10.5]])
    scores = np.array([0.5, 0.9, 0.3, 0.4])
    keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_square_boxes_are_square_centred_and_scaled():
    boxes = np.array([[10, 20, 30, 100]], np.float32)        # 20 x 80
    sq = square_boxes(boxes, 1.25)[0]
    assert np.isclose(sq[2] - sq[0], 100) and np.isclose(sq[3] - sq[1], 100)
    np.testing.assert_allclose((sq[:2] + sq[2:]) / 2, [20, 60])


def test_affine_round_trip_and_corner_mapping():
    sq = np.array([[100, 50, 300, 250], [-20, -30, 60, 50]], np.float32)
    a = box_to_crop_affine(sq, 256)
    corners = np.stack([sq[:, :2], sq[:, 2:]], 1)
    np.testing.assert_allclose(apply_affine(a, corners), [[[0, 0], [256, 256]]] * 2, atol=1e-4)
    pts = np.random.default_rng(0).uniform(-100, 400, (2, 17, 2)).astype(np.float32)
    np.testing.assert_allclose(apply_affine(invert_affine(a), apply_affine(a, pts)), pts,
                               atol=1e-3)
    pts[0, 3] = np.nan
    assert np.isnan(apply_affine(a, pts)[0, 3]).all()


def test_keypoint_similarity():
    rng = np.random.default_rng(1)
    kp = rng.uniform(0, 100, (1, 17, 2)).astype(np.float32)
    valid = np.ones((1, 17), bool)
    assert np.isclose(keypoint_similarity(kp, valid, kp, valid, 10000.0)[0, 0], 1.0)
    far = kp + 80
    assert keypoint_similarity(kp, valid, far, valid, 10000.0)[0, 0] < 0.01
    near = kp + 3
    s = keypoint_similarity(kp, valid, near, valid, 10000.0)[0, 0]
    assert 0.2 < s < 1.0
    # No keypoint valid in both: NaN so the caller can fall back to boxes.
    none = np.zeros((1, 17), bool)
    assert np.isnan(keypoint_similarity(kp, valid, kp, none, 10000.0)[0, 0])
