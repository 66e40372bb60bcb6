"""StreamingSmoother: resampling, buffers, expiry, batching, delayed output."""
import numpy as np
import pytest
import torch

from hmr_models.diffmesh import StreamingConfig, StreamingSmoother
from hmr_models.diffmesh.streaming import resample_index, track_period
from hmr_models.types import BodyEstimate, People

P = 1.0 / 30


# ---- resampling --------------------------------------------------------------------------

def test_regular_stamps_map_one_to_one():
    stamps = np.arange(20) * P
    w = resample_index(stamps, 8, P)
    np.testing.assert_array_equal(w.lo, np.arange(12, 20))
    np.testing.assert_array_equal(w.hi, w.lo)
    assert np.all(w.weight == 0) and np.all(w.valid == 1)
    np.testing.assert_allclose(w.stamps, stamps[12:])


def test_short_track_is_left_padded_with_its_first_frame():
    w = resample_index(np.array([0.0, P, 2 * P]), 8, P)
    np.testing.assert_array_equal(w.valid, [0, 0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(w.lo[:5], 0)
    np.testing.assert_array_equal(w.lo[5:], [0, 1, 2])
    single = resample_index(np.array([5.0]), 8, P)
    assert single.valid.tolist() == [0] * 7 + [1]


def test_one_dropped_frame_is_interpolated():
    stamps = np.delete(np.arange(10) * P, 6)   # frame 6 missing
    w = resample_index(stamps, 8, P, max_gap_frames=3)
    k = 6 - 2  # grid index of frame 6 (grid covers frames 2..9)
    assert w.valid[k] == 1
    assert stamps[w.lo[k]] == pytest.approx(5 * P) and stamps[w.hi[k]] == pytest.approx(7 * P)
    assert w.weight[k] == pytest.approx(0.5)


def test_long_gap_is_marked_missing():
    stamps = np.concatenate([np.arange(5), np.arange(10, 14)]) * P  # frames 5..9 missing
    w = resample_index(stamps, 8, P, max_gap_frames=3)
    # Grid covers frames 6..13: 6..9 fall in the gap.
    np.testing.assert_array_equal(w.valid, [0, 0, 0, 0, 1, 1, 1, 1])
    assert np.all(w.weight[:4] == 0)  # copies of the nearest observation


def test_jittered_stamps_snap_to_observations():
    rng = np.random.default_rng(0)
    stamps = np.arange(16) * P + rng.uniform(-0.24, 0.24, 16) * P
    w = resample_index(stamps, 8, P)
    np.testing.assert_array_equal(w.lo, np.arange(8, 16))
    assert np.all(w.weight == 0) and np.all(w.valid == 1)


def test_slower_camera_uses_its_own_period():
    stamps = np.arange(12) * 0.1  # 10 fps
    assert track_period(stamps) == pytest.approx(0.1)
    assert track_period(stamps, fixed=0.05) == 0.05
    assert track_period(stamps[:1]) == pytest.approx(P)  # not enough stamps: default


# ---- the smoother ------------------------------------------------------------------------

def frame(n, seed, track_ids=None, pose_scale=0.2):
    rng = np.random.default_rng(seed)
    est = BodyEstimate(pose=(rng.normal(0, pose_scale, (n, 72))).astype(np.float32),
                       betas=rng.normal(0, 1, (n, 10)).astype(np.float32),
                       translation=(np.array([0, 0, 4.0]) + rng.normal(0, 0.1, (n, 3)))
                       .astype(np.float32),
                       joints=rng.normal(0, 1, (n, 24, 3)).astype(np.float32),
                       joint_confidence=np.ones((n, 24), np.float32),
                       body_model='test_body', model_profile='compact')
    boxes = np.tile([100.0, 50.0, 220.0, 400.0], (n, 1)).astype(np.float32)
    kp = rng.uniform(100, 220, (n, 17, 2)).astype(np.float32)
    kp[:, 0] = np.nan  # a missing keypoint
    ids = np.arange(n) if track_ids is None else np.asarray(track_ids)
    people = People(boxes=boxes, scores=np.ones(n, np.float32), keypoints=kp,
                    keypoint_scores=np.ones((n, 17), np.float32), track_ids=ids)
    return est, people


def smoother(model, **kw):
    kw.setdefault('temporal_jit', False)
    return StreamingSmoother(model, StreamingConfig(**kw))


class ForwardCounter:
    def __init__(self, model):
        self.batches = []
        model.register_forward_hook(lambda m, args, out: self.batches.append(
            args[0].pose.shape[0]))


def test_output_matches_people_and_is_temporal(tiny_model):
    s = smoother(tiny_model)
    est, people = frame(3, 0)
    out = s.update(0.0, people.track_ids, est, people)
    assert out.temporal_flags().all() and len(out) == 3
    assert out.pose.shape == (3, 72) and out.joints.shape == (3, 24, 3)
    assert out.body_model == 'test_body' and out.model_profile == 'compact'
    assert np.isfinite(out.pose).all() and np.isfinite(out.joints).all()
    # The input is untouched.
    assert not np.shares_memory(out.pose, est.pose)
    # Output joints are the model's joint model applied to the smoothed parameters.
    jm = tiny_model.joint_model
    ref = jm.from_axis_angle(torch.from_numpy(out.pose), torch.from_numpy(out.betas),
                             torch.from_numpy(out.translation)).detach().numpy()
    np.testing.assert_allclose(out.joints, ref, atol=1e-5)


def test_all_tracks_in_one_forward_per_tick(tiny_model):
    counter = ForwardCounter(tiny_model)
    s = smoother(tiny_model)
    for k in range(5):
        est, people = frame(4, k)
        s.update(k * P, people.track_ids, est, people)
    assert counter.batches == [4] * 5


def test_untracked_and_duplicate_ids_pass_through(tiny_model):
    counter = ForwardCounter(tiny_model)
    s = smoother(tiny_model)
    est, people = frame(4, 0, track_ids=[7, -1, 7, 3])
    out = s.update(0.0, people.track_ids, est, people)
    assert counter.batches == [2]
    np.testing.assert_array_equal(out.pose[1], est.pose[1])
    np.testing.assert_array_equal(out.pose[2], est.pose[2])
    assert s.counters['untracked'] == 1 and s.counters['duplicate_ids'] == 1
    # Only the smoothed people are labelled temporal (the message's per-person flag).
    assert out.temporal_flags().tolist() == [True, False, False, True]
    # Nobody tracked: no forward at all.
    est, people = frame(2, 1, track_ids=[-1, -1])
    out = s.update(P, people.track_ids, est, people)
    assert counter.batches == [2]
    np.testing.assert_array_equal(out.pose, est.pose)
    assert not out.temporal_flags().any()


def test_empty_frame(tiny_model):
    s = smoother(tiny_model)
    est, people = frame(0, 0)
    out = s.update(0.0, people.track_ids, est, people)
    assert len(out) == 0 and out.temporal_flags().shape == (0,)


def test_mismatched_inputs_raise(tiny_model):
    s = smoother(tiny_model)
    est, people = frame(2, 0)
    with pytest.raises(ValueError, match='same people'):
        s.update(0.0, np.array([0]), est, people)


def test_person_leaving_and_coming_back(tiny_model):
    s = smoother(tiny_model, temporal_track_timeout=0.5)
    for k in range(6):
        est, people = frame(1, k, track_ids=[5])
        s.update(k * P, people.track_ids, est, people)
    assert s.tracks.states[5].size == 6
    # Another person only, for 1 s: track 5 expires.
    for k in range(6, 36):
        est, people = frame(1, k, track_ids=[9])
        s.update(k * P, people.track_ids, est, people)
    assert 5 not in s.tracks.states and s.counters['expired'] == 1
    # Back with the same id: a fresh buffer of one frame.
    est, people = frame(1, 99, track_ids=[5])
    s.update(40 * P, people.track_ids, est, people)
    assert s.tracks.states[5].size == 1


def test_short_absence_keeps_the_buffer_and_marks_the_gap(tiny_model):
    s = smoother(tiny_model, temporal_track_timeout=1.0)
    for k in list(range(4)) + list(range(9, 12)):  # frames 4..8 missing
        est, people = frame(1, k, track_ids=[2])
        s.update(k * P, people.track_ids, est, people)
    buf = s.tracks.states[2]
    assert buf.size == 7
    w = resample_index(buf.observed_stamps(), 8, track_period(buf.observed_stamps()))
    np.testing.assert_array_equal(w.valid, [0, 0, 0, 0, 0, 1, 1, 1])  # grid = frames 4..11


def test_time_going_backwards_resets_the_track(tiny_model):
    s = smoother(tiny_model)
    for k in range(5):
        est, people = frame(1, k)
        s.update(10 + k * P, people.track_ids, est, people)
    est, people = frame(1, 7)
    s.update(0.0, people.track_ids, est, people)  # the bag started again
    assert s.tracks.states[0].size == 1 and s.counters['reset'] == 1


def test_duplicate_stamp_replaces_the_newest_frame(tiny_model):
    s = smoother(tiny_model)
    for seed in (0, 1):
        est, people = frame(1, seed)
        s.update(1.0, people.track_ids, est, people)
    buf = s.tracks.states[0]
    assert buf.size == 1
    np.testing.assert_array_equal(buf.view('pose')[0], est.pose[0])


def test_ring_buffer_keeps_the_last_frames(tiny_model):
    s = smoother(tiny_model, temporal_buffer_frames=10)
    for k in range(25):
        est, people = frame(1, k)
        s.update(k * P, people.track_ids, est, people)
    buf = s.tracks.states[0]
    assert buf.size == 10
    np.testing.assert_allclose(buf.observed_stamps(), np.arange(15, 25) * P)
    np.testing.assert_array_equal(buf.view('pose')[-1], est.pose[0])


def test_delayed_output(tiny_model):
    s = smoother(tiny_model, temporal_delay_frames=3)
    results = []
    for k in range(10):
        est, people = frame(2, k)
        results.append(s.step(k * P, people.track_ids, est, people))
    # Until 3 frames after the track started, the delayed frame is padding: nothing.
    assert results[0].delayed is None and results[2].delayed is None
    d = results[9].delayed
    np.testing.assert_allclose(d.stamps, [6 * P, 6 * P])
    np.testing.assert_array_equal(d.track_ids, [0, 1])
    assert d.estimate.temporal_flags().all() and d.estimate.pose.shape == (2, 72)
    # the end of the stream brings the frames after it, for both tracks, in time order
    end = s.flush()
    np.testing.assert_allclose(np.unique(end.stamps), [7 * P, 8 * P, 9 * P])
    assert sorted(end.track_ids.tolist()) == [0, 0, 0, 1, 1, 1]
    assert s.flush() is None and smoother(tiny_model).flush() is None   # no delay: nothing
    # an end announced too early: the stream goes on, and never gives a frame twice or late
    for k in range(10, 14):
        est, people = frame(2, k)
        d = s.step(k * P, people.track_ids, est, people).delayed
        assert d is None or (d.stamps > 9 * P + 1e-6).all()
    np.testing.assert_allclose(np.unique(d.stamps), [10 * P])
    with pytest.raises(ValueError, match='smaller than the model window'):
        smoother(tiny_model, temporal_delay_frames=8)


def test_delayed_output_keeps_people_the_detector_misses_later(tiny_model):
    """A person missed in frame t, or gone after it, still has the frames before in the delayed
    stream: each held track gives its own frame of the delayed time, from its own window."""
    s = smoother(tiny_model, temporal_delay_frames=3)
    given = {}
    for k in range(14):
        if k == 8 or k >= 11:            # track 1 missed at frame 8, and gone after frame 10
            est, people = frame(1, k, track_ids=[0])
        else:
            est, people = frame(2, k)
        d = s.step(k * P, people.track_ids, est, people).delayed
        for t, st in zip(d.track_ids, d.stamps) if d is not None else ():
            given.setdefault(int(t), []).append(round(st / P))
    # frames 0 to 10 (the step of frame k gives frame k - 3): every frame of both, once, in
    # order; track 1's frame 8, missed, comes interpolated (the pipeline pairs none with it)
    assert given[0] == list(range(0, 11))
    assert given[1] == list(range(0, 11))
    end = s.flush()
    assert sorted(np.round(end.stamps / P).astype(int).tolist()) == [11, 12, 13]
    assert set(end.track_ids.tolist()) == {0}


def test_a_new_track_starts_with_its_untracked_first_frames(tiny_model):
    """The tracker gives an id only after track_min_hits frames: the person's earlier,
    untracked frames (the box that overlaps) join the track, so the delayed stream has them;
    an untracked person elsewhere, or too long before, does not."""
    s = smoother(tiny_model, temporal_delay_frames=3)
    given = []
    for k in range(10):
        est, people = frame(2, k, track_ids=[-1, -1] if k < 2 else [7, -1])
        people.boxes[1] += 400.0        # somebody else, never tracked, far from person 0
        d = s.step(k * P, people.track_ids, est, people).delayed
        if d is not None:
            given += [(int(t), round(st / P)) for t, st in zip(d.track_ids, d.stamps)]
    # frames 0 and 1 (untracked) are track 7's first: the step of frame k gives frame k - 3
    assert given == [(7, f) for f in range(0, 7)], given
    buf = s.tracks.states[7]
    assert buf.size == 10 and np.allclose(buf.observed_stamps(), np.arange(10) * P)
    # the far person was not taken: still waiting in the last frames
    assert all(len(rows) == 1 for _, rows in s._untracked)
    # an untracked frame longer ago than the track timeout does not join
    s = smoother(tiny_model, temporal_delay_frames=3, temporal_track_timeout=0.5)
    est, people = frame(1, 0, track_ids=[-1])
    s.step(0.0, people.track_ids, est, people)
    est, people = frame(1, 1, track_ids=[3])
    s.step(0.6, people.track_ids, est, people)
    assert s.tracks.states[3].size == 1


def test_jit_matches_eager(tiny_model):
    eager, traced = smoother(tiny_model), smoother(tiny_model, temporal_jit=True)
    for k in range(4):
        n = 3 if k % 2 else 1   # the traced model must follow the batch size
        est, people = frame(n, k)
        a = eager.update(k * P, people.track_ids, est, people)
        b = traced.update(k * P, people.track_ids, est, people)
        np.testing.assert_allclose(a.pose, b.pose, atol=1e-4)
        np.testing.assert_allclose(a.translation, b.translation, atol=1e-5)
    assert traced._traced


def test_body_model_gives_vertices(tiny_model, test_body):
    s = StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False), body=test_body)
    est, people = frame(2, 0, track_ids=[4, -1])
    out = s.update(0.0, people.track_ids, est, people)
    assert out.vertices.shape == (2, test_body.num_vertices, 3)
    ref = test_body(torch.from_numpy(out.pose), torch.from_numpy(out.betas),
                    torch.from_numpy(out.translation))
    np.testing.assert_allclose(out.joints, ref.joints.detach().numpy(), atol=1e-5)


def test_config_validation():
    with pytest.raises(ValueError, match='temporal_track_timeout'):
        StreamingConfig(temporal_track_timeout=0)
    with pytest.raises(ValueError, match='temporal_max_gap_frames'):
        StreamingConfig(temporal_max_gap_frames=0.5)
    with pytest.raises(ValueError, match='temporal_frame_period'):
        StreamingConfig(temporal_frame_period=-1)


def test_newest_frame_is_fitted_to_the_current_keypoints(tiny_model, test_body):
    """With a refiner and the frame's camera, the smoothed body moves onto the keypoints."""
    from hmr_models.fitting import KeypointRefiner, RefineConfig
    from hmr_models.types import CameraIntrinsics
    camera = CameraIntrinsics.from_image_diagonal(640, 480)
    refiner = KeypointRefiner(test_body, RefineConfig(refine_keypoint_sigma=0.03))
    est, people = frame(1, 0, track_ids=[3])
    pose = np.zeros((1, 72), np.float32)
    pose[0, 0] = np.pi
    target = refiner.project(pose, np.zeros((1, 10)), np.array([[0.3, 0.0, 4.0]]), camera)
    people.keypoints = target.astype(np.float32)
    people.boxes = np.concatenate([target.min(1) - 5, target.max(1) + 5], 1).astype(np.float32)
    est.pose[:] = pose
    est.translation[:] = [0.0, 0.0, 4.0]                 # 30 cm off: the trailing mesh
    plain = StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False), body=test_body)
    fitted = StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False), body=test_body,
                               refiner=refiner)
    a = plain.update(0.0, people.track_ids, est, people, camera)
    b = fitted.update(0.0, people.track_ids, est, people, camera)

    def err(o):
        return refiner.keypoint_error(o.pose, o.betas, o.translation, people.keypoints,
                                      people.keypoint_scores, people.boxes, camera)[0]
    assert err(b) < 0.5 * err(a)
    assert fitted.last_refine_ms > 0.0 and plain.last_refine_ms == 0.0
    # without the camera nothing is fitted
    c = StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False), body=test_body,
                          refiner=refiner)
    np.testing.assert_allclose(c.update(0.0, people.track_ids, est, people).pose, a.pose,
                               atol=1e-6)
    assert c.last_refine_ms == 0.0
    # refine_smoothed_iterations sets the steps of this fit: 0 leaves DiffMesh's answer, one
    # step goes part of the way
    steps = {}
    for n in (0, 1):
        cfg = RefineConfig(refine_keypoint_sigma=0.03, refine_smoothed_iterations=n)
        s = StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False), body=test_body,
                              refiner=KeypointRefiner(test_body, cfg))
        steps[n] = err(s.update(0.0, people.track_ids, est, people, camera))
    assert steps[0] == pytest.approx(err(a), rel=1e-4)
    assert err(b) <= steps[1] < steps[0]


def test_delayed_frame_is_fitted_to_its_own_frames_keypoints(tiny_model, test_body):
    """The delayed estimate lands on the keypoints of the frame it stands for, not the newest;
    so do the last frames, which come at the end of the stream (flush)."""
    from hmr_models.fitting import KeypointRefiner, RefineConfig
    from hmr_models.types import CameraIntrinsics
    camera = CameraIntrinsics.from_image_diagonal(640, 480)
    refiner = KeypointRefiner(test_body, RefineConfig(refine_keypoint_sigma=0.03))
    pose = np.zeros((1, 72), np.float32)
    pose[0, 0] = np.pi
    runs, ends = {}, {}
    for name, fit in (('plain', None), ('fitted', refiner)):
        s = StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False,
                                                          temporal_delay_frames=3),
                              body=test_body, refiner=fit)
        frames = []
        for k in range(10):                   # the person walks 10 cm to the right per frame
            est, people = frame(1, k, track_ids=[3])
            target = refiner.project(pose, np.zeros((1, 10)),
                                     np.array([[-0.5 + 0.1 * k, 0.0, 4.0]]), camera)
            people.keypoints = target.astype(np.float32)
            people.boxes = np.concatenate([target.min(1) - 5, target.max(1) + 5],
                                          1).astype(np.float32)
            est.pose[:] = pose
            est.translation[:] = [0.0, 0.0, 4.0]     # the per-frame estimate is off
            frames.append(people)
            out = s.step(k * P, people.track_ids, est, people, camera)
        runs[name] = out.delayed
        ends[name] = s.flush()
        assert s.flush() is None       # asked again: nothing new
    d = runs['fitted']
    np.testing.assert_allclose(d.stamps, [6 * P])

    def err(o, people, i=0):       # of the estimate's row i
        return refiner.keypoint_error(o.pose[i:i + 1], o.betas[i:i + 1],
                                      o.translation[i:i + 1], people.keypoints,
                                      people.keypoint_scores, people.boxes, camera)[0]
    assert err(d.estimate, frames[6]) < 0.5 * err(runs['plain'].estimate, frames[6])
    assert err(d.estimate, frames[6]) < 0.5 * err(d.estimate, frames[9])   # its own frame
    assert np.isfinite(d.estimate.vertices).all()
    # The end of the stream: the last 3 frames, each fitted to its own keypoints too.
    end = ends['fitted']
    np.testing.assert_allclose(end.stamps, [7 * P, 8 * P, 9 * P])
    np.testing.assert_array_equal(end.track_ids, [3, 3, 3])
    assert end.estimate.temporal_flags().all() and np.isfinite(end.estimate.vertices).all()
    for i, k in enumerate((7, 8, 9)):
        assert err(end.estimate, frames[k], i) < 0.5 * err(ends['plain'].estimate, frames[k], i)
        assert err(end.estimate, frames[k], i) < 0.5 * err(end.estimate, frames[k - 3], i)


def test_diffmesh_sees_the_usual_size_and_the_fit_sizes_it_again(tiny_model, test_body):
    """A person sized by a known floor (BodyEstimate.size) reaches DiffMesh at the body model's
    usual size (what it was trained on); the newest frame's fit sizes it by the floor again."""
    from hmr_models.fitting import KeypointRefiner
    from hmr_models.types import CameraIntrinsics
    refiner = KeypointRefiner(test_body)
    est, people = frame(1, 0, track_ids=[4])
    sized = BodyEstimate(**{**est.__dict__})
    ell = np.array([np.log(0.8)], np.float32)
    b, t = refiner.floor.rescale(est.betas.astype(np.float64),
                                 est.translation.astype(np.float64), ell)
    sized.betas, sized.translation, sized.size = b.astype(np.float32), t.astype(np.float32), ell
    assert np.abs(sized.translation[0, 2] - est.translation[0, 2]) > 0.5
    seen = []
    hook = tiny_model.register_forward_hook(lambda m, args, out: seen.append(
        (args[0].betas[..., -1, :].detach().numpy().copy(),
         args[0].translation[..., -1, :].detach().numpy().copy())))
    camera = CameraIntrinsics.from_image_diagonal(640, 480)
    for e in (est, sized):
        StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False), body=test_body,
                          refiner=refiner).update(0.0, people.track_ids, e, people, camera)
    hook.remove()
    np.testing.assert_allclose(seen[1][0], seen[0][0], atol=1e-4)
    np.testing.assert_allclose(seen[1][1], seen[0][1], atol=1e-4)
    # a round trip of the size is exact
    back = refiner.floor.rescale(b, t, -ell)
    np.testing.assert_allclose(back[0], est.betas, atol=1e-5)
    np.testing.assert_allclose(back[1], est.translation, atol=1e-5)


def test_the_smoothed_people_keep_their_tracks_median_size(tiny_model, test_body):
    """Per-frame sizes from the floor jitter with the ankles; the smoothed stream sizes a
    track by the median of its frames' (frames without one do not count)."""
    from hmr_models.fitting import KeypointRefiner
    from hmr_models.types import CameraIntrinsics
    refiner = KeypointRefiner(test_body)
    s = StreamingSmoother(tiny_model, StreamingConfig(temporal_jit=False), body=test_body,
                          refiner=refiner)
    camera = CameraIntrinsics.from_image_diagonal(640, 480)
    sizes = [-0.20, -0.30, np.nan, -0.22, -0.10, -0.25]
    for f, ell in enumerate(sizes):
        est, people = frame(1, f, track_ids=[2])
        est.size = np.array([ell], np.float32)
        out = s.update(0.1 * f, people.track_ids, est, people, camera)
        seen = [x for x in sizes[:f + 1] if np.isfinite(x)]
        assert out.size[0] == pytest.approx(np.median(seen), abs=1e-6)
