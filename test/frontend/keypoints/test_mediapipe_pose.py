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
