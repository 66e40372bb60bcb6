"""MoveNet Lightning/Thunder top-down on real frames of the bundled clip."""
import numpy as np
import pytest

from hmr_models.frontend.keypoints.movenet import MoveNetBackend
from hmr_models.frontend.onnx_model import ModelLoadError
from hmr_models.paths import ASSETS_DIR, MissingModelFile

from ..conftest import SAMPLE_PEOPLE

NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_ANKLE, R_ANKLE = 0, 5, 6, 11, 12, 15, 16


def person_box(xy, height, aspect=0.45):
    (x, y), w = xy, height * aspect
    return np.array([x - w / 2, y - height / 2, x + w / 2, y + height / 2], np.float32)


@pytest.fixture(scope='module')
def lightning(runtime):
    return MoveNetBackend('movenet_lightning', runtime=runtime)


def check_upright_person(kp, sc, box):
    """Plausible COCO-17 output for an upright person inside `box`."""
    assert kp.shape == (17, 2) and sc.shape == (17,)
    assert sc.mean() > 0.5
    x1, y1, x2, y2 = box
    h = y2 - y1
    inside = (kp[:, 0] > x1 - 0.2 * h) & (kp[:, 0] < x2 + 0.2 * h) & \
        (kp[:, 1] > y1 - 0.1 * h) & (kp[:, 1] < y2 + 0.1 * h)
    assert inside.all(), kp
    # Head above shoulders above hips above ankles (image y grows downwards).
    shoulders = kp[[L_SHOULDER, R_SHOULDER], 1].mean()
    hips = kp[[L_HIP, R_HIP], 1].mean()
    ankles = kp[[L_ANKLE, R_ANKLE], 1].mean()
    assert kp[NOSE, 1] < shoulders < hips < ankles


def test_lightning_keypoints_on_real_people(lightning, sample_frames):
    frame = sample_frames[75]
    people = SAMPLE_PEOPLE[75]
    boxes = np.stack([person_box(xy, h) for xy, h in people.values()])
    kp, sc = lightning.estimate(frame, boxes)
    assert kp.dtype == np.float32 and kp.shape == (2, 17, 2)
    for i in range(2):
        check_upright_person(kp[i], sc[i], boxes[i])


def test_thunder_agrees_with_lightning(runtime, lightning, sample_frames):
    thunder = MoveNetBackend('movenet_thunder', runtime=runtime)
    assert thunder.input_size == 256 and lightning.input_size == 192
    xy, h = SAMPLE_PEOPLE[100]['woman']
    box = person_box(xy, h)[None]
    kp_l, _ = lightning.estimate(sample_frames[100], box)
    kp_t, sc_t = thunder.estimate(sample_frames[100], box)
    check_upright_person(kp_t[0], sc_t[0], box[0])
    assert np.median(np.linalg.norm(kp_l - kp_t, axis=-1)) < 0.05 * h


def test_box_partly_outside_the_image_and_no_boxes(lightning, sample_frames):
    frame = sample_frames[75]
    kp, sc = lightning.estimate(frame, np.zeros((0, 4), np.float32))
    assert kp.shape == (0, 17, 2) and sc.shape == (0, 17)
    # The crop reaches past the image border (black padding): still a finite answer.
    kp, sc = lightning.estimate(frame, np.array([[1200, 500, 1300, 760]], np.float32))
    assert np.isfinite(kp).all() and ((sc >= 0) & (sc <= 1)).all()


def test_bad_variant_and_model_files(tmp_path):
    with pytest.raises(ValueError, match='movenet_lightning'):
        MoveNetBackend('movenet_fast')
    with pytest.raises(MissingModelFile, match='keypoint_model_path'):
        MoveNetBackend(model_path=str(tmp_path / 'missing.onnx'))
    # A valid ONNX file that is not MoveNet (the detector) is refused with its I/O described.
    with pytest.raises(ModelLoadError, match='keypoint_model_path.*inputs'):
        MoveNetBackend(model_path=str(ASSETS_DIR / 'detectors' / 'nanodet.onnx'))


def test_parallel_workers_give_the_same_keypoints(runtime, lightning, sample_frames):
    frame = sample_frames[75]
    boxes = np.stack([person_box(xy, h) for xy, h in SAMPLE_PEOPLE[75].values()] * 3)
    parallel = MoveNetBackend('movenet_lightning', runtime=runtime, workers=2)
    try:
        kp_p, sc_p = parallel.estimate(frame, boxes)
    finally:
        parallel.close()
    kp_s, sc_s = lightning.estimate(frame, boxes)
    np.testing.assert_allclose(kp_p, kp_s, atol=1e-3)
    np.testing.assert_allclose(sc_p, sc_s, atol=1e-5)


@pytest.mark.parametrize('variant', ['movenet_lightning', 'movenet_thunder'])
def test_scalar_constants_leave_movenets_outputs_bit_identical(variant, sample_frames):
    """The load-time graph tweak (scalar_uniform_constants) changes speed, not results."""
    import onnx
    import onnxruntime as ort
    from hmr_models.frontend.keypoints.movenet import BUNDLED_MOVENET
    from hmr_models.frontend.onnx_model import scalar_uniform_constants
    model = onnx.load(str(BUNDLED_MOVENET[variant]))
    plain = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    tweaked_model = scalar_uniform_constants(model)
    assert any(len(i.dims) == 0 for i in tweaked_model.graph.initializer)
    tweaked = ort.InferenceSession(tweaked_model.SerializeToString(),
                                   providers=['CPUExecutionProvider'])
    import cv2
    from hmr_models.frontend.boxes import square_boxes
    from hmr_models.geometry.affine import box_to_crop_affine
    size = plain.get_inputs()[0].shape[1]
    frame = sample_frames[max(SAMPLE_PEOPLE)]
    for xy, height in SAMPLE_PEOPLE[max(SAMPLE_PEOPLE)].values():
        affine = box_to_crop_affine(square_boxes(person_box(xy, height)[None], 1.25), size)[0]
        crop = cv2.warpAffine(frame, affine, (size, size))[None].astype(np.int32)
        feed = {plain.get_inputs()[0].name: crop}
        np.testing.assert_array_equal(plain.run(None, feed)[0], tweaked.run(None, feed)[0])


# -- bf16 on OpenVINO (keypoint_precision) --------------------------------------------------
needs_openvino = pytest.mark.skipif(
    not __import__('hmr_models.frontend.openvino_model', fromlist=['x']).openvino_available(),
    reason='openvino is not installed (requirements.txt installs it on x86_64)')


@needs_openvino
def test_bf16_keypoints_agree_with_fp32_on_real_people(runtime, lightning, sample_frames):
    """bf16 moves keypoints by a fraction of a pixel, not to other places."""
    bf16 = MoveNetBackend('movenet_lightning', runtime=runtime, precision='bf16')
    assert bf16.precision == 'bf16' and lightning.precision == 'fp32'
    for index, people in SAMPLE_PEOPLE.items():
        boxes = np.stack([person_box(xy, h) for xy, h in people.values()])
        kp_f, sc_f = lightning.estimate(sample_frames[index], boxes)
        kp_b, sc_b = bf16.estimate(sample_frames[index], boxes)
        assert not np.array_equal(kp_b, kp_f)          # it really ran in another precision
        moved = np.linalg.norm(kp_b - kp_f, axis=-1)
        heights = np.array([h for _, h in people.values()])[:, None]
        assert np.median(moved) < 1.5 and (moved < 0.02 * heights).mean() > 0.9, moved
        assert np.median(np.abs(sc_b - sc_f)) < 0.03     # scores: a few hundredths apart
        for i in range(len(boxes)):
            check_upright_person(kp_b[i], sc_b[i], boxes[i])


@needs_openvino
def test_bf16_runs_people_one_at_a_time_on_openvinos_threads(runtime, sample_frames):
    """Asked for parallel workers, bf16 runs one person at a time (no Python thread pool)."""
    frame = sample_frames[75]
    boxes = np.stack([person_box(xy, h) for xy, h in SAMPLE_PEOPLE[75].values()] * 3)
    serial = MoveNetBackend('movenet_lightning', runtime=runtime, precision='bf16')
    asked = MoveNetBackend('movenet_lightning', runtime=runtime, workers=2, precision='bf16')
    assert asked.workers == 1 and asked._pool is None
    kp_a, sc_a = asked.estimate(frame, boxes)
    kp_s, sc_s = serial.estimate(frame, boxes)
    np.testing.assert_allclose(kp_a, kp_s, atol=1e-3)
    np.testing.assert_allclose(sc_a, sc_s, atol=1e-5)
    # the two people differ, and each copy of a person got that person's keypoints
    assert np.abs(kp_s[0] - kp_s[1]).max() > 50
    np.testing.assert_allclose(kp_s[0::2], np.repeat(kp_s[:1], 3, 0), atol=1e-3)


@needs_openvino
def test_bf16_model_called_from_several_threads_finishes(runtime, sample_frames):
    """Threads calling one compiled model at once deadlocked in the node; calls are serialized."""
    import threading
    from hmr_models.frontend.keypoints.movenet import BUNDLED_MOVENET
    from hmr_models.frontend.openvino_model import OpenVinoBf16Model
    model = OpenVinoBf16Model(BUNDLED_MOVENET['movenet_lightning'], threads=2)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (1, 192, 192, 3)).astype(np.int32) for _ in range(3)]
    expected = [model.run({'input:0': c}) for c in crops]
    failures = []

    def hammer(i):
        for _ in range(30):
            if not np.array_equal(model.run({'input:0': crops[i]}), expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), 'OpenVINO calls from threads hung'
    assert not failures          # each thread got its own input's output, never another's


def test_keypoint_precision_choice(monkeypatch):
    from hmr_models.frontend import openvino_model
    from hmr_models.runtime import Runtime
    choose = openvino_model.keypoint_precision
    for bf16_cpu in (True, False):
        for installed in (True, False):
            monkeypatch.setattr(openvino_model, 'cpu_has_bf16', lambda v=bf16_cpu: v)
            monkeypatch.setattr(openvino_model, 'openvino_available', lambda v=installed: v)
            assert choose('auto') == ('bf16' if bf16_cpu and installed else 'fp32')
            assert choose('auto', Runtime(device='cuda')) == 'fp32'      # GPUs: onnxruntime
            assert choose('fp32') == 'fp32'
    monkeypatch.setattr(openvino_model, 'openvino_available', lambda: False)
    with pytest.raises(ModelLoadError, match=r"pip install 'openvino==.*keypoint_precision"):
        choose('bf16')
    with pytest.raises(ValueError, match='keypoint precision'):
        choose('int8')


def test_keypoint_precision_is_validated_in_the_config():
    from hmr_models.frontend.config import FrontEndConfig
    FrontEndConfig(keypoint_precision='bf16').validate()
    with pytest.raises(ValueError, match='keypoint_precision'):
        FrontEndConfig(keypoint_precision='int8').validate()
