"""Make the int8 twin of the bundled NanoDet-m person detector (static QDQ quantization).

    python -m hmr_models.frontend.quantize [--clip media/sample_sports2d.mp4] [--out DIR]

Calibration feeds NanoDet what it sees at run time: the letterboxed frames of a clip (the
bundled sample by default). onnxruntime's static quantizer fixes the activation ranges (min/max
over those inputs) and writes per-channel int8 weights and uint8 activations around every
convolution, add, clip, resize and concatenation. Weights use 7 of their 8 bits
(`reduce_range`): CPUs without 8-bit dot products (AVX2 without VNNI) multiply uint8 by int8 in
pairs summed into 16 bits, which full-range weights overflow (on an AVX2 CPU the 8-bit twin's
person scores were 0.021 from its own overflow-free arithmetic, the 7-bit twin's 0.002); in
exact int8 arithmetic (what VNNI computes) the lost bit costs nothing measurable
(assets/detectors/README.md). The front-end picks the twin with `detector_precision`
(frontend/config.py). Re-running gives an identical file. Its accuracy and speed:
`benchmarks/bench_frontend.py` and `benchmarks/eval_real.py` with `detector_precision` int8
against fp32 (numbers in assets/detectors/README.md).

MoveNet Lightning was quantized the same way and not shipped: 1.3-1.8x faster, but its
keypoints moved enough to cost 3.5-5.5 mm PA-MPJPE on the Pose2Sim footage.
"""
import argparse
import hashlib
import logging
from pathlib import Path
import tempfile

import cv2
import numpy as np

from hmr_models.frontend.detector import BUNDLED_NANODET, preprocess
from hmr_models.paths import ASSETS_DIR

# Op types quantized: the network's arithmetic (NanoDet has no decoding in the graph).
QUANTIZED_OPS = ['Conv', 'Clip', 'Relu', 'Add', 'Resize', 'Concat']
# The bundled sample clip, in a source checkout (the tool is run there, by whoever regenerates).
DEFAULT_CLIP = Path(__file__).resolve().parents[2] / 'media' / 'sample_sports2d.mp4'


def calibration_inputs(clip, every=1, size=416):
    """NanoDet's inputs (1, 3, size, size) for every `every`-th frame of the clip."""
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise FileNotFoundError(f'cannot read the calibration clip {clip}')
    inputs, index = [], -1
    while True:
        ok, frame = cap.read()
        index += 1
        if not ok:
            break
        if index % every:
            continue
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        tensor, _ = preprocess(rgb, size)
        # The file's graph is fixed at size x size: pad the letterboxed input with the mean
        # colour (0 after normalisation), as a square letterbox does.
        square = np.zeros((1, 3, size, size), np.float32)
        square[..., :tensor.shape[2], :tensor.shape[3]] = tensor
        inputs.append(square)
    cap.release()
    if not inputs:
        raise ValueError(f'{clip}: no frames to calibrate with')
    return inputs


def quantize(src, dst, inputs, input_name):
    """Write the int8 (QDQ) twin of the ONNX model `src` to `dst`, calibrated on `inputs`."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(inputs)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {input_name: x}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / 'prepared.onnx'
        # Shapes inferred and constants folded first, as onnxruntime recommends.
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=QUANTIZED_OPS, per_channel=True, reduce_range=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return dst


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clip', default=str(DEFAULT_CLIP), help='calibration video')
    parser.add_argument('--every', type=int, default=1, help='calibrate on every k-th frame')
    parser.add_argument('--out', default=str(ASSETS_DIR / 'detectors'))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = calibration_inputs(args.clip, args.every)
    print(f'calibration: {len(inputs)} images from {args.clip}')
    dst = quantize(BUNDLED_NANODET, out / f'{BUNDLED_NANODET.stem}_int8.onnx', inputs,
                   'input_1:0')
    print(f'{_sha256(dst)}  {dst.name}  ({dst.stat().st_size / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
