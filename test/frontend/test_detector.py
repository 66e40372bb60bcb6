"""NanoDet person detector: GFL decoding, letterbox, real frames, bad model files."""
import numpy as np
import pytest

from hmr_models.frontend.detector import NanoDetPersonDetector, decode_gfl, preprocess
from hmr_models.frontend.onnx_model import ModelLoadError
from hmr_models.paths import MissingModelFile

from .conftest import SAMPLE_PEOPLE


@pytest.fixture(scope='module')
def detector(runtime):
    return NanoDetPersonDetector(runtime=runtime)


def test_decode_gfl_recovers_distances():
    stride, size, bins = 8, 416, 11
    cells = (size // stride) ** 2
    cls = np.zeros((cells, 80), np.float32)
    reg = np.zeros((cells, 4 * bins), np.float32)
    row, col = 10, 20
    idx = row * (size // stride) + col
    cls[idx, 0] = 0.9
    cls[idx + 1, 3] = 0.99                      # another class: not a person
    wanted = [2, 3, 4, 7]                       # bins for left, top, right, bottom
    for side, b in enumerate(wanted):
        reg[idx, side * bins + b] = 30.0        # softmax ~ one-hot
    boxes, scores = decode_gfl(cls, reg, stride, size, score_threshold=0.35)
    cx, cy = (col + 0.5) * stride, (row + 0.5) * stride
    expected = [cx - 2 * stride, cy - 3 * stride, cx + 4 * stride, cy + 7 * stride]
    np.testing.assert_allclose(boxes, [expected], atol=1e-3)
    np.testing.assert_allclose(scores, [0.9])


def test_decode_gfl_on_a_rectangular_grid():
    stride, width, height, bins = 16, 416, 256, 11
    cols = width // stride
    cls = np.zeros(((height // stride) * cols, 80), np.float32)
    reg = np.zeros((len(cls), 4 * bins), np.float32)
    row, col = 7, 20
    cls[row * cols + col, 0] = 0.8
    reg[row * cols + col, [0, bins, 2 * bins, 3 * bins]] = 30.0   # all distances 0
    boxes, _ = decode_gfl(cls, reg, stride, width, score_threshold=0.35)
    np.testing.assert_allclose(boxes[0, :2], [(col + 0.5) * stride, (row + 0.5) * stride])


def test_letterbox_keeps_aspect_and_pads_with_mean():
    image = np.full((300, 600, 3), 255, np.uint8)
    tensor, scale = preprocess(image, 416)
    # The input keeps the image's aspect: 416 wide, 208 -> 224 high (a multiple of 32).
    assert tensor.shape == (1, 3, 224, 416) and np.isclose(scale, 416 / 600)
    assert np.all(tensor[0, :, :208] > 2)       # white image content
    assert np.all(tensor[0, :, 209:] == 0)      # padding = mean colour = 0 after normalising
    tall, _ = preprocess(np.zeros((640, 100, 3), np.uint8), 320)
    assert tall.shape == (1, 3, 320, 64)


def test_rectangular_input_finds_what_the_square_finds(detector, sample_frames, runtime):
    """The free-size graph on the image's aspect gives the square letterbox's boxes."""
    from hmr_models.frontend.detector import nms
    frame = sample_frames[max(SAMPLE_PEOPLE)]
    boxes, _ = detector.detect(frame)
    # The square 416 x 416 input of the exported graph, for comparison.
    square = np.zeros((1, 3, 416, 416), np.float32)
    tensor, scale = preprocess(frame, 416)
    square[:, :, :tensor.shape[2], :] = tensor
    names = [n for _, c, r in detector._levels for n in (c, r)]
    out = dict(zip(names, detector.session.run(names, {detector.input_name: square})))
    ref = [decode_gfl(out[c][0], out[r][0], st, 416, detector.score_threshold)
           for st, c, r in detector._levels]
    ref_boxes = np.concatenate([b for b, _ in ref]) / scale
    ref_scores = np.concatenate([s for _, s in ref])
    ref_boxes = ref_boxes[nms(ref_boxes, ref_scores, detector.nms_iou)]
    assert len(boxes) == len(ref_boxes) >= 1
    np.testing.assert_allclose(np.sort(boxes, 0), np.sort(ref_boxes, 0), atol=3.0)


def test_finds_the_people_of_a_real_frame(detector, sample_frames):
    for index, people in SAMPLE_PEOPLE.items():
        boxes, scores = detector.detect(sample_frames[index])
        assert boxes.dtype == np.float32 and scores.shape == (len(boxes),)
        assert np.all(np.diff(scores) <= 0), 'best first'
        h, w = sample_frames[index].shape[:2]
        assert np.all(boxes >= 0) and np.all(boxes[:, 2] <= w) and np.all(boxes[:, 3] <= h)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        for name, (xy, height) in people.items():
            d = np.linalg.norm(centres - np.array(xy), axis=1)
            assert d.min() < 0.25 * height, f'frame {index}: {name} not detected'


def test_blank_image_has_no_people(detector):
    boxes, scores = detector.detect(np.zeros((480, 640, 3), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_missing_and_broken_model_files_name_the_parameter(tmp_path):
    with pytest.raises(MissingModelFile, match='detector_model_path'):
        NanoDetPersonDetector(model_path=str(tmp_path / 'nope.onnx'))
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not an onnx file')
    with pytest.raises(ModelLoadError, match='detector_model_path'):
        NanoDetPersonDetector(model_path=str(broken))


def test_int8_twin_finds_the_boxes_of_fp32(detector, sample_frames, runtime):
    """The quantized NanoDet (detector_precision int8) agrees with the fp32 file it came from."""
    from hmr_models.frontend.boxes import box_iou
    int8 = NanoDetPersonDetector(runtime=runtime, precision='int8')
    assert int8.model_file.endswith('nanodet_int8.onnx')
    assert detector.model_file.endswith('nanodet.onnx')
    for index in SAMPLE_PEOPLE:
        ref, _ = detector.detect(sample_frames[index])
        boxes, _ = int8.detect(sample_frames[index])
        assert len(boxes) == len(ref) >= 2, f'frame {index}'
        assert box_iou(ref, boxes).max(1).min() > 0.85, f'frame {index}'


def test_precision_picks_the_bundled_twin(tmp_path, monkeypatch):
    from hmr_models.frontend import onnx_model
    from hmr_models.frontend.detector import BUNDLED_NANODET
    from hmr_models.runtime import Runtime
    twin = BUNDLED_NANODET.with_name('nanodet_int8.onnx')
    assert onnx_model.bundled_model(BUNDLED_NANODET, 'int8') == twin
    assert onnx_model.bundled_model(BUNDLED_NANODET, 'fp32') == BUNDLED_NANODET
    alone = tmp_path / 'alone.onnx'          # no int8 twin beside it: fp32 whatever is asked
    assert onnx_model.bundled_model(alone, 'int8') == alone
    with pytest.raises(ValueError, match='precision'):
        onnx_model.bundled_model(BUNDLED_NANODET, 'fp16')
    for has_int8 in (True, False):
        monkeypatch.setattr(onnx_model, 'cpu_has_int8_kernels', lambda v=has_int8: v)
        assert onnx_model.bundled_model(BUNDLED_NANODET, 'auto') == \
            (twin if has_int8 else BUNDLED_NANODET)
        # GPUs run the fp32 graph.
        assert onnx_model.bundled_model(BUNDLED_NANODET, 'auto', Runtime(device='cuda')) == \
            BUNDLED_NANODET


@pytest.mark.parametrize('check, flags', [
    ('onnx_model.cpu_has_int8_kernels', ('avx2', 'avx512_vnni', 'avx_vnni')),
    ('openvino_model.cpu_has_bf16', ('avx512_bf16', 'amx_bf16 amx_tile')),
])
def test_cpu_checks_read_the_cpu_flags(check, flags, tmp_path, monkeypatch):
    """The int8 detector's and bf16 MoveNet's CPU checks, both on onnx_model.cpu_flags."""
    from hmr_models.frontend import onnx_model, openvino_model
    module, name = check.split('.')
    has = getattr({'onnx_model': onnx_model, 'openvino_model': openvino_model}[module], name)
    monkeypatch.setattr(onnx_model.platform, 'machine', lambda: 'x86_64')
    info = tmp_path / 'cpuinfo'
    for flag in flags:
        info.write_text(f'processor\t: 0\nflags\t\t: fpu sse avx {flag}\n')
        assert has(info), flag
    info.write_text('processor\t: 0\nflags\t\t: fpu sse sse4_2 avx\n')
    assert not has(info)
    assert not has(tmp_path / 'missing')
    monkeypatch.setattr(onnx_model.platform, 'machine', lambda: 'aarch64')
    info.write_text(f'flags\t\t: {flags[0]}\n')
    assert not has(info)


def test_quantize_tool_makes_a_working_twin(tmp_path, sample_frames, runtime):
    """`python -m hmr_models.frontend.quantize`'s steps, on a few calibration frames."""
    from hmr_models.frontend.detector import BUNDLED_NANODET
    from hmr_models.frontend.quantize import DEFAULT_CLIP, calibration_inputs, quantize
    inputs = calibration_inputs(DEFAULT_CLIP, every=80)
    assert len(inputs) == 3 and inputs[0].shape == (1, 3, 416, 416)
    twin = quantize(BUNDLED_NANODET, tmp_path / 'nanodet_int8.onnx', inputs, 'input_1:0')
    assert twin.stat().st_size < 0.4 * BUNDLED_NANODET.stat().st_size   # int8 weights
    detector = NanoDetPersonDetector(model_path=str(twin), runtime=runtime)
    frame = sample_frames[max(SAMPLE_PEOPLE)]
    boxes, _ = detector.detect(frame)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    for name, (xy, height) in SAMPLE_PEOPLE[max(SAMPLE_PEOPLE)].items():
        assert np.linalg.norm(centres - np.array(xy), axis=1).min() < 0.25 * height, name
    with pytest.raises(FileNotFoundError, match='calibration clip'):
        calibration_inputs(tmp_path / 'missing.mp4')


def test_int8_twin_does_not_saturate_on_this_cpu():
    """The int8 twin's integer kernels compute what its quantized arithmetic says.

    onnxruntime's reference run (graph optimisations off) dequantizes and convolves in float: no
    overflow. On CPUs without VNNI (AVX2) the optimised kernels sum uint8 x int8 products in
    16 bits, which full-range (8-bit) weights overflow: there the person scores of a twin made
    made without reduce_range were 0.021 from the reference (median over the score maps of
    the largest difference in each); 0.002 with it (quantize.py).
    """
    import onnx
    import onnxruntime as ort

    from hmr_models.frontend.detector import BUNDLED_NANODET, free_input_size

    from .conftest import read_frames, SAMPLE
    model = free_input_size(onnx.load(str(BUNDLED_NANODET.with_name('nanodet_int8.onnx'))))
    level = ort.GraphOptimizationLevel

    def session(optimisation):
        options = ort.SessionOptions()
        options.graph_optimization_level = optimisation
        options.intra_op_num_threads = 1
        return ort.InferenceSession(model.SerializeToString(), options,
                                    providers=['CPUExecutionProvider'])
    fast, exact = session(level.ORT_ENABLE_ALL), session(level.ORT_DISABLE_ALL)
    name = fast.get_inputs()[0].name
    moved = []
    for frame in read_frames(SAMPLE, set(range(0, 230, 20))).values():
        x, _ = preprocess(frame, 416)
        for a, b in zip(fast.run(None, {name: x}), exact.run(None, {name: x})):
            if a.shape[-1] == 80:                       # class scores: person is class 0
                moved.append(float(np.abs(a[..., 0] - b[..., 0]).max()))
    assert len(moved) == 36
    assert np.median(moved) < 0.006, moved
