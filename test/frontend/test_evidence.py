"""Front-end rules against false people: body evidence and duplicate boxes (no models)."""
import numpy as np

from hmr_models.frontend import FrontEndConfig
from hmr_models.frontend.frontend import body_evidence, close_people, duplicate_similarity
from hmr_models.types import People


def _person(box, seed=0, scores=0.9):
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box
    kp = np.stack([rng.uniform(x0, x1, 17), np.linspace(y0, y1, 17)], -1)
    return kp.astype(np.float32), np.full(17, scores, np.float32)


def test_body_evidence_needs_torso_and_limbs():
    cfg = FrontEndConfig()
    scores = np.full((4, 17), 0.9, np.float32)
    scores[1, [5, 6, 11, 12]] = 0.1                      # no torso
    scores[2, 7:11] = 0.1
    scores[2, 13:] = 0.1                                 # no limbs
    scores[3] = 0.25                                     # everything weak (a bin)
    assert body_evidence(scores, cfg).tolist() == [True, False, False, False]
    off = FrontEndConfig(min_torso_keypoints=0, min_limb_keypoints=0)
    assert body_evidence(scores, off).all()


def test_a_close_person_needs_the_torso_not_the_limbs():
    """Seen from behind near the camera, arms in front of the body and legs below the image:
    a tall, confidently detected box with 3 confident torso keypoints is a person."""
    cfg = FrontEndConfig()
    scores = np.full((3, 17), 0.9, np.float32)
    scores[:, 7:11] = 0.2
    scores[:, 13:] = 0.1                                 # no limbs
    scores[2, [5, 6]] = 0.1                              # and only the hips: not enough
    boxes = np.array([[400, 10, 640, 470], [100, 300, 160, 400], [400, 10, 640, 470]],
                     np.float32)
    close = close_people(boxes, np.array([0.6, 0.6, 0.6]), 480, cfg)
    assert close.tolist() == [True, False, True]
    assert body_evidence(scores, cfg, close).tolist() == [True, False, False]
    assert not body_evidence(scores, cfg).any()          # without the rule: nobody
    # a weak (candidate) box, or the rule off, gets no exception
    assert not close_people(boxes, np.array([0.25] * 3), 480, cfg).any()
    assert not close_people(boxes, np.array([0.6] * 3), 480,
                            FrontEndConfig(close_person_fraction=0.0)).any()


def test_a_second_box_on_the_upper_body_is_the_same_person():
    full_kp, full_sc = _person((100, 100, 200, 400))
    upper_kp, upper_sc = full_kp.copy(), full_sc.copy()
    upper_kp[11:] = full_kp[11:] + [[0.0, -150.0]] * 6   # legs guessed inside the small box
    upper_sc[11:] = 0.2
    other_kp, other_sc = _person((300, 100, 400, 400), seed=1)
    people = People(boxes=np.array([[100, 100, 200, 400], [100, 100, 200, 250],
                                    [300, 100, 400, 400]], np.float32),
                    scores=np.array([0.6, 0.9, 0.8], np.float32),
                    keypoints=np.stack([full_kp, upper_kp, other_kp]),
                    keypoint_scores=np.stack([full_sc, upper_sc, other_sc]),
                    track_ids=np.full(3, -1))
    sim = duplicate_similarity(people)
    assert sim[0, 1] > 0.8 and sim[0, 2] < 0.1
    # over every reported keypoint (the previous rule) the guessed legs hid it
    assert duplicate_similarity(people, min_common=0)[0, 1] < 0.8
