"""NanoDet-m person detector (ONNX): letterbox, GFL box decoding, person-class NMS.

The bundled `assets/detectors/nanodet.onnx` (Apache-2.0, see that folder's README) is NanoDet-m,
exported at 416x416, with COCO-80 heads for strides 8/16/32; it runs here on an input of the
image's aspect (longer side `input_size`). Each stride has a `cls` output (cells, 80), already
sigmoid, and a `reg` output (cells, 4 * 11): for each side (left, top, right, bottom) a softmax over
11 distance bins (General Focal Loss); the expected bin times the stride is the distance from the
cell centre to that side.
"""
import logging

import cv2
import numpy as np

from hmr_models.frontend.boxes import nms
from hmr_models.frontend.onnx_model import ModelLoadError, bundled_model, describe_io, \
    load_session
from hmr_models.paths import ASSETS_DIR

log = logging.getLogger(__name__)

BUNDLED_NANODET = ASSETS_DIR / 'detectors' / 'nanodet.onnx'
# NanoDet's training normalisation, BGR order.
_MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
_STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
PERSON_CLASS = 0


STRIDE_MULTIPLE = 32   # the coarsest stride: input sides are multiples of it


def input_shape(height, width, size):
    """(scale, input height, input width) for an image: its longer side scaled to `size`.

    The input keeps the image's aspect (sides rounded up to multiples of 32) instead of a
    size x size square: a 16:9 camera image costs 62 % of the square's pixels, with the same
    resolution on the people.
    """
    scale = size / max(height, width)

    def side(n):
        return max(STRIDE_MULTIPLE, int(np.ceil(n * scale / STRIDE_MULTIPLE)) * STRIDE_MULTIPLE)
    return scale, side(height), side(width)


def preprocess(image_rgb, size):
    """Letterboxed NCHW float32 input (1, 3, H, W) with the longer side `size`, and the scale.

    The image is resized, placed top-left and padded with the mean colour (0 after
    normalisation), so image pixel = input pixel / scale with no offset.
    """
    h, w = image_rgb.shape[:2]
    scale, ih, iw = input_shape(h, w, size)
    nw, nh = min(iw, max(1, int(round(w * scale)))), min(ih, max(1, int(round(h * scale))))
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((1, 3, ih, iw), np.float32)
    # RGB -> BGR by reversing the channel axis while normalising.
    canvas[0, :, :nh, :nw] = ((resized[..., ::-1] - _MEAN_BGR) / _STD_BGR).transpose(2, 0, 1)
    return canvas, scale


def decode_gfl(cls_scores, reg, stride, input_width, score_threshold, class_index=PERSON_CLASS):
    """Boxes (M, 4) xyxy in input pixels and scores (M,) of one stride level.

    cls_scores: (cells, classes) probabilities; reg: (cells, 4 * bins) GFL logits, cells in
    row-major order over a grid input_width / stride cells wide whose centres are at
    (i + 0.5) * stride.
    """
    scores = cls_scores[:, class_index]
    idx = np.nonzero(scores >= score_threshold)[0]
    if idx.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    cols = int(round(input_width / stride))
    cx = (idx % cols + 0.5) * stride
    cy = (idx // cols + 0.5) * stride
    logits = reg[idx].reshape(idx.size, 4, -1)
    logits = logits - logits.max(-1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(-1, keepdims=True)
    dist = (prob @ np.arange(prob.shape[-1], dtype=np.float32)) * stride   # (M, 4): l, t, r, b
    boxes = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
    return boxes.astype(np.float32), scores[idx].astype(np.float32)


def free_input_size(model):
    """The graph with its image height and width (and so its outputs' cells) left free.

    NanoDet is fully convolutional; the export fixed 416 x 416, which a rectangular input
    needs unfixed. Only the declared shapes change: the weights and operators are the file's.
    """
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = 'height', 'width'
    for out in model.graph.output:
        for dim in out.type.tensor_type.shape.dim[1:2]:
            dim.dim_param = f'cells_{out.name}'
    del model.graph.value_info[:]   # inferred again by onnxruntime for the free sizes
    return model


class NanoDetPersonDetector:
    """Person boxes from NanoDet-m.

    `detect(image_rgb)` returns boxes (N, 4) xyxy image pixels clipped to the image and scores
    (N,), best first, after NMS.
    """

    def __init__(self, model_path='', runtime=None, score_threshold=0.35, nms_iou=0.5,
                 input_size=416, precision='fp32'):
        path = model_path or bundled_model(BUNDLED_NANODET, precision, runtime)
        what = 'person detector model (NanoDet-m ONNX)'
        get_it = ('Leave detector_model_path empty to use the bundled NanoDet-m, or reinstall '
                  'hmr_ros if the bundled file is missing.')
        fixed = load_session(path, runtime, what=what, parameter='detector_model_path',
                             get_it=get_it)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.input_size = int(input_size)
        inp = fixed.get_inputs()[0]
        self.input_name = inp.name
        if len(inp.shape) != 4 or inp.shape[1] != 3 or not isinstance(inp.shape[2], int):
            raise ModelLoadError(f'{path} does not look like NanoDet (need a 1x3xSxS input): '
                                 f'{describe_io(fixed)}')
        self._levels = self._pair_outputs(fixed, int(inp.shape[2]), path)
        self.session = load_session(path, runtime, what=what, parameter='detector_model_path',
                                    get_it=get_it, transform=free_input_size)
        self.model_file = str(path)
        log.info('person detector: %s', path)

    @staticmethod
    def _pair_outputs(session, size, path):
        """[(stride, cls_name, reg_name)] from the fixed-size output shapes (names vary)."""
        by_cells = {}
        for out in session.get_outputs():
            if len(out.shape) != 3 or not isinstance(out.shape[1], int):
                continue
            kind = 'cls' if out.shape[2] == 80 else 'reg' if out.shape[2] % 4 == 0 else None
            if kind:
                by_cells.setdefault(out.shape[1], {})[kind] = out.name
        levels = []
        for cells, pair in sorted(by_cells.items(), reverse=True):
            grid = int(round(np.sqrt(cells)))
            if grid * grid == cells and {'cls', 'reg'} <= set(pair):
                levels.append((int(round(size / grid)), pair['cls'], pair['reg']))
        if not levels:
            raise ModelLoadError(f'{path}: no NanoDet (cls, reg) output pairs found: '
                                 f'{describe_io(session)}')
        return levels

    def detect(self, image_rgb):
        h, w = image_rgb.shape[:2]
        tensor, scale = preprocess(image_rgb, self.input_size)
        names = [n for _, c, r in self._levels for n in (c, r)]
        outputs = dict(zip(names, self.session.run(names, {self.input_name: tensor})))
        boxes, scores = [], []
        for stride, cls_name, reg_name in self._levels:
            b, s = decode_gfl(outputs[cls_name][0], outputs[reg_name][0], stride,
                              tensor.shape[3], self.score_threshold)
            boxes.append(b)
            scores.append(s)
        boxes = np.concatenate(boxes) / scale
        scores = np.concatenate(scores)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        keep = nms(boxes, scores, self.nms_iou)
        return boxes[keep].astype(np.float32), scores[keep].astype(np.float32)
