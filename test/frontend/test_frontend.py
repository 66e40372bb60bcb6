"""PersonFrontEnd end to end on real frames, and on the bad inputs a camera can produce."""
import sys

import cv2
import numpy as np
import pytest

from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
from hmr_models.frontend.keypoints import KeypointBackend

from .conftest import SAMPLE_PEOPLE, find_person


def accounted(stats):
    """Every candidate box ends up returned or in exactly one drop counter."""
    dropped = (stats.invalid_boxes + stats.tiny_dropped + stats.capped + stats.low_score_dropped
               + stats.duplicates_dropped + stats.parts_dropped + stats.candidates_skipped)
    return stats.detected + stats.guided == dropped + stats.people


def test_real_frame_people_keypoints_and_stats(front_end, sample_frames):
    for index, expected in SAMPLE_PEOPLE.items():
        people = front_end.detect(sample_frames[index])
        stats = front_end.last_stats
        assert accounted(stats)
        assert people.keypoints.shape == (len(people), 17, 2)
        assert (people.track_ids == -1).all()
        for name, (xy, height) in expected.items():
            i = find_person(people, xy, 0.25 * height)
            assert i is not None, f'frame {index}: {name} missing'
            assert (people.keypoint_scores[i] > 0).sum() >= 12
        # Missing keypoints are NaN with score 0, present ones finite and inside the image.
        missing = people.keypoint_scores == 0
        assert np.isnan(people.keypoints[missing]).all()
        present = people.keypoints[~missing]
        h, w = sample_frames[index].shape[:2]
        assert np.isfinite(present).all() and (present >= 0).all()
        assert (present[:, 0] < w).all() and (present[:, 1] < h).all()
        assert set(stats.timings_ms) >= {'detector', 'keypoints'}


def test_blank_image_has_no_people(front_end):
    people = front_end.detect(np.zeros((576, 768, 3), np.uint8))
    assert len(people) == 0 and people.keypoints.shape == (0, 17, 2)
    assert front_end.last_stats.people == 0


@pytest.fixture(scope='module')
def crowd(sample_frames):
    """50 copies of a real person (the walking woman, 96 px tall) tiled 10 x 5."""
    person = sample_frames[75][370:690, 840:1000]
    tile = cv2.resize(person, (48, 96), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.tile(tile, (5, 10, 1)))


def test_fifty_people_are_capped_and_the_rest_counted(runtime, crowd):
    front = PersonFrontEnd(FrontEndConfig(max_people=10), runtime)
    people = front.detect(crowd)
    stats = front.last_stats
    assert len(people) <= 10 and stats.people == len(people) >= 8
    assert stats.detected >= 45, 'the detector should see most of the 50 tiled people'
    assert stats.capped == stats.detected - stats.tiny_dropped - 10 >= 35
    assert accounted(stats)
    assert front.totals.capped == stats.capped


def test_cap_priority_area_keeps_the_largest(runtime, sample_frames):
    front = PersonFrontEnd(FrontEndConfig(max_people=1, people_priority='area'), runtime)
    people = front.detect(sample_frames[75])
    assert len(people) == 1 and front.last_stats.capped >= 1
    xy, h = SAMPLE_PEOPLE[75]['woman']   # the taller of the two
    assert find_person(people, xy, 0.25 * h) == 0


def test_a_box_on_part_of_a_person_is_not_another_person(runtime):
    """Frame 154 of the bundled clip: the detector also boxes the walking woman's legs, and
    MoveNet lays a whole small skeleton over them; that box is dropped as a part of her.
    The fp32 detector on every CPU: the int8 twin does not box her legs on this frame."""
    from .conftest import read_frames, SAMPLE
    frame = read_frames(SAMPLE, {154})[154]
    off = PersonFrontEnd(FrontEndConfig(part_keypoint_fraction=0.0, detector_precision='fp32'),
                         runtime)
    both = off.detect(frame)
    assert len(both) == 2, 'the legs box is not there any more: pick another frame'
    tall, legs = np.argsort(-(both.boxes[:, 3] - both.boxes[:, 1]))
    assert both.boxes[legs, 1] > both.boxes[tall, 1] + 50          # lower, inside her box
    front = PersonFrontEnd(FrontEndConfig(detector_precision='fp32'), runtime)
    people = front.detect(frame)
    assert len(people) == 1 and front.last_stats.parts_dropped == 1
    np.testing.assert_array_equal(people.boxes[0], both.boxes[tall])
    assert accounted(front.last_stats)


def test_part_rule_keeps_people_with_keypoints_of_their_own():
    """Synthetic: B, a box on A's upper half whose keypoints sit on A's (labels shuffled),
    is a part; C, as short and as much inside, with its own keypoints (a child in front), is
    not; nor is B when A's body does not go on beyond B's box, or when the detector is surer
    of B than of A."""
    from hmr_models.frontend.frontend import part_of_taller
    from hmr_models.types import People
    rng = np.random.default_rng(0)
    a_kps = np.stack([np.full(17, 50.0), np.linspace(10, 190, 17)], -1)      # A: 200 px tall
    b_kps = a_kps[rng.integers(0, 9, 17)] + rng.normal(0, 3, (17, 2))       # on A's top half
    c_kps = np.stack([np.full(17, 80.0), np.linspace(110, 190, 17)], -1)    # 30 px aside
    people = People(boxes=np.array([[0, 0, 100, 200], [10, 0, 90, 105], [40, 100, 100, 195]],
                                   np.float32),
                    scores=np.ones(3, np.float32),
                    keypoints=np.stack([a_kps, b_kps, c_kps]).astype(np.float32),
                    keypoint_scores=np.ones((3, 17), np.float32), track_ids=np.full(3, -1))
    assert part_of_taller(people).tolist() == [False, True, False]
    assert not part_of_taller(people, fraction=0.0).any()
    surer = people.select(np.arange(3))
    surer.scores[1] = 1.2
    assert not part_of_taller(surer).any()
    whole = people.select(np.arange(3))
    whole.boxes[1] = [10, 0, 90, 160]       # A's keypoints below 180 only: 1 beyond, not 4
    assert not part_of_taller(whole).any()
    # A with no confident keypoints gives no evidence: nothing is a part of it
    people.keypoint_scores[0] = 0.1
    assert not part_of_taller(people).any()


def test_part_rule_keeps_a_smaller_person_with_a_face_of_their_own():
    """Synthetic: D, a box on A's lower half whose keypoints all sit on A's legs, is a part
    (a legs box: no confident face) unless D shows a face of its own there, away from A's:
    then D is a child or a seated person in front of A. A part whose face is A's own (a box
    on the upper body) stays a part."""
    from hmr_models.frontend.frontend import part_of_taller
    from hmr_models.types import People
    rng = np.random.default_rng(1)
    a_kps = np.stack([np.full(17, 50.0), np.linspace(10, 190, 17)], -1)      # A: 200 px tall
    d_kps = a_kps[np.sort(rng.integers(9, 17, 17))] + rng.normal(0, 2, (17, 2))  # on A's legs
    scores = np.ones((2, 17), np.float32)

    def people(kps, d_scores):
        return People(boxes=np.array([[0, 0, 100, 200], [20, 95, 80, 195]], np.float32),
                      scores=np.ones(2, np.float32),
                      keypoints=np.stack([a_kps, kps]).astype(np.float32),
                      keypoint_scores=np.stack([scores[0], d_scores]),
                      track_ids=np.full(2, -1))
    faceless = scores[1].copy()
    faceless[:5] = 0.1
    assert part_of_taller(people(d_kps, faceless)).tolist() == [False, True]
    assert part_of_taller(people(d_kps, scores[1])).tolist() == [False, False]
    assert part_of_taller(people(d_kps, scores[1]), own_face=np.inf).tolist() == [False, True]
    upper = d_kps.copy()
    upper[:5] = a_kps[:5] + 3                    # the face is A's: a box on A's upper body
    assert part_of_taller(people(upper, scores[1])).tolist() == [False, True]


def test_people_shorter_than_min_height_are_dropped_and_counted(runtime, sample_frames):
    # The woman (~300 px) stays, the man on the roof (~275 px) is "tiny" at a 290 px minimum.
    front = PersonFrontEnd(FrontEndConfig(min_person_height_px=290), runtime)
    people = front.detect(sample_frames[75])
    heights = people.boxes[:, 3] - people.boxes[:, 1]
    assert (heights >= 290).all()
    assert front.last_stats.tiny_dropped >= 1 and accounted(front.last_stats)
    assert find_person(people, SAMPLE_PEOPLE[75]['man'][0], 60) is None


def test_small_real_people_below_twenty_pixels_are_dropped(runtime, sample_frames):
    """A frame shrunk so its people are ~15 px tall: whatever the detector finds is counted."""
    small = cv2.resize(sample_frames[75], (64, 36), interpolation=cv2.INTER_AREA)
    front = PersonFrontEnd(FrontEndConfig(), runtime)
    people = front.detect(small)
    assert len(people) == 0 or ((people.boxes[:, 3] - people.boxes[:, 1]) >= 20).all()
    assert accounted(front.last_stats)


class Corrupting(KeypointBackend):
    """Fault injection: the real MoveNet backend whose output gets NaN, inf and far-away points
    (what a misbehaving backend or a numerical bug produces)."""

    name = 'corrupting'

    def __init__(self, inner):
        self.inner = inner

    def estimate(self, image_rgb, boxes):
        kp, sc = self.inner.estimate(image_rgb, boxes)
        kp[:, 0] = np.nan             # nose: NaN
        kp[:, 1, 0] = np.inf          # left eye: inf
        kp[:, 9] = [-500.0, 10.0]     # left wrist: outside the image
        sc[:, 10] = np.nan            # right wrist: NaN score
        return kp, sc


def test_backend_faults_are_sanitized_counted_and_not_fatal(runtime, sample_frames):
    front = PersonFrontEnd(FrontEndConfig(), runtime)
    front.backend = Corrupting(front.backend)
    people = front.detect(sample_frames[75])
    n = len(people)
    assert n >= 2
    stats = front.last_stats
    assert stats.keypoints_nonfinite >= 3 * n and stats.keypoints_outside >= n
    for k in (0, 1, 9, 10):
        assert np.isnan(people.keypoints[:, k]).all() and (people.keypoint_scores[:, k] == 0).all()
    assert np.isfinite(people.keypoints[:, 5:9]).all()


@pytest.mark.parametrize('image, message', [
    (np.zeros((48, 64, 3), np.float32), 'uint8'),
    (np.zeros((48, 64), np.uint8), r'\(H, W, 3\)'),
    (np.zeros((48, 64, 4), np.uint8), r'\(H, W, 3\)'),
    (np.zeros((1, 64, 3), np.uint8), 'too small'),
    ([[0, 0, 0]], 'numpy array'),
])
def test_bad_images_raise_clear_errors(front_end, image, message):
    with pytest.raises(ValueError, match=message):
        front_end.detect(image)


def test_process_assigns_ids_after_min_hits(runtime, sample_frames):
    front = PersonFrontEnd(FrontEndConfig(track_min_hits=2), runtime)
    first = front.process(sample_frames[75], 0.0)
    assert (first.track_ids == -1).all()
    second = front.process(sample_frames[75], 1 / 30)
    assert (second.track_ids >= 0).sum() >= 2 and 'tracking' in front.last_stats.timings_ms


def test_mediapipe_backend_through_the_front_end(runtime, sample_frames):
    pytest.importorskip('mediapipe')
    with PersonFrontEnd(FrontEndConfig(keypoint_backend='mediapipe'), runtime) as front:
        people = front.detect(sample_frames[75])
        for xy, h in SAMPLE_PEOPLE[75].values():
            assert find_person(people, xy, 0.25 * h) is not None


def test_missing_optional_backend_fails_naming_the_parameter(monkeypatch):
    from hmr_models.frontend import ModelLoadError
    from hmr_models.frontend.keypoints.mediapipe_pose import MediaPipePoseBackend
    monkeypatch.setitem(sys.modules, 'mediapipe', None)     # as if it were not installed
    with pytest.raises(ModelLoadError, match="keypoint_backend 'mediapipe'.*mediapipe==0.10.21"):
        MediaPipePoseBackend()


def test_tracked_people_the_detector_misses_are_found_by_guidance(runtime, sample_frames):
    front = PersonFrontEnd(FrontEndConfig(track_min_hits=1, track_guided_max_s=0.5,
                                          detector_interval=1), runtime)
    first = front.process(sample_frames[75], 0.0)
    ids = sorted(first.track_ids.tolist())
    assert len(ids) >= 2 and min(ids) >= 0
    front.detector.score_threshold = 1.01          # the detector now misses everyone
    second = front.process(sample_frames[75], 0.1)
    stats = front.last_stats
    assert stats.detected == 0 and stats.guided == len(ids) and stats.guided_kept == len(ids)
    assert sorted(second.track_ids.tolist()) == ids, 'same people, same ids'
    assert np.allclose(second.scores, second.keypoint_scores.mean(1)), 'scored by keypoints'
    for i, tid in enumerate(second.track_ids):
        j = int(np.nonzero(first.track_ids == tid)[0][0])
        assert np.abs(second.boxes[i] - first.boxes[j]).max() < 10
    # Never for long without the detector: guided again at 0.5 s, not after track_guided_max_s.
    assert len(front.process(sample_frames[75], 0.5)) == len(ids)
    assert len(front.process(sample_frames[75], 0.6)) == 0 and front.last_stats.guided == 0
    # Nothing there any more: guidance finds no keypoint evidence and drops them (counted).
    front.detector.score_threshold = front.config.detector_candidate_threshold
    front.process(sample_frames[75], 0.7)
    front.detector.score_threshold = 1.01
    blank = front.process(np.zeros_like(sample_frames[75]), 0.8)
    assert len(blank) == 0 and front.last_stats.low_score_dropped == front.last_stats.guided > 0


def test_guidance_off(runtime, sample_frames):
    front = PersonFrontEnd(FrontEndConfig(track_min_hits=1, track_guided_max_s=0.0,
                                          detector_interval=1), runtime)
    front.process(sample_frames[75], 0.0)
    front.detector.score_threshold = 1.01
    assert len(front.process(sample_frames[75], 0.1)) == 0 and front.last_stats.guided == 0


def test_detector_every_third_image_keeps_the_people_tracked(runtime):
    """detector_interval 3: the detector runs on 1 image in 3; in between the tracked people
    are found on their predicted boxes, with the same ids and keypoints."""
    from .conftest import SAMPLE, read_frames
    frames = read_frames(SAMPLE, set(range(60, 84)))
    every = PersonFrontEnd(FrontEndConfig(), runtime)
    third = PersonFrontEnd(FrontEndConfig(detector_interval=3), runtime)
    ran = []
    for k, i in enumerate(range(60, 84)):
        a = every.process(frames[i], k / 30)
        b = third.process(frames[i], k / 30)
        ran.append(third.last_stats.detected > 0 or third.last_stats.timings_ms['detector'] > 1)
        if k >= 3:   # once both have confirmed tracks: the same people, ids one-to-one
            assert len(b) == len(a) >= 2, (k, len(a), len(b))
            for j in range(len(a)):
                m = find_person(b, (a.boxes[j, :2] + a.boxes[j, 2:]) / 2,
                                0.2 * (a.boxes[j, 3] - a.boxes[j, 1]))
                assert m is not None
    assert len(set(third.process(frames[83], 1.0).track_ids.tolist())) >= 2
    assert sum(ran) <= len(ran) // 3 + 2, ran   # the detector ran on about a third
    assert third.totals.guided_kept > 0


@pytest.mark.parametrize('fallback', [True, False])
def test_an_unrelated_image_between_detector_images_runs_the_detector(
        runtime, sample_frames, fallback):
    """A folder of photos, or a cut: the image after a detector image shows other people in
    other places. Guidance finds nobody where the tracks expect them, so the detector runs on
    that image after all (counted), and its people are found; the same image again needs none."""
    first = sample_frames[75]
    other = np.ascontiguousarray(first[:, ::-1])        # the people elsewhere (mirrored)
    alone = PersonFrontEnd(FrontEndConfig(), runtime).detect(other)
    front = PersonFrontEnd(FrontEndConfig(track_min_hits=1, detector_fallback=fallback),
                           runtime)
    assert len(front.process(first, 0.0)) >= 2                     # a detector image
    again = front.process(first, 0.1)                               # guided, all found
    assert len(again) >= 2 and front.last_stats.detector_fallbacks == 0
    front.process(first, 0.2)                                       # a detector image
    found = front.process(other, 0.3)                               # guided: nobody there
    if fallback:
        assert front.last_stats.detector_fallbacks == 1 and front.totals.detector_fallbacks == 1
        assert len(found) == len(alone) >= 2
        assert front.totals.frames == 4, 'the image run twice counts once'
        for box in alone.boxes:
            assert find_person(found, (box[:2] + box[2:]) / 2, 0.1 * (box[3] - box[1])) is not None
    else:
        assert front.totals.detector_fallbacks == 0 and len(found) < len(alone)


class WithWeakBox:
    """The real detector's boxes plus a weak one (score 0.25) where the image is empty."""

    def __init__(self, detector, box):
        self.detector, self.box = detector, np.asarray(box, np.float32)

    def detect(self, image):
        boxes, scores = self.detector.detect(image)
        return (np.concatenate([boxes, self.box[None]]),
                np.concatenate([scores, np.float32([0.25])]))


class CountingBoxes:
    """The real keypoint backend, counting the boxes it is given."""

    def __init__(self, backend):
        self.backend, self.boxes = backend, 0
        self.needs_boxes, self.name = backend.needs_boxes, backend.name

    def estimate(self, image, boxes):
        self.boxes += len(boxes)
        return self.backend.estimate(image, boxes)

    def close(self):
        self.backend.close()


@pytest.mark.parametrize('retry_s', [1.0, 0.0])
def test_a_failed_weak_candidate_is_not_retried_at_once(runtime, sample_frames, retry_s):
    """A weak box whose keypoints failed costs the keypoint model once per candidate_retry_s
    (at the same place); the people found are the same; 0 = retried on every image."""
    frame = sample_frames[75].copy()
    frame[:200, :200] = 128                                   # an empty corner
    front = PersonFrontEnd(FrontEndConfig(candidate_retry_s=retry_s, detector_interval=1),
                           runtime)
    front.detector = WithWeakBox(front.detector, [20, 20, 120, 190])
    front.backend = CountingBoxes(front.backend)
    skipped, calls, people = [], [], []
    for stamp in (0.0, 0.1, 0.2, 1.5):
        before = front.backend.boxes
        found = front.process(frame, stamp)
        stats = front.last_stats
        assert accounted(stats)
        skipped.append(stats.candidates_skipped)
        calls.append(front.backend.boxes - before)
        people.append(len(found))
    assert len(set(people)) == 1 and people[0] >= 2
    if retry_s:
        # the weak box (and any weak duplicate of a person) skipped; tried again after 1 s
        assert skipped[0] == skipped[3] == 0 and skipped[1] == skipped[2] >= 1
        assert calls[1] == calls[2] == calls[0] - skipped[1] and calls[3] == calls[0]
    else:
        assert skipped == [0, 0, 0, 0] and len(set(calls)) == 1


def test_keypoint_workers_follow_the_thread_budget():
    from hmr_models.runtime import Runtime
    fp32 = dict(keypoint_precision='fp32')     # onnxruntime: people on a thread pool
    front = PersonFrontEnd(FrontEndConfig(**fp32), Runtime(threads=1))
    assert front.backend.workers == 1
    front = PersonFrontEnd(FrontEndConfig(**fp32), Runtime(threads=2))
    assert front.backend.workers == 2
    front = PersonFrontEnd(FrontEndConfig(keypoint_workers=3, **fp32), Runtime(threads=1))
    assert front.backend.workers == 3
    # bf16 (OpenVINO) runs one person at a time on its own threads, whatever is asked
    from hmr_models.frontend.openvino_model import openvino_available
    if openvino_available():
        front = PersonFrontEnd(FrontEndConfig(keypoint_workers=3, keypoint_precision='bf16'),
                               Runtime(threads=2))
        assert front.backend.workers == 1


class ThreadRecordingDetector:
    """The real detector, recording which thread ran it."""

    def __init__(self, detector):
        self.detector, self.threads = detector, []

    def detect(self, image):
        import threading
        self.threads.append(threading.current_thread().name)
        return self.detector.detect(image)


def test_detector_beside_keypoints_finds_the_same_people(runtime):
    """detector_beside_keypoints: on a detector image the tracked people's keypoints are found
    on their expected boxes while the detector runs on another thread; a detection on one of
    them takes those keypoints instead of a second look. The people, ids and keypoints are
    those of the detector and keypoints one after the other."""
    from .conftest import SAMPLE, read_frames
    frames = read_frames(SAMPLE, set(range(60, 76)))
    apart = PersonFrontEnd(FrontEndConfig(detector_interval=1), runtime)
    beside = PersonFrontEnd(FrontEndConfig(detector_interval=1, detector_beside_keypoints=True),
                            runtime)
    beside.detector = ThreadRecordingDetector(beside.detector)
    beside.backend = CountingBoxes(beside.backend)
    for k, i in enumerate(range(60, 76)):
        a = apart.process(frames[i], k / 30)
        before = beside.backend.boxes
        b = beside.process(frames[i], k / 30)
        assert accounted(beside.last_stats)
        if k >= 2:   # tracked: every box estimated once, early, on the expected boxes
            assert beside.backend.boxes - before == len(b) >= 2, (k, len(b))
        assert len(b) == len(a) >= 2, (k, len(a), len(b))
        for j in range(len(a)):
            height = a.boxes[j, 3] - a.boxes[j, 1]
            m = find_person(b, (a.boxes[j, :2] + a.boxes[j, 2:]) / 2, 0.2 * height)
            assert m is not None
            both = (a.keypoint_scores[j] > 0.3) & (b.keypoint_scores[m] > 0.3)
            gap = np.linalg.norm(a.keypoints[j][both] - b.keypoints[m][both], axis=-1)
            assert both.sum() >= 8 and np.median(gap) < 0.05 * height, (k, np.median(gap))
    assert beside.detector.threads[0] == 'MainThread', 'nobody tracked yet: no early look'
    assert all(t.startswith('person_detector') for t in beside.detector.threads[1:])
    beside.close()
    assert beside._detector_thread is None


def test_detector_beside_keypoints_with_people_elsewhere(runtime, sample_frames):
    """The tracked people are not where they were (a cut): the early keypoints on their
    expected boxes are not used, and the detections get keypoints of their own."""
    first = sample_frames[75]
    other = np.ascontiguousarray(first[:, ::-1])        # the people elsewhere (mirrored)
    alone = PersonFrontEnd(FrontEndConfig(), runtime).detect(other)
    front = PersonFrontEnd(FrontEndConfig(track_min_hits=1, detector_interval=1,
                                          detector_beside_keypoints=True), runtime)
    front.backend = CountingBoxes(front.backend)
    assert len(front.process(first, 0.0)) >= 2
    before = front.backend.boxes
    found = front.process(other, 0.1)
    assert front.backend.boxes - before >= 2 * len(alone), 'expected boxes, then detections'
    assert len(found) == len(alone) >= 2
    for j, box in enumerate(alone.boxes):
        m = find_person(found, (box[:2] + box[2:]) / 2, 0.1 * (box[3] - box[1]))
        assert m is not None
        assert np.abs(found.keypoints[m] - alone.keypoints[j]).max() < 1.0
