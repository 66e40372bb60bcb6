"""The floor of a fixed camera found from people's ankles (hmr_models.fitting.floor_estimate)."""
import math

import numpy as np
import pytest

from hmr_models.body import load_body_model
from hmr_models.fitting.floor_estimate import (FloorFromPeople, ankle_clearance, fit_floor,
                                               up_vector)
from hmr_models.types import BodyEstimate, CameraIntrinsics, People

CAMERA = CameraIntrinsics.from_image_diagonal(1280, 720)
PITCH = math.radians(20.0)               # the camera looks 20 degrees down
UP = (0.0, -math.cos(PITCH), -math.sin(PITCH))   # gravity's up in the optical frame
HEIGHT = 2.5                             # the camera above the floor, metres
ANKLE = 0.08                             # ankle joints above the floor


def _on_floor(ground_xz):
    """Camera-frame points at ANKLE over the floor below world (x, z) ground positions."""
    up = np.array(UP)
    forward = np.array([0.0, -math.sin(PITCH), math.cos(PITCH)])  # level, ahead
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    x, z = np.asarray(ground_xz, np.float64).T
    return (x[:, None] * right + z[:, None] * forward + (ANKLE - HEIGHT) * up)


def _frame(ankles, size=None, scores=0.9):
    """(BodyEstimate, People) of people whose two ankles are `ankles` (N, 2, 3)."""
    n = len(ankles)
    joints = np.zeros((n, 24, 3))
    joints[:, 7], joints[:, 8] = ankles[:, 0], ankles[:, 1]
    pixels = np.full((n, 17, 2), 100.0)
    pixels[:, 15:17] = CAMERA.project(ankles)
    bodies = BodyEstimate(pose=np.zeros((n, 72)), betas=np.zeros((n, 10)),
                          translation=ankles.mean(1), joints=joints,
                          joint_confidence=np.ones((n, 24)), size=size)
    people = People(boxes=np.zeros((n, 4)), scores=np.ones(n),
                    keypoints=pixels.astype(np.float32),
                    keypoint_scores=np.full((n, 17), scores, np.float32),
                    track_ids=np.arange(n))
    return bodies, people


def _walk(estimator, frames, people=4, spread=4.0, seed=1, sizes=None, noise=0.02):
    """People walking about the floor in front of the camera, seen at the networks' mean size:
    a person `sizes[i]` times it is seen `1 / sizes[i]` times as far (same projection)."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([-spread / 2, 4.0], [spread / 2, 4.0 + spread], (people, 2))
    heading = rng.uniform(0, 2 * np.pi, people)
    sizes = np.ones(people) if sizes is None else np.asarray(sizes)
    for f in range(frames):
        where = start + 0.04 * f * np.stack([np.cos(heading), np.sin(heading)], 1)
        feet = np.stack([_on_floor(where + [0.1, 0.0]), _on_floor(where - [0.1, 0.0])], 1)
        feet[:, 1] += 0.15 * (f % 10 < 5) * np.array(UP)          # a foot in the air, often
        feet /= sizes[:, None, None]
        feet += rng.normal(0.0, noise, feet.shape)
        estimator.observe(*_frame(feet), CAMERA)


def _angle(a, b):
    return math.degrees(math.acos(np.clip(np.dot(a, b), -1.0, 1.0)))


def test_the_body_models_ankles_are_a_few_centimetres_over_its_soles():
    body = load_body_model()
    smpl = body.smpl
    clearance = ankle_clearance(smpl.v_template.numpy(), smpl.J_regressor.numpy())
    assert 0.05 < clearance < 0.11


def test_people_walking_about_give_the_floor():
    estimator = FloorFromPeople(ANKLE)
    _walk(estimator, 150, people=10)
    assert estimator.floor is not None, estimator.last_reason
    up, height = estimator.floor
    assert _angle(up, UP) < 2.0
    assert height == pytest.approx(HEIGHT, rel=0.03)
    camera = estimator.apply(CAMERA)
    assert camera.floor == pytest.approx(height) and camera.up is not None


def test_the_floor_is_at_the_crowds_typical_size():
    """People of other sizes sit on parallel planes: up is kept, the height is the median's."""
    estimator = FloorFromPeople(ANKLE)
    sizes = [0.9, 1.0, 1.0, 1.0, 1.1, 1.0, 0.95, 1.0, 1.05, 1.0]
    _walk(estimator, 150, people=10, sizes=sizes)
    up, height = estimator.floor
    assert _angle(up, UP) < 3.0
    assert height == pytest.approx(HEIGHT, rel=0.05)


def test_people_standing_still_give_no_floor():
    estimator = FloorFromPeople(ANKLE)
    _walk(estimator, 60, people=1, spread=0.0)   # one person, walking 2.4 m along one line
    assert estimator.floor is None
    assert "tilt is only known" in estimator.last_reason


def test_a_moving_camera_gives_no_floor():
    """The camera turned 30 degrees down half-way: no plane holds most of the points."""
    estimator = FloorFromPeople(ANKLE)
    _walk(estimator, 30, seed=1)
    turn = math.radians(30.0)
    rot = np.array([[1, 0, 0], [0, math.cos(turn), -math.sin(turn)],
                    [0, math.sin(turn), math.cos(turn)]])
    rows = np.array(estimator.feet)               # track id, two ankles' x y z
    estimator.reset()
    estimator.feet.extend(rows)
    turned = (rows[:, 1:].reshape(-1, 2, 3) @ rot.T).reshape(-1, 6)
    estimator.feet.extend(np.column_stack([rows[:, :1], turned]))
    estimator.refit()
    assert estimator.floor is None and estimator.last_reason


def test_unsure_cut_off_or_missing_ankles_do_not_count():
    estimator = FloorFromPeople(ANKLE)
    ankles = _on_floor([[0.0, 5.0], [0.2, 5.0]])[None]
    estimator.observe(*_frame(ankles, scores=0.2), CAMERA)            # unsure
    bodies, people = _frame(ankles)
    people.keypoints[:, 15:17, 1] = CAMERA.height - 1.0                # on the bottom edge
    estimator.observe(bodies, people, CAMERA)
    bodies, people = _frame(ankles)
    people.keypoints[:, 15:17] = np.nan                                 # not found
    estimator.observe(bodies, people, CAMERA)
    bodies, people = _frame(ankles)
    bodies.joints[:, 7:9] = np.nan                                      # a broken estimate
    estimator.observe(bodies, people, CAMERA)
    estimator.observe(None, People(), CAMERA)                           # nobody
    assert len(estimator.feet) == 0
    bodies, people = _frame(ankles)
    people.keypoint_scores[:, 16] = 0.1                                  # one ankle unsure
    estimator.observe(bodies, people, CAMERA)
    estimator.observe(*_frame(ankles), CAMERA)
    feet = np.array(estimator.feet)
    assert len(feet) == 2 and np.isnan(feet[0, 4:]).all() and np.isfinite(feet[1]).all()


def test_the_floors_own_size_factor_is_undone():
    """A person the floor sized 1.2x is counted at the networks' size: no feedback."""
    estimator = FloorFromPeople(ANKLE)
    ankles = _on_floor([[0.0, 5.0], [0.2, 5.0]])[None]
    estimator.observe(*_frame(ankles * 1.2, size=np.log([1.2])), CAMERA)
    np.testing.assert_allclose(np.array(estimator.feet)[0, 1:], ankles[0].ravel(), atol=1e-9)


def test_a_known_floor_is_kept_and_a_new_stream_forgets():
    estimator = FloorFromPeople(ANKLE)
    _walk(estimator, 150, people=10)
    assert 'the camera 2.5' in estimator.describe()
    known = CAMERA.with_floor((0.0, -1.0, 0.0), 1.2)
    assert estimator.apply(known) == known
    assert 'not used, the camera knows its floor' in estimator.describe()
    estimator.reset()
    assert estimator.floor is None and len(estimator.feet) == 0
    assert estimator.apply(CAMERA) == CAMERA
    assert 'none yet (no ankles seen yet)' in estimator.describe()


def test_fit_floor_is_robust_to_feet_in_the_air_and_bad_estimates():
    rng = np.random.default_rng(0)
    ground = rng.uniform([-3, 3], [3, 9], (600, 2))
    feet = np.stack([_on_floor(ground), _on_floor(ground + [0.2, 0.0])], 1)
    track = np.repeat(np.arange(12), 50)
    feet[::2, 1] += rng.uniform(0.05, 0.3, (300, 1)) * np.array(UP)   # half the frames: a
    feet[1::10] *= rng.uniform(0.5, 2.0, (60, 1, 1))                   # foot up; a tenth far off
    feet[3::10, 0] = np.nan                                             # one ankle unseen
    up, distance, tilt_sd, agree, inside = fit_floor(feet, track)
    assert _angle(up, UP) < 0.5 and tilt_sd < 1.0 and inside
    assert distance == pytest.approx(HEIGHT - ANKLE, rel=0.01)
    assert 0.85 < agree < 0.97          # the far-off feet disagree


def test_up_vector_of_a_pitched_and_rolled_camera():
    np.testing.assert_allclose(up_vector(PITCH, 0.0), UP, atol=1e-12)
    up = up_vector(0.0, math.radians(90.0))              # rolled onto its side
    np.testing.assert_allclose(up, (-1.0, 0.0, 0.0), atol=1e-12)


def test_a_found_floor_outlasts_a_quiet_spell(monkeypatch):
    """Once found, a refit that knows the tilt less well (fewer walkers in the window) keeps
    the floor, unless it knows it much less well."""
    from hmr_models.fitting import floor_estimate
    estimator = FloorFromPeople(ANKLE)
    _walk(estimator, 150, people=10)
    found = estimator.floor
    assert found is not None
    monkeypatch.setattr(floor_estimate, 'MAX_TILT_SD_DEG', 0.01)    # as if too few walkers
    estimator.refit()
    assert estimator.floor == found and 'only known' in estimator.last_reason
    monkeypatch.setattr(floor_estimate, 'KEEP_TILT_SD_DEG', 0.01)
    assert estimator.refit() and estimator.floor is None
