"""Tracker: id stability, births/deaths with hysteresis, re-association, no id reuse."""
import numpy as np
import pytest

from hmr_models.frontend import FrontEndConfig, PersonFrontEnd, Tracker
from hmr_models.types import People

from .conftest import SAMPLE, read_frames

# A standing person's COCO-17 keypoints, relative to the box centre, in box heights.
TEMPLATE = np.array([
    [0.0, -0.42], [0.02, -0.44], [-0.02, -0.44], [0.05, -0.43], [-0.05, -0.43],
    [0.1, -0.3], [-0.1, -0.3], [0.13, -0.12], [-0.13, -0.12], [0.14, 0.02], [-0.14, 0.02],
    [0.07, 0.02], [-0.07, 0.02], [0.07, 0.22], [-0.07, 0.22], [0.07, 0.45], [-0.07, 0.45],
], np.float32)


def make_people(centres, heights, rng=None, jitter=0.0):
    """People at box centres (N, 2) with heights (N,), keypoints from TEMPLATE (+ noise)."""
    centres = np.asarray(centres, np.float32).reshape(-1, 2)
    heights = np.asarray(heights, np.float32).reshape(-1)
    half = np.stack([0.2 * heights, 0.5 * heights], 1)
    boxes = np.concatenate([centres - half, centres + half], 1)
    kps = centres[:, None] + TEMPLATE[None] * heights[:, None, None]
    if rng is not None and jitter:
        kps = kps + rng.normal(0, jitter, kps.shape).astype(np.float32)
        boxes = boxes + rng.normal(0, jitter, boxes.shape).astype(np.float32)
    n = len(centres)
    return People(boxes=boxes, scores=np.full(n, 0.9, np.float32), keypoints=kps,
                  keypoint_scores=np.full((n, 17), 0.8, np.float32),
                  track_ids=np.full(n, -1, np.int64))


def cfg(**kw):
    return FrontEndConfig(**kw)


def test_two_walkers_keep_their_ids_and_min_hits_delays_birth():
    rng = np.random.default_rng(0)
    tracker = Tracker(cfg(track_min_hits=3))
    seen = []
    for f in range(40):
        t = f / 30
        people = make_people([[100 + 60 * t, 200], [500 - 40 * t, 220]], [150, 160], rng, 2.0)
        out = tracker.update(people, t)
        seen.append(out.track_ids.tolist())
    assert seen[0] == [-1, -1] and seen[1] == [-1, -1], 'tentative until the 3rd hit'
    assert seen[2] == [0, 1]
    assert all(ids == [0, 1] for ids in seen[2:])


@pytest.mark.parametrize('fps', [10, 30])
def test_crossing_people_keep_their_ids(fps):
    """Two same-size people walk through each other (boxes almost coincide mid-way): the motion
    model carries each id through (with track_velocity_smoothing=1, no motion, they swap)."""
    tracker = Tracker(cfg())
    ids_a, ids_b = set(), set()
    for f in range(2 * fps):
        t = f / fps
        out = tracker.update(make_people([[103 + 200 * t, 300], [497 - 200 * t, 306]],
                                         [200, 200]), t)
        if f >= 1:
            ids_a.add(int(out.track_ids[0]))
            ids_b.add(int(out.track_ids[1]))
    assert ids_a == {0} and ids_b == {1}


def test_short_occlusion_keeps_the_id_long_one_gets_a_new_one():
    tracker = Tracker(cfg(track_max_age_s=1.0))
    t, x = 0.0, 100.0
    for _ in range(10):
        out = tracker.update(make_people([[x, 200]], [150]), t)
        t += 0.1
        x += 5.0                     # 50 px/s
    first_id = int(out.track_ids[0])
    # Hidden for 0.6 s (walking on behind something), then visible again further along.
    for _ in range(6):
        tracker.update(make_people(np.zeros((0, 2)), []), t)
        t += 0.1
        x += 5.0
    out = tracker.update(make_people([[x, 200]], [150]), t)
    assert int(out.track_ids[0]) == first_id, 're-associated after a short occlusion'
    # Hidden for 1.5 s: the track has died; the person comes back under a new id.
    for _ in range(15):
        tracker.update(make_people(np.zeros((0, 2)), []), t)
        t += 0.1
    tracker.update(make_people([[x, 200]], [150]), t)
    out = tracker.update(make_people([[x, 200]], [150]), t + 0.1)
    assert int(out.track_ids[0]) == first_id + 1


def test_one_frame_false_positive_never_gets_an_id_and_ids_are_never_reused():
    rng = np.random.default_rng(3)
    tracker = Tracker(cfg(track_min_hits=2, track_max_age_s=0.3))
    all_ids = []
    t = 0.0
    for episode in range(6):          # a person appears, stays 10 frames, leaves for good
        y = 100 + 60 * episode
        for f in range(10):
            centres = [[300 + 3 * f, y]]
            if f == 4:
                centres.append([50 + 100 * rng.random(), 500])     # one-frame ghost
            out = tracker.update(make_people(centres, [120] * len(centres)), t)
            t += 0.05
            if f == 4:
                assert out.track_ids[1] == -1, 'a one-frame detection never gets an id'
            all_ids.extend(int(i) for i in out.track_ids if i >= 0)
        for _ in range(10):
            tracker.update(make_people(np.zeros((0, 2)), []), t)
            t += 0.05
    assert sorted(set(all_ids)) == list(range(6)), 'one id per person, counting up, none reused'


def test_irregular_timestamps():
    """Frames arrive at random intervals (10-300 ms, dropped frames); ids stay put."""
    rng = np.random.default_rng(7)
    tracker = Tracker(cfg())
    t = 0.0
    ids = []
    for _ in range(60):
        centres = [[100 + 80 * t, 200 + 10 * np.sin(t)], [600 - 50 * t, 260]]
        out = tracker.update(make_people(centres, [140, 150], rng, 1.5), t)
        ids.append(out.track_ids.tolist())
        t += float(rng.uniform(0.01, 0.3))
    assert all(i == [0, 1] for i in ids[1:])


def test_time_going_backwards_resets_tracks_but_not_the_id_counter():
    tracker = Tracker(cfg(track_min_hits=1))
    out = tracker.update(make_people([[100, 100]], [100]), 10.0)
    assert out.track_ids.tolist() == [0]
    out = tracker.update(make_people([[100, 100]], [100]), 2.0)     # bag looped
    assert out.track_ids.tolist() == [1]
    with pytest.raises(ValueError, match='finite'):
        tracker.update(make_people([[100, 100]], [100]), float('nan'))


def test_empty_updates_and_output_is_a_copy():
    tracker = Tracker(cfg(track_min_hits=1))
    empty = make_people(np.zeros((0, 2)), [])
    assert len(tracker.update(empty, 0.0)) == 0
    people = make_people([[10, 10]], [50])
    out = tracker.update(people, 0.1)
    assert out.track_ids[0] == 0 and people.track_ids[0] == -1, 'input left untouched'


def test_real_clip_ids_are_stable(runtime):
    """The two main people of the bundled clip keep one id each over 40 real frames."""
    frames = read_frames(SAMPLE, set(range(60, 100)))
    front = PersonFrontEnd(FrontEndConfig(), runtime)
    tracks = {}
    for i in sorted(frames):
        people = front.process(frames[i], i / 30)
        for tid, box in zip(people.track_ids, people.boxes):
            if tid >= 0:
                tracks.setdefault(int(tid), []).append(box)
    long_tracks = {k: v for k, v in tracks.items() if len(v) >= 30}
    assert len(long_tracks) == 2, {k: len(v) for k, v in tracks.items()}
    for boxes in long_tracks.values():     # each id stays on one person: no jumps
        centres = np.array([(b[:2] + b[2:]) / 2 for b in boxes])
        steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
        assert steps.max() < 60
