"""One-stage YOLO-pose (Ultralytics YOLOv8/11-pose ONNX export) from a user-supplied file.

Opt-in only: the public YOLO-pose weights are AGPL-3.0, so hmr_ros never ships or downloads
them; set `keypoint_backend: yolo_pose` and `yolo_pose_model_path` to an ONNX file you exported
(`yolo export model=yolo11n-pose.pt format=onnx`) and may use under that licence.

I/O layout (Ultralytics' default export):
- input `images` float32 (1, 3, S, S), RGB / 255, letterboxed (centred, grey 114 padding);
- output (1, 5 + 3K, A): per anchor (cx, cy, w, h) in input pixels, the person score
  (sigmoid applied), then K=17 x (x, y, visibility) with visibility already a probability.
  The NMS-included export, (1, M, 6 + 3K) rows of (x1, y1, x2, y2, score, class, keypoints...),
  is recognised too.
"""
import cv2
import numpy as np

from hmr_models.frontend.boxes import nms
from hmr_models.frontend.keypoints.base import KeypointBackend
from hmr_models.frontend.onnx_model import ModelLoadError, describe_io, load_session
from hmr_models.types import NUM_KEYPOINTS

_PAD_VALUE = 114
_DEFAULT_SIZE = 640
_CHANNELS = 5 + 3 * NUM_KEYPOINTS          # 56: box, score, keypoints


def letterbox_centred(image_rgb, size):
    """(1, 3, size, size) float32 input in [0, 1], scale and (pad_x, pad_y), Ultralytics-style."""
    h, w = image_rgb.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    pad_x, pad_y = (size - nw) // 2, (size - nh) // 2
    canvas = np.full((size, size, 3), _PAD_VALUE, np.uint8)
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized
    tensor = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return tensor, scale, np.array([pad_x, pad_y], np.float32)


def decode_raw(pred, score_threshold, nms_iou):
    """Decode a raw (5 + 3K, A) prediction after score filtering and NMS.

    Returns boxes xyxy, scores, keypoints (N, 17, 2) and keypoint scores, in input pixels.
    """
    keep = np.nonzero(pred[4] >= score_threshold)[0]
    p = pred[:, keep].T                                   # (M, 56)
    cxcy, wh = p[:, 0:2], p[:, 2:4]
    boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], 1)
    order = nms(boxes, p[:, 4], nms_iou)
    kp = p[order, 5:].reshape(-1, NUM_KEYPOINTS, 3)
    return boxes[order], p[order, 4], kp[..., :2], kp[..., 2]


def decode_end2end(pred, score_threshold):
    """The same from an NMS-included (M, 6 + 3K) prediction (person class 0 only)."""
    p = pred[(pred[:, 4] >= score_threshold) & (np.round(pred[:, 5]) == 0)]
    kp = p[:, 6:].reshape(-1, NUM_KEYPOINTS, 3)
    return p[:, :4], p[:, 4], kp[..., :2], kp[..., 2]


class YoloPoseBackend(KeypointBackend):
    """People and COCO-17 keypoints in one network pass (no NanoDet)."""

    name = 'yolo_pose'
    needs_boxes = False

    def __init__(self, model_path, runtime=None, score_threshold=0.35, nms_iou=0.5):
        if not model_path:
            raise ValueError("keypoint_backend 'yolo_pose' needs parameter yolo_pose_model_path")
        self.session = load_session(
            model_path, runtime, what='YOLO-pose model (ONNX)', parameter='yolo_pose_model_path',
            get_it='Export one yourself (AGPL-3.0 weights, not shipped with hmr_ros): '
                   '`yolo export model=yolo11n-pose.pt format=onnx`.')
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_name = inp.name
        size = inp.shape[2] if len(inp.shape) == 4 else None
        self.input_size = size if isinstance(size, int) and size > 0 else _DEFAULT_SIZE
        shape = list(out.shape)
        if len(inp.shape) != 4 or len(shape) != 3 or not (
                shape[1] == _CHANNELS or shape[2] in (_CHANNELS, _CHANNELS + 1)):
            raise ModelLoadError(
                f'{model_path} (parameter yolo_pose_model_path) is not a YOLO-pose ONNX export '
                f'with 17 keypoints (need output (1, 56, anchors) or (1, N, 57)): '
                f'{describe_io(self.session)}')
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)

    def detect(self, image_rgb):
        tensor, scale, pad = letterbox_centred(image_rgb, self.input_size)
        pred = np.asarray(self.session.run(None, {self.input_name: tensor})[0], np.float32)[0]
        if pred.shape[0] == _CHANNELS:
            boxes, scores, kps, kp_scores = decode_raw(pred, self.score_threshold, self.nms_iou)
        elif pred.shape[1] == _CHANNELS + 1:
            boxes, scores, kps, kp_scores = decode_end2end(pred, self.score_threshold)
        else:                                                   # (A, 56): transposed raw export
            boxes, scores, kps, kp_scores = decode_raw(pred.T, self.score_threshold, self.nms_iou)
        # Letterbox back to image pixels.
        boxes = (boxes - np.tile(pad, 2)) / scale
        kps = (kps - pad) / scale
        return (boxes.astype(np.float32), scores.astype(np.float32), kps.astype(np.float32),
                kp_scores.astype(np.float32))
