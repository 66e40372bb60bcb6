"""MediaPipe BlazePose landmarks fed with person boxes (mediapipe==0.10.21 wheel models)."""
import numpy as np
import pytest

from ..conftest import SAMPLE_PEOPLE
from .test_movenet import check_upright_person, person_box

pytest.importorskip('mediapipe', reason='mediapipe is the optional keypoint backend')


@pytest.fixture(scope='module')
def backend():
    from hmr_models.frontend.keypoints.mediapipe_pose import MediaPipePoseBackend
    b = MediaPipePoseBackend()
    yield b
    b.close()


@pytest.fixture(scope='module')
def lightning(runtime):
    from hmr_models.frontend.keypoints.movenet import MoveNetBackend
    return MoveNetBackend(runtime=runtime)


def test_mapping_covers_coco17_in_order():
    from hmr_models.frontend.keypoints.mediapipe_pose import BLAZEPOSE_TO_COCO17
    assert len(BLAZEPOSE_TO_COCO17) == 17 and len(set(BLAZEPOSE_TO_COCO17.tolist())) == 17
    assert BLAZEPOSE_TO_COCO17[0] == 0 and BLAZEPOSE_TO_COCO17.max() <= 32


def test_landmarks_on_the_boxes_of_real_people(backend, lightning, sample_frames):
    frame = sample_frames[75]
    boxes = np.stack([person_box(xy, h) for xy, h in SAMPLE_PEOPLE[75].values()])
    kp, sc = backend.estimate(frame, boxes)
    assert kp.shape == (2, 17, 2)
    kp_movenet, _ = lightning.estimate(frame, boxes)
    for i in range(2):
        check_upright_person(kp[i], sc[i], boxes[i])
        height = boxes[i, 3] - boxes[i, 1]
        # Two independent models agree on where the body is.
        assert np.median(np.linalg.norm(kp[i] - kp_movenet[i], axis=-1)) < 0.08 * height


def test_background_box_gives_missing_keypoints(backend):
    blank = np.zeros((480, 640, 3), np.uint8)
    kp, sc = backend.estimate(blank, np.array([[200, 100, 300, 400]], np.float32))
    assert np.isnan(kp).all() and (sc == 0).all()
    kp, sc = backend.estimate(blank, np.zeros((0, 4), np.float32))
    assert kp.shape == (0, 17, 2)


def test_world_landmarks_are_a_metric_upright_body(sample_frames):
    from hmr_models.frontend.keypoints.mediapipe_pose import MediaPipePoseBackend
    frame = sample_frames[75]
    boxes = np.stack([person_box(xy, h) for xy, h in SAMPLE_PEOPLE[75].values()])
    backend = MediaPipePoseBackend(world_landmarks=True)
    try:
        kp, _ = backend.estimate(frame, boxes)
        world = backend.last_world_landmarks
        assert world.shape == (2, 17, 3) and np.isfinite(world).all()
        for person in world:
            hips, shoulders = person[11:13].mean(0), person[5:7].mean(0)
            ankles = person[15:17].mean(0)
            assert np.linalg.norm(hips) < 0.05                   # origin between the hips
            assert shoulders[1] < hips[1] - 0.3 < ankles[1] - 0.9  # y down, metres
            assert 0.2 < np.linalg.norm(person[5] - person[6]) < 0.6   # shoulder width
        # A box without a person: no world landmarks either.
        backend.estimate(np.zeros((480, 640, 3), np.uint8),
                         np.array([[200, 100, 300, 400]], np.float32))
        assert np.isnan(backend.last_world_landmarks).all()
    finally:
        backend.close()
