"""HMRPipeline as the node builds it: front-end -> DPMesh -> DiffMesh on a real frame."""
import cv2
import numpy as np
import pytest
import torch

from diffmesh.diffmesh_helpers import tiny_config
from hmr_models.diffmesh import DiffMesh, OneEuroSmoother, StreamingSmoother, TemporalConfig
from hmr_models.dpmesh import DPMesh, DPMeshPredictor, load_config
from hmr_models.dpmesh.factory import MeshConfig
from hmr_models.paths import ASSETS_DIR, MissingModelFile
from hmr_models.pipeline import PipelineConfig, StageConfigs, build_pipeline

REPO_MEDIA = ASSETS_DIR.parents[1] / 'media' / 'sample_sports2d.mp4'


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Small random DPMesh and DiffMesh checkpoints (the plumbing does not need trained ones)."""
    root = tmp_path_factory.mktemp('weights')
    torch.manual_seed(0)
    DPMesh(load_config('tiny')).save_pretrained(root / 'dpmesh')
    DiffMesh(tiny_config()).save_pretrained(root / 'diffmesh')
    return root


@pytest.fixture(scope='module')
def frames():
    cap = cv2.VideoCapture(str(REPO_MEDIA))
    out = []
    for _ in range(12):
        ok, bgr = cap.read()
        assert ok
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


def build(checkpoints, **kw):
    """The plumbing on torch (no ONNX export per pipeline); the node's default backend
    (onnxruntime on the CPU) runs in the first test and in test_backends.py."""
    method = kw.pop('temporal_method', 'diffmesh')
    kw.setdefault('backend', 'torch')
    config = PipelineConfig(threads=1, **kw)
    stages = StageConfigs(mesh=MeshConfig(dpmesh_checkpoint=str(checkpoints / 'dpmesh')),
                          temporal=TemporalConfig(method, str(checkpoints / 'diffmesh')))
    return build_pipeline(config, stages)


def test_full_pipeline_gives_per_frame_and_smoothed_bodies(checkpoints, frames):
    pipeline = build(checkpoints, backend='auto')
    assert isinstance(pipeline.mesh, DPMeshPredictor)
    assert isinstance(pipeline.temporal, StreamingSmoother)
    for i, frame in enumerate(frames):
        result = pipeline.process(frame, 10.0 + i / 30, None)
    n = len(result.people)
    assert n >= 1
    bodies, smoothed = result.bodies, result.smoothed
    assert bodies.pose.shape == (n, 72) and smoothed.pose.shape == (n, 72)
    assert bodies.vertices.shape == (n, pipeline.mesh.body.num_vertices, 3)
    assert not bodies.temporal_flags().any()
    # Every tracked person is smoothed; untracked ones are passed through and labelled so.
    np.testing.assert_array_equal(smoothed.temporal_flags(), result.people.track_ids >= 0)
    assert np.isfinite(smoothed.joints).all() and smoothed.joints.shape == (n, 24, 3)
    # A body in front of the camera: positive depth.
    assert (bodies.translation[:, 2] > 0).all()
    assert {'frontend', 'mesh', 'temporal', 'total'} <= set(result.timings_ms)


def test_one_euro_and_no_temporal(checkpoints, frames):
    pipeline = build(checkpoints, temporal_method='one_euro')
    assert isinstance(pipeline.temporal, OneEuroSmoother)
    result = pipeline.process(frames[0], 1.0, None)
    assert result.smoothed is not None
    np.testing.assert_array_equal(result.smoothed.temporal_flags(), result.people.track_ids >= 0)
    off = build(checkpoints, enable_temporal=False)
    assert off.temporal is None and off.process(frames[0], 1.0, None).smoothed is None


def test_stills_find_every_image_afresh(checkpoints, frames):
    """stills: each image stands alone, as photos do: no tracks, no smoothing, no floor learnt,
    and the detector runs on every image (detector_interval does not apply)."""
    pipeline = build(checkpoints, stills=True, floor_from_people=True)
    assert pipeline.temporal is None and pipeline.floor_estimate is None
    mirrored = np.ascontiguousarray(frames[0][:, ::-1])
    counts = []
    for i, frame in enumerate([frames[0], mirrored, frames[0], mirrored]):
        result = pipeline.process(frame, i / 10, None)
        assert result.smoothed is None and (result.people.track_ids < 0).all()
        counts.append(len(result.people))
    assert counts[0] >= 1 and counts == [counts[0], counts[1]] * 2, counts
    assert pipeline.frontend.totals.detector_fallbacks == 0    # detect() every time
    # As a video instead: the second image is a guided one, nobody is where the tracks expect
    # them, and the detector runs after all (counted for the node's diagnostics).
    video = build(checkpoints)
    video.process(frames[0], 0.0, None)
    second = video.process(mirrored, 0.1, None)
    assert second.counters.get('detector_fallbacks') == 1 and len(second.people) == counts[1]


def test_frontend_only_loads_no_mesh_model():
    pipeline = build_pipeline(PipelineConfig(model_profile='frontend_only', threads=1))
    assert pipeline.mesh is None and pipeline.temporal is None


def test_missing_weights_name_the_parameter(tmp_path):
    with pytest.raises(MissingModelFile, match='dpmesh_checkpoint'):
        build_pipeline(PipelineConfig(model_profile='sd15', threads=1))
    with pytest.raises(MissingModelFile, match='dpmesh_checkpoint'):
        build_pipeline(PipelineConfig(threads=1),
                       StageConfigs(mesh=MeshConfig(dpmesh_checkpoint=str(tmp_path / 'no'))))
    with pytest.raises(ValueError, match='enable_tracking'):
        PipelineConfig(enable_tracking=False)


def test_halves_give_what_process_gives(checkpoints, frames):
    """process_front, process_mesh, process_temporal (the node's steps) == process."""
    whole, halves = build(checkpoints), build(checkpoints)
    for i, frame in enumerate(frames[:6]):
        a = whole.process(frame, 5.0 + i / 30, None)
        front = halves.process_front(frame, 5.0 + i / 30)
        b = halves.process_mesh(frame, None, front)
        assert b.smoothed is None and b.stamp == front.stamp
        per_frame = None if b.bodies is None else b.bodies.pose.copy()
        assert halves.process_temporal(b, None) is b
        if per_frame is not None:   # the temporal stage leaves the per-frame result as it was
            np.testing.assert_array_equal(b.bodies.pose, per_frame)
        np.testing.assert_array_equal(a.people.track_ids, b.people.track_ids)
        if a.bodies is not None:
            np.testing.assert_allclose(a.bodies.pose, b.bodies.pose, atol=1e-6)
            np.testing.assert_allclose(a.smoothed.pose, b.smoothed.pose, atol=1e-5)


def test_delayed_frames_pair_smoothed_people_with_their_frame(checkpoints, frames):
    from hmr_models.diffmesh import StreamingConfig
    pipeline = build_pipeline(
        PipelineConfig(threads=1, backend='torch'),
        StageConfigs(mesh=MeshConfig(dpmesh_checkpoint=str(checkpoints / 'dpmesh')),
                     temporal=TemporalConfig('diffmesh', str(checkpoints / 'diffmesh')),
                     streaming=StreamingConfig(temporal_delay_frames=3)))
    assert pipeline.delay_frames == 3
    stamps, people = [], {}
    delayed = []
    for i, frame in enumerate(frames):
        stamp = 20.0 + i / 30
        result = pipeline.process(frame, stamp, None)
        stamps.append(stamp)
        people[stamp] = result.people
        delayed += result.delayed
    assert delayed, 'no delayed output after 12 frames'

    def same_people(frame):
        """The delayed frame's people are its frame's: tracked then, or untracked then and
        taken over by a track that started right after (the tracker confirms on 2 hits)."""
        then = people[frame.stamp]
        for box, tid in zip(frame.people.boxes, frame.people.track_ids):
            j = np.nonzero(np.all(then.boxes == box, axis=1))[0]
            assert j.size and then.track_ids[j[0]] in (tid, -1), (frame.stamp, tid)
    for frame in delayed:
        # Each delayed frame is an earlier frame, 3 frames back, with that frame's people.
        assert frame.stamp in people and frame.stamp <= stamps[-1] - 3 / 30 + 1e-9
        same_people(frame)
        assert len(frame.bodies) == len(frame.people)
        assert frame.bodies.temporal_flags().all() and (frame.people.track_ids >= 0).all()
    # the first frame, whose people had no track id yet, is in the delayed stream too
    assert (people[stamps[0]].track_ids < 0).all() and len(people[stamps[0]])
    assert delayed[0].stamp == stamps[0] and len(delayed[0].people) == len(people[stamps[0]])
    # The end of the stream brings the last 3 frames, paired the same way, then nothing more.
    end = pipeline.end_of_stream()
    assert [f.stamp for f in end] == pytest.approx(stamps[-3:])
    for frame in end:
        same_people(frame)
        assert len(frame.bodies) == len(frame.people) > 0
    assert pipeline.end_of_stream() == []


def test_a_delayed_frame_is_published_once_whatever_its_stamps_rounding():
    """A sample between observations carries a grid time a rounding away from its frame's
    stamp (3.1999999999999993 for 3.2): it belongs to that frame, not to a second copy of it."""
    from types import SimpleNamespace
    from hmr_models.diffmesh.streaming import DelayedEstimate
    from hmr_models.pipeline import HMRPipeline
    from hmr_models.types import BodyEstimate, People
    temporal = SimpleNamespace(config=SimpleNamespace(temporal_delay_frames=2),
                               step=lambda *a: None)
    pipeline = HMRPipeline(PipelineConfig(), temporal=temporal)

    def people(ids):
        n = len(ids)
        return People(boxes=np.zeros((n, 4), np.float32), scores=np.ones(n, np.float32),
                      keypoints=np.zeros((n, 17, 2), np.float32),
                      keypoint_scores=np.ones((n, 17), np.float32), track_ids=np.array(ids))
    for stamp, ids in ((3.1, [1, 2]), (3.2, [1, 2, 3]), (3.3, [1, 2])):
        pipeline._recent.append((stamp, people(ids)))
    n = 4
    est = BodyEstimate(pose=np.arange(n, dtype=np.float32)[:, None].repeat(72, 1),
                       betas=np.zeros((n, 10), np.float32),
                       translation=np.zeros((n, 3), np.float32),
                       joints=np.zeros((n, 24, 3), np.float32),
                       joint_confidence=np.ones((n, 24), np.float32), temporal=True)
    delayed = DelayedEstimate(np.array([3.2, 3.2, 3.1999999999999993, 3.25]),
                              np.array([1, 2, 3, 1]), est)
    frames = pipeline._delayed_frames(delayed)
    assert [f.stamp for f in frames] == [3.2]        # 3.25: a grid time of no frame
    assert frames[0].people.track_ids.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(frames[0].bodies.pose[:, 0], [0, 1, 2])


def test_warm_up_leaves_no_track_behind(checkpoints, frames):
    pipeline = build(checkpoints)
    pipeline.warm_up(320, 240)
    assert len(pipeline.temporal.tracks) == 0
    assert len(pipeline.frontend.tracker.tracks) == 0
    result = pipeline.process(frames[0], 1.0, None)
    assert len(result.people) >= 1


def test_a_new_stream_forgets_the_last_one(checkpoints, frames):
    """reset_stream: a clip processed after another gives what it gives alone."""
    pipeline = build(checkpoints)

    def run():
        return [pipeline.process(frame, i / 30, None) for i, frame in enumerate(frames[:6])]
    first = run()
    assert len(pipeline.temporal.tracks) > 0 and len(pipeline.frontend.tracker.tracks) > 0
    pipeline.reset_stream()
    assert len(pipeline.temporal.tracks) == 0 and len(pipeline.frontend.tracker.tracks) == 0
    again = run()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.people.track_ids, b.people.track_ids)
        np.testing.assert_allclose(a.bodies.pose, b.bodies.pose, atol=1e-5)
        np.testing.assert_allclose(a.smoothed.pose, b.smoothed.pose, atol=1e-5)


def test_live_parameters_apply_or_raise(checkpoints, frames):
    pipeline = build(checkpoints)
    assert {'keypoint_threshold', 'min_person_height_px', 'max_people'} <= \
        pipeline.live_parameters()
    assert 'keypoint_backend' not in pipeline.live_parameters()
    pipeline.set_parameter('keypoint_threshold', 0.5)
    assert pipeline.mesh.keypoint_threshold == 0.5
    pipeline.set_parameter('min_person_height_px', 5000.0)
    assert len(pipeline.process(frames[0], 1.0, None).people) == 0
    with pytest.raises(ValueError, match='min_person_height_px'):
        pipeline.set_parameter('min_person_height_px', -1.0)
    assert pipeline.frontend.config.min_person_height_px == 5000.0   # unchanged by the error
    with pytest.raises(ValueError, match='detector_candidate_threshold'):
        pipeline.set_parameter('detector_candidate_threshold', 0.9)  # above the score threshold
    pipeline.set_parameter('detector_nms_iou', 0.3)
    assert pipeline.frontend.detector.nms_iou == 0.3
    with pytest.raises(ValueError, match='cannot change'):
        pipeline.set_parameter('keypoint_backend', 'mediapipe')
    with pytest.raises(ValueError, match='image_correction_interval must be >= -1'):
        pipeline.set_parameter('image_correction_interval', -2)
    assert not pipeline.mesh.model.splits   # no keypoint lifter to fall back on
    with pytest.raises(ValueError, match='needs a lifted model'):
        pipeline.set_parameter('image_correction_interval', 0)


def test_floor_from_people_feeds_the_floor_it_finds_to_both_stages(checkpoints, frames):
    """floor_from_people: the ankles are collected, and a found floor reaches the mesh stage
    and the temporal one (FrameResult.camera); a camera's own floor is kept; a new stream
    forgets."""
    from hmr_models.types import CameraIntrinsics
    pipeline = build(checkpoints, floor_from_people=True)
    finder = pipeline.floor_estimate
    camera = CameraIntrinsics.from_image_diagonal(frames[0].shape[1], frames[0].shape[0])
    seen = []
    original = pipeline.mesh.predict
    pipeline.mesh.predict = lambda image, people, cam, **kw: seen.append(cam) or original(
        image, people, cam, **kw)
    smoothed_with = []
    update = pipeline.temporal.update
    pipeline.temporal.update = lambda *a: smoothed_with.append(a[-1]) or update(*a)
    result = pipeline.process(frames[0], 0.0, camera)
    assert result.camera is camera and seen[-1].floor is None
    assert len(finder.feet) > 0                       # the sample's people show their ankles
    finder.floor = ((0.0, -1.0, 0.0), 2.0)            # as if found
    result = pipeline.process(frames[1], 1 / 30, camera)
    assert seen[-1].floor == 2.0 and result.camera.floor == 2.0
    assert smoothed_with[-1].floor == 2.0
    own = camera.with_floor((0.0, -1.0, 0.0), 1.2)
    assert pipeline.process(frames[2], 2 / 30, own).camera.floor == 1.2
    pipeline.reset_stream()
    assert finder.floor is None and len(finder.feet) == 0
    assert build(checkpoints).floor_estimate is None   # off by default


@pytest.mark.parametrize('threads, pipelined, apart, expected', [
    (2, True, True, (1, 1, 1)),     # 2 cores: one each, the temporal worker's the one over
    (8, True, True, (4, 2, 2)),
    (8, True, False, (4, 4, 4)),    # the temporal stage on the mesh worker: its threads
    (1, True, True, (1, 1, 1)),
    (4, False, True, (4, 4, 4)),    # lockstep: one worker, every thread
])
def test_split_threads_gives_each_worker_its_share(threads, pipelined, apart, expected):
    from hmr_models.runtime import Runtime, split_threads
    before = torch.get_num_threads()
    try:
        runtimes = split_threads(Runtime(threads=threads), pipelined, temporal_apart=apart)
        assert tuple(r.cpu_threads() for r in runtimes) == expected
        assert torch.get_num_threads() == expected[1]   # torch's pool: the mesh stage's
    finally:
        torch.set_num_threads(before)


def test_the_frames_stamps_reach_the_keypoint_fits_motion_prior(checkpoints, frames):
    """refine_motion_sigma: frames 1/30 s apart draw a tracked person's fit to the frame
    before's; the same frames 1 s apart (too long: MOTION_MAX_GAP) do not, as the prior off."""
    from hmr_models.fitting import RefineConfig

    def run(spacing, sigma):
        stages = StageConfigs(mesh=MeshConfig(dpmesh_checkpoint=str(checkpoints / 'dpmesh')),
                              temporal=TemporalConfig('one_euro'),
                              refine=RefineConfig(refine_motion_sigma=sigma))
        pipeline = build_pipeline(PipelineConfig(threads=1, backend='torch'), stages)
        return [pipeline.process(frame, i * spacing, None) for i, frame in
                enumerate(frames[:4])]

    off, near, far = run(1 / 30, 0.0), run(1 / 30, 0.5), run(1.0, 0.5)
    assert (near[-1].people.track_ids >= 0).any()
    assert max(np.abs(n.bodies.pose - o.bodies.pose).max()
               for n, o in zip(near[1:], off[1:])) > 0.01
    for f, o in zip(far, off):
        np.testing.assert_allclose(f.bodies.pose, o.bodies.pose, atol=1e-5)
    np.testing.assert_allclose(near[0].bodies.pose, off[0].bodies.pose, atol=1e-5)  # no before
