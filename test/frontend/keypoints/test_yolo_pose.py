"""YOLO-pose backend, tested with small ONNX graphs of the same I/O layout exported from torch.

The real weights are AGPL-3.0 and never shipped, so the test builds its own models: each one
outputs a prediction the test wrote (in letterboxed input pixels), which onnxruntime then runs
exactly like an Ultralytics export. The decoder must find the people the test put there.
"""
import numpy as np
import pytest

from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
from hmr_models.frontend.keypoints.yolo_pose import YoloPoseBackend
from hmr_models.frontend.onnx_model import ModelLoadError
from hmr_models.paths import MissingModelFile

torch = pytest.importorskip('torch')
pytest.importorskip('onnx', reason='torch.onnx.export needs the onnx package')
pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')  # legacy torch exporter

SIZE = 320                    # model input (square)
H, W = 480, 640               # test image: scale 0.5, vertical padding 40 px each side
SCALE, PAD_X, PAD_Y = 0.5, 0, 40


class ConstantHead(torch.nn.Module):
    """Returns a fixed prediction, wired to the input so the graph has the real I/O names."""

    def __init__(self, prediction):
        super().__init__()
        self.register_buffer('prediction', torch.as_tensor(prediction, dtype=torch.float32))

    def forward(self, images):
        return self.prediction + 0.0 * images.mean()


def export(tmp_path, prediction, name):
    path = tmp_path / name
    images = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(ConstantHead(prediction), (images,), str(path), input_names=['images'],
                      output_names=['output0'], opset_version=17, dynamo=False)
    return path


def person(x1, y1, x2, y2, seed):
    """A person in image pixels: box and 17 keypoints inside it (visibility 0.9)."""
    rng = np.random.default_rng(seed)
    kp = np.stack([rng.uniform(x1 + 5, x2 - 5, 17), rng.uniform(y1 + 5, y2 - 5, 17)], 1)
    return np.array([x1, y1, x2, y2], np.float32), kp.astype(np.float32)


def to_input(points):
    return points * SCALE + np.array([PAD_X, PAD_Y], np.float32)


def raw_prediction(people, anchors=40):
    """(1, 56, anchors): rows cx, cy, w, h, score, then 17 x (x, y, visibility)."""
    pred = np.zeros((56, anchors), np.float32)
    for anchor, (box, kp, score) in people.items():
        corners = to_input(box.reshape(2, 2))
        pred[0:2, anchor] = corners.mean(0)
        pred[2:4, anchor] = corners[1] - corners[0]
        pred[4, anchor] = score
        pred[5:, anchor] = np.concatenate([to_input(kp), np.full((17, 1), 0.9)], 1).ravel()
    return pred[None]


@pytest.fixture(scope='module')
def scene():
    a_box, a_kp = person(100, 100, 200, 340, seed=0)
    b_box, b_kp = person(400, 200, 460, 330, seed=1)
    return {'a': (a_box, a_kp), 'b': (b_box, b_kp)}


def test_raw_layout_decodes_letterbox_nms_and_threshold(tmp_path, scene):
    (a_box, a_kp), (b_box, b_kp) = scene['a'], scene['b']
    people = {3: (a_box, a_kp, 0.9),
              4: (a_box + 2, a_kp + 2, 0.8),          # duplicate of a: removed by NMS
              7: (b_box, b_kp, 0.6),
              9: (b_box + 100, b_kp + 100, 0.1)}       # below the score threshold
    backend = YoloPoseBackend(str(export(tmp_path, raw_prediction(people), 'raw.onnx')),
                              score_threshold=0.35, nms_iou=0.5)
    assert backend.input_size == SIZE and not backend.needs_boxes
    boxes, scores, kps, kp_scores = backend.detect(np.zeros((H, W, 3), np.uint8))
    np.testing.assert_allclose(scores, [0.9, 0.6], atol=1e-6)
    np.testing.assert_allclose(boxes, [a_box, b_box], atol=1e-3)
    np.testing.assert_allclose(kps, [a_kp, b_kp], atol=1e-3)
    np.testing.assert_allclose(kp_scores, 0.9, atol=1e-6)


def test_end_to_end_layout(tmp_path, scene):
    (a_box, a_kp) = scene['a']
    rows = np.zeros((1, 300, 57), np.float32)
    corners = to_input(a_box.reshape(2, 2)).ravel()
    rows[0, 0, :6] = [*corners, 0.8, 0]
    rows[0, 0, 6:] = np.concatenate([to_input(a_kp), np.full((17, 1), 0.7)], 1).ravel()
    backend = YoloPoseBackend(str(export(tmp_path, rows, 'e2e.onnx')))
    boxes, scores, kps, kp_scores = backend.detect(np.zeros((H, W, 3), np.uint8))
    assert len(boxes) == 1
    np.testing.assert_allclose(boxes[0], a_box, atol=1e-3)
    np.testing.assert_allclose(kps[0], a_kp, atol=1e-3)


def test_through_the_front_end(tmp_path, scene):
    (a_box, a_kp), (b_box, b_kp) = scene['a'], scene['b']
    path = export(tmp_path, raw_prediction({0: (a_box, a_kp, 0.9), 5: (b_box, b_kp, 0.7)}),
                  'fe.onnx')
    front = PersonFrontEnd(FrontEndConfig(keypoint_backend='yolo_pose',
                                          yolo_pose_model_path=str(path)))
    assert front.detector is None, 'one-stage backend: no NanoDet'
    people = front.detect(np.zeros((H, W, 3), np.uint8))
    assert len(people) == 2 and front.last_stats.detected == 2
    np.testing.assert_allclose(people.keypoints[0], a_kp, atol=1e-3)
    assert (people.track_ids == -1).all()


def test_wrong_layout_and_missing_file(tmp_path):
    bad = export(tmp_path, np.zeros((1, 10, 10), np.float32), 'bad.onnx')
    with pytest.raises(ModelLoadError, match='yolo_pose_model_path'):
        YoloPoseBackend(str(bad))
    with pytest.raises(MissingModelFile, match='yolo_pose_model_path.*AGPL'):
        YoloPoseBackend(str(tmp_path / 'yolo11n-pose.onnx'))
