"""Knees and ankles looked at again on a crop of the lower body (PersonFrontEnd._retry_legs).

The keypoint backend is scripted as MoveNet behaved on OpenCV's messi5.jpg (a lunge): in the
whole person's crop the stretched leg's ankle lands on the ball with a low score; in a crop
from the hips down it lands on the boot, scored higher.
"""
import numpy as np
import pytest

from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
from hmr_models.frontend.keypoints import KeypointBackend

from .test_occluders import FixedBoxes, skeleton_in

BOX = np.float32([100, 100, 500, 500])
BODY = skeleton_in(BOX)
BALL, BOOT = np.float32([470, 470]), np.float32([495, 430])


class LungeBackend(KeypointBackend):
    """The whole crop: left ankle on the ball (0.15). A crop that starts below the shoulders:
    the ankle on the boot (0.6), the hips where they are, or `hips_shift` px away."""

    name = 'lunge'

    def __init__(self, hips_shift=0.0):
        self.hips_shift, self.boxes = hips_shift, []

    def estimate(self, image, boxes):
        self.boxes.append(np.array(boxes))
        kps = np.repeat(BODY[None], len(boxes), 0).copy()
        scores = np.full(kps.shape[:2], 0.8, np.float32)
        for i, box in enumerate(boxes):
            lower = box[1] > BODY[6, 1]
            kps[i, 15], scores[i, 15] = (BOOT, 0.6) if lower else (BALL, 0.15)
            if lower:
                kps[i, [11, 12], 1] += self.hips_shift
                kps[i, 16] += 3.0                     # the other ankle moves a little...
                scores[i, 16] = 0.7                   # ... scored lower than the first time
        return kps.astype(np.float32), scores


def front_end(backend, **config):
    front = PersonFrontEnd(FrontEndConfig(detector_interval=1, **config))
    front.detector = FixedBoxes([BOX], [0.9])
    front.backend = backend
    return front


def image():
    return np.random.default_rng(0).integers(0, 255, (600, 600, 3), dtype=np.uint8)


def test_a_weak_ankle_is_taken_from_the_lower_body_crop():
    backend = LungeBackend()
    front = front_end(backend)                  # the default, 0.4
    people = front.detect(image())
    assert len(backend.boxes) == 2
    lower = backend.boxes[1][0]                       # from just above the hips to the feet
    hip_y, height = BODY[[11, 12], 1].mean(), BOX[3] - BOX[1]
    assert lower[[0, 2, 3]] == pytest.approx(BOX[[0, 2, 3]])
    assert lower[1] == pytest.approx(hip_y - 0.1 * height)
    np.testing.assert_allclose(people.keypoints[0, 15], BOOT)
    assert people.keypoint_scores[0, 15] == pytest.approx(0.6)
    # A keypoint the second look scores lower keeps the first estimate.
    np.testing.assert_allclose(people.keypoints[0, 16], BODY[16])
    assert people.keypoint_scores[0, 16] == pytest.approx(0.8)
    stats = front.last_stats
    assert stats.legs_retried == stats.legs_replaced == 1


def test_legs_of_other_hips_are_not_taken():
    """Hips a fifth of the box height away: the crop found someone else's legs."""
    front = front_end(LungeBackend(hips_shift=80.0), leg_retry_score=0.4)
    people = front.detect(image())
    np.testing.assert_allclose(people.keypoints[0, 15], BALL)
    assert front.last_stats.legs_retried == 1 and front.last_stats.legs_replaced == 0


def test_off_confident_legs_or_a_short_person_run_the_keypoints_once():
    for config, box in (({'leg_retry_score': 0.0}, BOX), ({'leg_retry_score': 0.1}, BOX),
                        ({}, np.float32([100, 100, 500, 240]))):     # 140 px: too short
        backend = LungeBackend()
        front = front_end(backend, **config)
        front.detector = FixedBoxes([box], [0.9])
        front.detect(image())
        assert len(backend.boxes) == 1 and front.last_stats.legs_retried == 0
