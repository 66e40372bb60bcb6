"""MoveNet SinglePose (Lightning 192 px / Thunder 256 px) run top-down on each person box.

The bundled ONNX files take one int32 NHWC RGB image (1, S, S, 3) and return (1, 1, 17, 3) rows
of (y, x, score) normalised to that image, COCO-17 order. Each box becomes a square crop of
`crop_scale` x its longer side (affine warp, black outside the image); keypoints are mapped
back with the inverse affine. The graphs have a fixed batch of 1, so people run one by one, or
`workers` at a time on a thread pool (onnxruntime and OpenCV release the GIL). `precision`
'bf16' runs the same file on OpenVINO in bf16 (frontend/openvino_model.py), one person at a
time on the whole thread budget; the onnxruntime session is loaded either way, to check the
file's inputs and outputs.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
import logging

import cv2
import numpy as np

from hmr_models.frontend.boxes import square_boxes
from hmr_models.geometry.affine import apply_affine, box_to_crop_affine, invert_affine
from hmr_models.frontend.keypoints.base import KeypointBackend, empty_keypoints
from hmr_models.frontend.onnx_model import ModelLoadError, describe_io, load_session, \
    scalar_uniform_constants
from hmr_models.frontend.openvino_model import OpenVinoBf16Model, keypoint_precision
from hmr_models.paths import ASSETS_DIR
from hmr_models.runtime import Runtime

log = logging.getLogger(__name__)

BUNDLED_MOVENET = {
    'movenet_lightning': ASSETS_DIR / 'detectors' / 'movenet_lightning.onnx',
    'movenet_thunder': ASSETS_DIR / 'detectors' / 'movenet_thunder.onnx',
}


class MoveNetBackend(KeypointBackend):
    """COCO-17 keypoints per box with MoveNet SinglePose."""

    needs_boxes = True

    def __init__(self, variant='movenet_lightning', model_path='', runtime=None,
                 crop_scale=1.25, workers=1, precision='fp32'):
        if variant not in BUNDLED_MOVENET:
            raise ValueError(f'MoveNet variant must be one of {tuple(BUNDLED_MOVENET)}, '
                             f"got '{variant}'")
        self.name = variant
        runtime = runtime or Runtime()
        self.precision = keypoint_precision(precision, runtime)
        # bf16 runs one person at a time on OpenVINO's threads (openvino_model: Python threads
        # on one compiled model deadlocked).
        self.workers = 1 if self.precision == 'bf16' else max(1, int(workers))
        self._pool = None
        if self.workers > 1:
            # MoveNet is too small for intra-op threads to pay off: split the cores between
            # people instead (one onnxruntime session, safe to run from several threads).
            runtime = replace(runtime, threads=max(1, runtime.cpu_threads() // self.workers))
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix='movenet')
        path = model_path or BUNDLED_MOVENET[variant]
        self.session = load_session(
            path, runtime, what=f'keypoint model ({variant} ONNX)',
            parameter='keypoint_model_path',
            get_it='Leave keypoint_model_path empty to use the bundled MoveNet, or reinstall '
                   'hmr_ros if the bundled file is missing.', transform=scalar_uniform_constants)
        inp = self.session.get_inputs()[0]
        outs = self.session.get_outputs()
        shape_ok = (len(inp.shape) == 4 and inp.shape[3] == 3 and isinstance(inp.shape[1], int)
                    and len(outs) == 1 and list(outs[0].shape)[-2:] == [17, 3])
        if not shape_ok:
            raise ModelLoadError(f'{path} (parameter keypoint_model_path) does not have MoveNet '
                                 f'SinglePose inputs/outputs: {describe_io(self.session)}')
        self.input_name = inp.name
        self.input_size = int(inp.shape[1])
        self.input_dtype = np.int32 if 'int32' in inp.type else np.float32
        self.crop_scale = float(crop_scale)
        self._bf16 = None
        if self.precision == 'bf16':
            self._bf16 = OpenVinoBf16Model(path, runtime.cpu_threads(),
                                           what=f'keypoint model ({variant} ONNX)')
        log.info('keypoints: %s from %s, %s (%s)', variant, path, self.precision,
                 'OpenVINO' if self._bf16 is not None else 'onnxruntime')

    def estimate(self, image_rgb, boxes):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return empty_keypoints(0)
        to_crop = box_to_crop_affine(square_boxes(boxes, self.crop_scale), self.input_size)
        if self._pool is not None and len(boxes) > 1:
            rows = list(self._pool.map(lambda a: self._run_one(image_rgb, a), to_crop))
        else:
            rows = [self._run_one(image_rgb, a) for a in to_crop]
        yxs = np.stack(rows)                                         # (N, 17, 3): y, x, score
        keypoints = yxs[..., 1::-1] * self.input_size                # normalised -> crop px
        return apply_affine(invert_affine(to_crop), keypoints), yxs[..., 2].copy()

    def _run_one(self, image_rgb, affine):
        """MoveNet's (17, 3) rows (y, x, score) for the crop `affine` cuts out of the image."""
        size = self.input_size
        crop = cv2.warpAffine(image_rgb, affine, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        feeds = {self.input_name: crop[None].astype(self.input_dtype)}
        out = self._bf16.run(feeds) if self._bf16 is not None else self.session.run(None, feeds)[0]
        return np.asarray(out, np.float32).reshape(17, 3)

    def close(self):
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
