"""NanoDet-m person detector (ONNX): letterbox, GFL box decoding, person-class NMS.

The bundled `assets/detectors/nanodet.onnx` (Apache-2.0, see that folder's README) is NanoDet-m at
416x416 with COCO-80 heads for strides 8/16/32. Each stride has a `cls` output (cells, 80), already
sigmoid, and a `reg` output (cells, 4 * 11): for each side (left, top, right, bottom) a softmax over
11 distance bins (General Focal Loss); the expected bin times the stride is the distance from the
cell centre to that side.
"""
import logging

import cv2
import numpy as np

from hmr_models.frontend.geometry import nms
from hmr_models.frontend.onnx_model import ModelLoadError, describe_io, load_session
from hmr_models.paths import ASSETS_DIR

log = logging.getLogger(__name__)

BUNDLED_NANODET = ASSETS_DIR / 'detectors' / 'nanodet.onnx'
# NanoDet's training normalisation, BGR order.
_MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
_STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
PERSON_CLASS = 0


def letterbox_scale(height, width, size):
    """Scale that fits an image of (height, width) into a size x size square, keeping aspect."""
    return min(size / width, size / height)


def preprocess(image_rgb, size):
    """Letterboxed NCHW float32 input (1, 3, size, size) and the scale used.

    The image is resized to fit, placed top-left and padded with the mean colour (0 after
    normalisation), so image pixel = input pixel / scale with no offset.
    """
    h, w = image_rgb.shape[:2]
    scale = letterbox_scale(h, w, size)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((1, 3, size, size), np.float32)
    # RGB -> BGR by reversing the channel axis while normalising.
    canvas[0, :, :nh, :nw] = ((resized[..., ::-1] - _MEAN_BGR) / _STD_BGR).transpose(2, 0, 1)
    return canvas, scale


def decode_gfl(cls_scores, reg, stride, input_size, score_threshold, class_index=PERSON_CLASS):
    """Boxes (M, 4) xyxy in input pixels and scores (M,) of one stride level.

    cls_scores: (cells, classes) probabilities; reg: (cells, 4 * bins) GFL logits, cells in
    row-major order over an (input_size / stride)^2 grid whose centres are at (i + 0.5) * stride.
    """
    scores = cls_scores[:, class_index]
    idx = np.nonzero(scores >= score_threshold)[0]
    if idx.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    cols = int(round(input_size / stride))
    cx = (idx % cols + 0.5) * stride
    cy = (idx // cols + 0.5) * stride
    logits = reg[idx].reshape(idx.size, 4, -1)
    logits = logits - logits.max(-1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(-1, keepdims=True)
    dist = (prob @ np.arange(prob.shape[-1], dtype=np.float32)) * stride   # (M, 4): l, t, r, b
    boxes = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
    return boxes.astype(np.float32), scores[idx].astype(np.float32)


class NanoDetPersonDetector:
    """Person boxes from NanoDet-m.

    `detect(image_rgb)` returns boxes (N, 4) xyxy image pixels clipped to the image and scores
    (N,), best first, after NMS.
    """

    def __init__(self, model_path='', runtime=None, score_threshold=0.35, nms_iou=0.5):
        path = model_path or BUNDLED_NANODET
        self.session = load_session(
            path, runtime, what='person detector model (NanoDet-m ONNX)',
            parameter='detector_model_path',
            get_it='Leave detector_model_path empty to use the bundled NanoDet-m, or reinstall '
                   'hmr_ros if the bundled file is missing.')
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        if len(inp.shape) != 4 or inp.shape[1] != 3 or not isinstance(inp.shape[2], int):
            raise ModelLoadError(f'{path} does not look like NanoDet (need a fixed 1x3xSxS '
                                 f'input): {describe_io(self.session)}')
        self.input_size = int(inp.shape[2])
        self._levels = self._pair_outputs(path)

    def _pair_outputs(self, path):
        """[(stride, cls_name, reg_name)] found from the output shapes (names vary by export)."""
        by_cells = {}
        for out in self.session.get_outputs():
            if len(out.shape) != 3 or not isinstance(out.shape[1], int):
                continue
            kind = 'cls' if out.shape[2] == 80 else 'reg' if out.shape[2] % 4 == 0 else None
            if kind:
                by_cells.setdefault(out.shape[1], {})[kind] = out.name
        levels = []
        for cells, pair in sorted(by_cells.items(), reverse=True):
            grid = int(round(np.sqrt(cells)))
            if grid * grid == cells and {'cls', 'reg'} <= set(pair):
                levels.append((self.input_size / grid, pair['cls'], pair['reg']))
        if not levels:
            raise ModelLoadError(f'{path}: no NanoDet (cls, reg) output pairs found: '
                                 f'{describe_io(self.session)}')
        return levels

    def detect(self, image_rgb):
        h, w = image_rgb.shape[:2]
        tensor, scale = preprocess(image_rgb, self.input_size)
        names = [n for _, c, r in self._levels for n in (c, r)]
        outputs = dict(zip(names, self.session.run(names, {self.input_name: tensor})))
        boxes, scores = [], []
        for stride, cls_name, reg_name in self._levels:
            b, s = decode_gfl(outputs[cls_name][0], outputs[reg_name][0], stride,
                              self.input_size, self.score_threshold)
            boxes.append(b)
            scores.append(s)
        boxes = np.concatenate(boxes) / scale
        scores = np.concatenate(scores)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        keep = nms(boxes, scores, self.nms_iou)
        return boxes[keep].astype(np.float32), scores[keep].astype(np.float32)
