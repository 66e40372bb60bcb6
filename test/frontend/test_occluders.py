"""A crop that took the body of the person in front is estimated again with that person greyed.

The front-end's rule (PersonFrontEnd._retry_occluded) is checked with a keypoint backend that
behaves as MoveNet did on Pose2Sim's multi-person demo (cam01): in the crop of the man behind,
it returns a mix of the woman's head and legs with his arms, unless her body is greyed out.
The greying itself (occluders.grey_out_bodies) is checked on pixels.
"""
import numpy as np
import pytest

from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
from hmr_models.frontend.frontend import duplicate_similarity
from hmr_models.frontend.keypoints import KeypointBackend
from hmr_models.frontend.occluders import GREY, grey_out_bodies
from hmr_models.types import People

# A standing COCO-17 skeleton in a unit box (x right, y down): head, arms, hips, legs.
SKELETON = np.float32([
    [0.50, 0.08], [0.47, 0.06], [0.53, 0.06], [0.44, 0.07], [0.56, 0.07],
    [0.35, 0.20], [0.65, 0.20], [0.28, 0.36], [0.72, 0.36], [0.25, 0.50], [0.75, 0.50],
    [0.40, 0.52], [0.60, 0.52], [0.40, 0.74], [0.60, 0.74], [0.40, 0.96], [0.60, 0.96]])
FRONT_BOX = np.float32([300, 200, 500, 700])      # the woman in front
BACK_BOX = np.float32([180, 120, 420, 640])       # the man behind, his box over her shoulder
HEAD_AND_LEGS = [0, 1, 2, 3, 4, 11, 12, 13, 14, 15, 16]


def skeleton_in(box):
    x0, y0, x1, y1 = box
    return SKELETON * np.float32([x1 - x0, y1 - y0]) + np.float32([x0, y0])


FRONT, BACK = skeleton_in(FRONT_BOX), skeleton_in(BACK_BOX)


class FixedBoxes:
    """A detector that finds the given boxes."""

    def __init__(self, boxes, scores):
        self.boxes, self.scores = np.float32(boxes), np.float32(scores)

    def detect(self, image):
        return self.boxes.copy(), self.scores.copy()


class LatchesOntoTheFront(KeypointBackend):
    """The front person's body in her box; in the back box, her head and legs with his arms
    while she is visible (her chest pixel not grey), his whole body once she is greyed out.
    `second_box_sees` = 'front' makes the back box a second box on her (a true duplicate)."""

    name = 'latching'

    def __init__(self, second_box_sees='mix', nothing_once_hidden=False):
        self.calls, self.second_box_sees = [], second_box_sees
        self.nothing_once_hidden = nothing_once_hidden

    def estimate(self, image, boxes):
        chest = FRONT[[5, 6, 11, 12]].mean(0).round().astype(int)
        hidden = (image[chest[1], chest[0]] == GREY).all()
        self.calls.append(hidden)
        rows = []
        for box in boxes:
            if np.allclose(box, FRONT_BOX):
                rows.append(FRONT)
            elif hidden:
                rows.append(BACK)
            elif self.second_box_sees == 'front':
                rows.append(FRONT)
            else:
                mix = BACK.copy()
                mix[HEAD_AND_LEGS] = FRONT[HEAD_AND_LEGS]
                rows.append(mix)
        kps = np.stack(rows).astype(np.float32)
        score = 0.05 if hidden and self.nothing_once_hidden else 0.9
        return kps, np.full(kps.shape[:2], score, np.float32)


def front_end(backend, **config):
    front = PersonFrontEnd(FrontEndConfig(detector_interval=1, **config))
    front.detector = FixedBoxes([FRONT_BOX, BACK_BOX], [0.9, 0.5])
    front.backend = backend
    return front


def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 100, (800, 700, 3), dtype=np.uint8)   # no pixel is GREY (128)


def test_the_mixed_skeleton_is_in_the_retry_band():
    mix = BACK.copy()
    mix[HEAD_AND_LEGS] = FRONT[HEAD_AND_LEGS]
    people = People(boxes=np.stack([FRONT_BOX, BACK_BOX]), scores=np.float32([0.9, 0.5]),
                    keypoints=np.stack([FRONT, mix]), keypoint_scores=np.full((2, 17), 0.9),
                    track_ids=np.full(2, -1))
    similarity = duplicate_similarity(people)[0, 1]
    config = FrontEndConfig()
    assert config.occluded_retry_oks <= similarity < config.duplicate_oks_threshold


def test_the_person_behind_gets_his_own_body_after_a_retry():
    backend = LatchesOntoTheFront()
    front = front_end(backend)
    people = front.detect(image())
    assert backend.calls == [False, True]        # both boxes, then the back box, her greyed
    stats = front.last_stats
    assert stats.occluded_retried == stats.occluded_replaced == 1 and len(people) == 2
    back = int(np.argmin(np.abs(people.boxes - BACK_BOX).sum(1)))
    np.testing.assert_allclose(people.keypoints[back], BACK, atol=1e-4)
    np.testing.assert_allclose(people.keypoints[1 - back], FRONT, atol=1e-4)


def test_a_retry_that_finds_no_body_keeps_the_first_estimate():
    """Two people so close that greying one hides the other (Pose2Sim cam03): the person
    stays, with the keypoints of the first estimate."""
    backend = LatchesOntoTheFront(nothing_once_hidden=True)
    front = front_end(backend)
    people = front.detect(image())
    stats = front.last_stats
    assert backend.calls == [False, True] and len(people) == 2
    assert stats.occluded_retried == 1 and stats.occluded_replaced == 0
    back = int(np.argmin(np.abs(people.boxes - BACK_BOX).sum(1)))
    np.testing.assert_allclose(people.keypoints[back][HEAD_AND_LEGS], FRONT[HEAD_AND_LEGS],
                               atol=1e-4)


def test_retry_off_keeps_the_mixed_skeleton():
    backend = LatchesOntoTheFront()
    front = front_end(backend, occluded_retry_oks=1.0)
    people = front.detect(image())
    assert backend.calls == [False] and front.last_stats.occluded_retried == 0
    back = int(np.argmin(np.abs(people.boxes - BACK_BOX).sum(1)))
    np.testing.assert_allclose(people.keypoints[back][HEAD_AND_LEGS], FRONT[HEAD_AND_LEGS],
                               atol=1e-4)


def test_a_true_duplicate_is_dropped_without_a_retry():
    backend = LatchesOntoTheFront(second_box_sees='front')
    front = front_end(backend)
    people = front.detect(image())
    assert backend.calls == [False] and front.last_stats.occluded_retried == 0
    assert len(people) == 1 and front.last_stats.duplicates_dropped == 1


def test_grey_out_bodies_fills_the_grown_hull_and_nothing_else():
    img = image()
    scores = np.full((1, 17), 0.9, np.float32)
    scores[0, 15:] = 0.1                            # unsure ankles: not part of the region
    out = grey_out_bodies(img, FRONT[None], scores, FRONT_BOX[None], min_score=0.3)
    assert out is not img and (img != GREY).any(-1).all()     # the input is left as it was
    grey = (out == GREY).all(-1)
    chest = FRONT[[5, 6, 11, 12]].mean(0).astype(int)
    assert grey[chest[1], chest[0]]
    assert grey[int(FRONT[13, 1]), int(FRONT[13, 0])]          # a knee: inside
    assert not grey[int(FRONT[15, 1]) + 5, int(FRONT[15, 0])]  # below the unsure ankle: outside
    assert not grey[:150].any() and not grey[:, :250].any()
    np.testing.assert_array_equal(out[~grey], img[~grey])
    # Fewer than 3 sure keypoints: no region.
    few = np.zeros((1, 17), np.float32)
    few[0, :2] = 0.9
    np.testing.assert_array_equal(grey_out_bodies(img, FRONT[None], few, FRONT_BOX[None], 0.3),
                                  img)


@pytest.mark.parametrize('value', [-0.1, 0.0, 1.5])
def test_retry_threshold_is_checked(value):
    with pytest.raises(ValueError, match='occluded_retry_oks'):
        FrontEndConfig(occluded_retry_oks=value)
