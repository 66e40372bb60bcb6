"""Annotated debug images: boxes, skeletons, ids; missing keypoints skipped."""
import numpy as np

from hmr_models.frontend import draw_people, track_colour
from hmr_models.types import People


def one_person(track_id=3):
    kp = np.array([[50 + 2 * k, 30 + 8 * k] for k in range(17)], np.float32)
    kp[4] = np.nan
    scores = np.full(17, 0.9, np.float32)
    scores[4] = 0.0
    return People(boxes=np.array([[30, 20, 110, 180]], np.float32),
                  scores=np.array([0.8], np.float32), keypoints=kp[None],
                  keypoint_scores=scores[None], track_ids=np.array([track_id], np.int64))


def test_draws_box_skeleton_and_leaves_input_alone():
    image = np.zeros((200, 160, 3), np.uint8)
    out = draw_people(image, one_person())
    assert image.max() == 0, 'copy by default'
    colour = np.array(track_colour(3))
    assert (out[100, 30] == colour).all(), 'left box edge in the track colour'
    assert out[30 + 8 * 5, 50 + 2 * 5].max() > 0, 'keypoint drawn'
    assert out[150:, 130:].max() == 0, 'nothing far outside the person'
    same = draw_people(image, one_person(), copy=False)
    assert same is image and image.max() > 0


def test_colours_are_stable_and_distinct():
    assert track_colour(5) == track_colour(5)
    colours = {track_colour(i) for i in range(20)}
    assert len(colours) == 20
    assert track_colour(-1) == (200, 200, 200)


def test_empty_people():
    image = np.zeros((20, 20, 3), np.uint8)
    assert draw_people(image, People()).max() == 0
