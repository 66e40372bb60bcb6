"""The onnxruntime backend of the mesh stages: parity with torch, the cache, the fallback."""
import logging
import threading

import cv2
import numpy as np
import pytest
import torch

from diffmesh.diffmesh_helpers import tiny_config
from hmr_models.diffmesh import DiffMesh, StreamingConfig, StreamingSmoother
from hmr_models.dpmesh import DPMesh, DPMeshPredictor, load_config
from hmr_models.dpmesh.predictor import TorchNetwork
from hmr_models.onnx_runner import cache_dir
from hmr_models.paths import ASSETS_DIR
from hmr_models.pipeline import PipelineConfig, build_pipeline
from hmr_models.runtime import resolve_runtime

SAMPLE = ASSETS_DIR.parents[1] / 'media' / 'sample_sports2d.mp4'
ORT = resolve_runtime('cpu', 'float32', 1, 'onnxruntime')
TORCH = resolve_runtime('cpu', 'float32', 1, 'torch')


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv('HMR_CACHE_DIR', str(tmp_path / 'cache'))
    return tmp_path / 'cache' / 'onnx'


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope='module')
def frame_and_people():
    """A real frame and the front-end's people in it."""
    cap = cv2.VideoCapture(str(SAMPLE))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, bgr = cap.read()
    cap.release()
    frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    pipeline = build_pipeline(PipelineConfig(model_profile='frontend_only', threads=1))
    people = pipeline.process(frame, 0.0, None).people
    assert len(people) >= 1
    return frame, people


def tiny_dpmesh(seed=0):
    torch.manual_seed(seed)
    return DPMesh(load_config('tiny'))


def test_auto_is_onnxruntime_on_the_cpu():
    assert resolve_runtime('cpu', 'auto', 1, 'auto').backend == 'onnxruntime'
    with pytest.raises(ValueError, match='tensorrt needs a CUDA device'):
        resolve_runtime('cpu', 'auto', 1, 'tensorrt')


def test_dpmesh_onnxruntime_matches_torch_and_is_cached(cache, frame_and_people, test_body,
                                                        monkeypatch):
    frame, people = frame_and_people
    by_torch = DPMeshPredictor(tiny_dpmesh(), test_body, TORCH).predict(frame, people)
    onnx = DPMeshPredictor(tiny_dpmesh(), test_body, ORT)
    assert onnx.backend == 'onnxruntime'
    by_onnx = onnx.predict(frame, people)
    for field in ('pose', 'betas', 'translation', 'joints', 'vertices'):
        np.testing.assert_allclose(getattr(by_onnx, field), getattr(by_torch, field),
                                   atol=1e-4, err_msg=field)
    files = sorted(cache.glob('dpmesh_tiny-*.onnx'))
    assert len(files) == 1
    # The same weights load the cached file, without exporting again. (The session it would
    # load is the checked one: loading this graph again costs 13 s on 2 cores.)
    import hmr_models.frontend.onnx_model as onnx_model
    from hmr_models.onnx_runner import OnnxRunner
    loaded = []
    stamp = files[0].stat().st_mtime_ns
    with monkeypatch.context() as patch:
        patch.setattr(onnx_model, 'load_session', lambda path, *a, **k: loaded.append(path)
                      or onnx.network.runners['parameters'].session)
        patch.setattr(OnnxRunner, '_export', None)     # calling it would fail the test
        again = DPMeshPredictor(tiny_dpmesh(), test_body, ORT)
    assert again.network.paths == [files[0]] and loaded == [files[0]]
    assert files[0].stat().st_mtime_ns == stamp
    # Other weights would export a file of their own (the name holds the weights' hash).
    from hmr_models.onnx_runner import weights_digest
    assert weights_digest(tiny_dpmesh(seed=1)) != weights_digest(tiny_dpmesh(seed=0))
    assert weights_digest(tiny_dpmesh(seed=0)) == weights_digest(tiny_dpmesh(seed=0))
    # Any number of people (the batch axis is free), none included.
    assert len(onnx.predict(frame, people.select([0]))) == 1
    assert len(onnx.predict(frame, people.select(np.zeros(0, np.int64)))) == 0


def test_diffmesh_onnxruntime_matches_torch(cache, rng, caplog):
    """The DiffMesh export (simplified by onnxslim, exported for 2 tracks and 2 frames) gives
    torch's answers for 3 tracks, one or two frames, the end of the stream included."""
    torch.manual_seed(0)
    model = DiffMesh(tiny_config()).eval()
    # an odd delay: the end of the stream decodes its 3 frames as two pairs
    config = StreamingConfig(temporal_jit=False, temporal_delay_frames=3)
    by_torch = StreamingSmoother(model, config)
    with caplog.at_level(logging.INFO, logger='hmr_models.onnx_runner'):
        by_onnx = StreamingSmoother(model, config, runtime=ORT)
    assert by_onnx.backend == 'onnxruntime' and by_torch.backend == 'torch'
    assert 'simplified the export' in caplog.text
    # The newest frame alone (no delay): the same file, no second export.
    newest = StreamingSmoother(model, StreamingConfig(temporal_jit=False), runtime=ORT)
    newest_by_torch = StreamingSmoother(model, StreamingConfig(temporal_jit=False))
    assert len(list(cache.glob('diffmesh-*.onnx'))) == 1
    from hmr_models.types import BodyEstimate, People
    for k in range(12):
        n = 3
        est = BodyEstimate(pose=rng.normal(0, 0.2, (n, 72)).astype(np.float32),
                           betas=np.zeros((n, 10), np.float32),
                           translation=np.array([[0, 0, 3], [1, 0, 4], [-1, 0, 5]],
                                                np.float32),
                           joints=np.zeros((n, 24, 3), np.float32),
                           joint_confidence=np.ones((n, 24), np.float32))
        people = People(boxes=np.tile([[100, 100, 200, 400]], (n, 1)).astype(np.float32),
                        scores=np.ones(n, np.float32),
                        keypoints=rng.uniform(100, 400, (n, 17, 2)).astype(np.float32),
                        keypoint_scores=np.ones((n, 17), np.float32),
                        track_ids=np.array([4, 5, -1]))
        a = by_torch.step(k / 30, people.track_ids, est, people)
        b = by_onnx.step(k / 30, people.track_ids, est, people)
        np.testing.assert_allclose(b.current.pose, a.current.pose, atol=1e-4)
        np.testing.assert_allclose(b.current.joints, a.current.joints, atol=1e-4)
        np.testing.assert_allclose(newest.step(k / 30, people.track_ids, est, people).current.pose,
                                   newest_by_torch.step(k / 30, people.track_ids, est,
                                                        people).current.pose, atol=1e-4)
        if a.delayed is not None:
            np.testing.assert_allclose(b.delayed.estimate.pose, a.delayed.estimate.pose,
                                       atol=1e-4)
    a, b = by_torch.flush(), by_onnx.flush()
    np.testing.assert_allclose(b.stamps, a.stamps)
    np.testing.assert_allclose(sorted(set(a.stamps * 30)), [9, 10, 11], atol=1e-6)
    np.testing.assert_allclose(b.estimate.pose, a.estimate.pose, atol=1e-4)


def test_a_model_that_does_not_export_runs_with_torch(cache, monkeypatch, caplog, test_body):
    def broken(*args, **kwargs):
        raise RuntimeError('exporter exploded')
    monkeypatch.setattr(torch.onnx, 'export', broken)
    with caplog.at_level(logging.WARNING):
        predictor = DPMeshPredictor(tiny_dpmesh(), test_body, ORT)
    assert predictor.backend == 'torch' and isinstance(predictor.network, TorchNetwork)
    assert 'DPMesh runs with torch' in caplog.text and 'exporter exploded' in caplog.text
    assert not list(cache.glob('*.onnx')), 'a failed export must not be cached'


def test_a_graph_onnxslim_cannot_simplify_is_kept_as_exported(tmp_path, monkeypatch, caplog):
    import onnxruntime as ort
    import onnxslim
    from hmr_models.onnx_runner import simplified
    path = tmp_path / 'linear.onnx'
    torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),), str(path),
                      input_names=['x'], dynamo=False)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError('slimmer exploded')
    monkeypatch.setattr(onnxslim, 'slim', broken)
    with caplog.at_level(logging.WARNING):
        simplified(path)
    assert 'slimmer exploded' in caplog.text and path.read_bytes() == before
    assert ort.InferenceSession(str(path)).run(None, {'x': np.ones((1, 3), np.float32)})


def test_an_image_part_that_does_not_export_runs_with_torch(frame_and_people, caplog):
    """The lifted model's image graph is loaded only when the image part is used; if it
    cannot be exported, the image part runs with torch and the lifter stays on onnxruntime."""
    from hmr_models.dpmesh.factory import MeshConfig, create_mesh_predictor
    from hmr_models.onnx_runner import ExportError
    frame, people = frame_and_people
    lifter_only = create_mesh_predictor('compact', MeshConfig(image_correction_interval=0), ORT)
    assert lifter_only.backend == 'onnxruntime' and set(lifter_only.network.runners) == {'lifter'}
    assert not lifter_only.model.backbone_built   # nor even built in torch

    gate = threading.Event()

    def broken():
        assert gate.wait(120)
        raise ExportError('exporter exploded')
    lifter_only.network._image_part = (broken, lifter_only.model)
    with caplog.at_level(logging.INFO):
        # A live change (the node's parameter) returns at once; the frames go on with the
        # lifter alone until the image part is ready.
        thread = lifter_only.set_image_correction_interval(1, wait=False)
        assert lifter_only.image_correction_interval == 0
        assert len(lifter_only.predict(frame, people)) == len(people)
        gate.set()
        thread.join(300)
    assert not thread.is_alive() and lifter_only.image_correction_interval == 1
    assert 'image part runs with torch' in caplog.text and 'exporter exploded' in caplog.text
    assert 'image_correction_interval 1 in effect' in caplog.text
    by_torch = create_mesh_predictor('compact', MeshConfig(image_correction_interval=1), TORCH,
                                     body=lifter_only.body)
    np.testing.assert_allclose(lifter_only.predict(frame, people).pose,
                               by_torch.predict(frame, people).pose, atol=2e-4)


def test_the_image_graph_is_exported_from_float32_on_the_cpu():
    """The image graph is made after the predictor moved its model (fp16 on a GPU): it is
    exported, and its cache key hashed, from a float32 CPU copy, the model left as it was."""
    from hmr_models.dpmesh.predictor import _float32_cpu
    model = torch.nn.Linear(3, 2).double()
    copy = _float32_cpu(model)
    assert copy is not model and copy.weight.dtype == torch.float32
    assert model.weight.dtype == torch.float64
    assert torch.equal(copy.weight, model.weight.float())
    as_is = torch.nn.Linear(3, 2)
    assert _float32_cpu(as_is) is as_is


def test_bundled_models_run_on_onnxruntime_like_torch(frame_and_people):
    """The shipped compact weights (what live.launch.py runs) load and give the same answers
    on both backends.

    Uses the machine's cache, which scripts/setup.sh fills (an export takes ~30 s on 2 cores).
    """
    frame, people = frame_and_people
    results = {}
    for backend in ('torch', 'onnxruntime'):
        pipeline = build_pipeline(PipelineConfig(threads=1, backend=backend,
                                                 pipelining=False))
        assert pipeline.mesh.config.profile == 'compact'
        assert isinstance(pipeline.temporal, StreamingSmoother)
        assert pipeline.mesh.backend == backend and pipeline.temporal.backend == backend
        # A CPU never runs the image part: neither loaded nor its backbone built.
        assert pipeline.mesh.image_correction_interval == 0
        assert not pipeline.mesh.model.backbone_built
        if backend == 'onnxruntime':
            assert set(pipeline.mesh.network.runners) == {'lifter'}
        results[backend] = pipeline.mesh.predict(frame, people, None)
    assert cache_dir().exists()
    for field in ('pose', 'translation', 'joints'):
        np.testing.assert_allclose(getattr(results['onnxruntime'], field),
                                   getattr(results['torch'], field), atol=2e-4, err_msg=field)


class CountingNetwork:
    """Counts how many crops go through the image part of a network it wraps."""

    def __init__(self, network):
        self.network = network
        self.image_crops = []

    def __getattr__(self, name):
        return getattr(self.network, name)

    def lifted_and_corrections(self, images, *args):
        self.image_crops.append(len(images))
        return self.network.lifted_and_corrections(images, *args)


class RecordingRefiner:
    """Keeps the estimates a refiner it wraps was given (the network's, before the fit)."""

    def __init__(self, refiner):
        self.refiner = refiner
        self.given = []

    def __getattr__(self, name):
        return getattr(self.refiner, name)

    def refine(self, pose, betas, translation, *args, **kwargs):
        self.given.append((pose.copy(), betas.copy(), translation.copy()))
        return self.refiner.refine(pose, betas, translation, *args, **kwargs)


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime'])
def test_image_corrections_are_reused_for_tracked_people(frame_and_people, backend):
    """image_correction_interval 2: the image part for n / 2 people per frame, never more than
    ceil(n / 2) in one frame, new tracks first; everybody gets the lifter. Once every track has
    had its image pass, each frame equals the full model (interval 1) on the same image. The
    default keypoint refinement runs after the network on both backends, reused corrections
    included, and brings the bodies closer to the keypoints than the network's estimate."""
    from hmr_models.dpmesh.factory import MeshConfig, create_mesh_predictor
    from hmr_models.fitting import RefineConfig
    from hmr_models.types import CameraIntrinsics
    frame, people = frame_and_people
    people = people.select(np.arange(len(people)))
    people.track_ids = np.arange(len(people)) + 10    # as the tracker would number them
    camera = CameraIntrinsics.from_image_diagonal(frame.shape[1], frame.shape[0])
    runtime = resolve_runtime('cpu', 'float32', 1, backend)
    every = create_mesh_predictor('compact', MeshConfig(image_correction_interval=1), runtime,
                                  refine=RefineConfig())
    assert every.model.splits and every.backend == backend
    if backend == 'onnxruntime':          # loaded at the start when it will be used
        assert set(every.network.runners) == {'lifter', 'full'}
    half = create_mesh_predictor('compact', MeshConfig(image_correction_interval=2), runtime,
                                 body=every.body, refine=RefineConfig())
    half.network = CountingNetwork(half.network)
    half.refiner = RecordingRefiner(half.refiner)
    n = len(people)
    assert n >= 2

    def closer_than_the_network(fitted, k):
        def err(pose, betas, translation):
            return half.refiner.keypoint_error(pose, betas, translation, people.keypoints,
                                               people.keypoint_scores, people.boxes, camera)
        assert 'refine' in half.last_timings_ms
        assert err(fitted.pose, fitted.betas, fitted.translation).mean() < \
            err(*half.refiner.given[k]).mean()
    reference = every.predict(frame, people, camera)
    lifter = half.lift(people, camera)
    crops = half.network.image_crops
    outputs = [half.predict(frame, people, camera) for _ in range(6)]
    # n / 2 per frame on average, never more than ceil(n / 2) in one frame
    assert sum(crops) == 3 * n and max(crops) <= -(-n // 2), crops
    done = int(np.searchsorted(np.cumsum(crops), n)) + 1     # frames until all had a pass
    assert done < 6
    for out in outputs[done:]:
        # Same image and keypoints: reused corrections give the same answer.
        np.testing.assert_allclose(out.pose, reference.pose, atol=1e-5)
    closer_than_the_network(outputs[0], 0)
    closer_than_the_network(outputs[-1], 5)
    # A person without a pass yet has the lifter's estimate (before the fit) meanwhile.
    waiting = [i for i in range(n) if i >= crops[0]]
    np.testing.assert_allclose(half.refiner.given[0][0][waiting],
                               lifter.pose[waiting].reshape(len(waiting), -1), atol=1e-5)
    # An untracked person cannot reuse a correction: it gets the image part only within the
    # share (one person, interval 2: every second frame).
    untracked = people.select([0])
    untracked.track_ids = np.array([-1])
    crops.clear()
    for _ in range(4):
        half.predict(frame, untracked, camera)
    assert sorted(crops) == [1, 1], crops
