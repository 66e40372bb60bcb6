"""DPMeshPredictor on a real frame: batching, cameras, empty input, bad input."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dpmesh_helpers import make_model
from hmr_models.dpmesh import DPMeshPredictor
from hmr_models.types import CameraIntrinsics, People

SAMPLE = Path(__file__).resolve().parents[2] / 'media' / 'sample_sports2d.mp4'


@pytest.fixture(scope='module')
def frame():
    cap = cv2.VideoCapture(str(SAMPLE))
    ok, bgr = cap.read()
    cap.release()
    assert ok, f'cannot read {SAMPLE}'
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope='module')
def predictor(test_body):
    return DPMeshPredictor(make_model(), test_body)


def _people(n, w, h, seed=0):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0, w * 0.7, n)
    y0 = rng.uniform(0, h * 0.5, n)
    boxes = np.stack([x0, y0, x0 + w * 0.2, y0 + h * 0.45], 1).astype(np.float32)
    kp = boxes[:, None, :2] + rng.random((n, 17, 2)) * (boxes[:, None, 2:] - boxes[:, None, :2])
    scores = rng.uniform(0.0, 1.0, (n, 17)).astype(np.float32)
    kp[0, 3] = np.nan                                   # a missing keypoint from a backend
    return People(boxes=boxes, scores=np.ones(n, np.float32), keypoints=kp.astype(np.float32),
                  keypoint_scores=scores, track_ids=np.arange(n))


def test_predict_batches_people_consistently(frame, predictor, test_body):
    h, w = frame.shape[:2]
    people = _people(3, w, h)
    est = predictor.predict(frame, people)
    assert len(est) == 3
    assert est.pose.shape == (3, 72) and est.betas.shape == (3, 10)
    assert est.joints.shape == (3, 24, 3) and est.joint_confidence.shape == (3, 24)
    assert est.vertices.shape == (3, test_body.num_vertices, 3)
    assert est.body_model == test_body.name and est.model_profile == 'tiny'
    assert not est.temporal
    assert np.isfinite(est.vertices).all() and (est.translation[:, 2] > 0).all()
    assert set(predictor.last_timings_ms) == {'prepare', 'dpmesh', 'body'}
    # one forward for all people == one forward per person
    for i in range(3):
        one = predictor.predict(frame, people.select([i]))
        np.testing.assert_allclose(one.pose[0], est.pose[i], atol=2e-4)
        np.testing.assert_allclose(one.translation[0], est.translation[i], rtol=1e-4,
                                   atol=1e-4)


def test_translation_follows_the_camera(frame, predictor):
    h, w = frame.shape[:2]
    people = _people(2, w, h, seed=1)
    default = predictor.predict(frame, people)
    cam = CameraIntrinsics.from_image_diagonal(w, h)
    assert np.allclose(predictor.predict(frame, people, cam).translation, default.translation)
    far = CameraIntrinsics(cam.fx * 2, cam.fy * 2, cam.cx, cam.cy, w, h)
    np.testing.assert_allclose(predictor.predict(frame, people, far).translation[:, 2],
                               2 * default.translation[:, 2], rtol=1e-4)
    # the body root lands inside its person's box in the image
    uv = default.translation[:, :2] / default.translation[:, 2:] * cam.fx + [cam.cx, cam.cy]
    b = people.boxes
    margin = 0.5 * (b[:, 2:] - b[:, :2])
    assert ((uv > b[:, :2] - margin) & (uv < b[:, 2:] + margin)).all()


def test_empty_and_invalid_input(frame, predictor, test_body):
    empty = predictor.predict(frame, People())
    assert len(empty) == 0 and empty.vertices.shape == (0, test_body.num_vertices, 3)
    with pytest.raises(ValueError, match='uint8'):
        predictor.predict(frame.astype(np.float32), _people(1, 100, 100))
    with pytest.raises(TypeError, match='People'):
        predictor.predict(frame, {'boxes': []})


def test_joint_confidence_reflects_keypoint_evidence(frame, predictor):
    h, w = frame.shape[:2]
    people = _people(1, w, h, seed=2)
    people.keypoint_scores[:] = 1.0
    people.keypoint_scores[0, [9, 15]] = 0.0            # left wrist and left ankle unseen
    est = predictor.predict(frame, people)
    from hmr_models.skeleton import SMPL24_NAMES
    conf = dict(zip(SMPL24_NAMES, est.joint_confidence[0]))
    assert conf['right_wrist'] == 1.0 and conf['left_wrist'] < 0.5
    assert conf['left_ankle'] < 0.5 and conf['right_knee'] == 1.0


def _score_lifter_model():
    """A tiny lifted DPMesh whose lifter reads scores and does not answer zero."""
    import torch
    model = make_model({'pose_head': {'type': 'lifted'},
                        'keypoint_lifter': {'enabled': True, 'hidden': 64, 'scores': True}})
    torch.nn.init.normal_(model.keypoint_lifter.out.weight, std=0.05)
    return model


def test_a_score_lifter_gets_the_front_end_scores(frame, test_body):
    """Same keypoints, other confidences (all above the threshold): a lifter trained on
    scores answers differently, so the predictor really hands them over."""
    pred = DPMeshPredictor(_score_lifter_model(), test_body)
    h, w = frame.shape[:2]
    people = _people(1, w, h)
    sure = People(**{**people.__dict__, 'keypoint_scores': np.full((1, 17), 0.9, np.float32)})
    unsure = People(**{**people.__dict__, 'keypoint_scores': np.full((1, 17), 0.4, np.float32)})
    assert not np.allclose(pred.predict(frame, sure).pose, pred.predict(frame, unsure).pose,
                           atol=1e-4)


def test_lift_is_the_lifter_without_the_image_corrections(frame, test_body):
    """With the image heads' corrections zeroed, the whole model and `lift` agree; with them
    on, they differ (lift really skips the image)."""
    import torch
    model = _score_lifter_model()
    pred = DPMeshPredictor(model, test_body)
    h, w = frame.shape[:2]
    people = _people(2, w, h)
    cam = CameraIntrinsics(fx=900.0, fy=900.0, cx=w / 2, cy=h / 2, width=w, height=h)
    lifted = pred.lift(people, cam)
    assert len(lifted) == 2 and lifted.vertices.shape == (2, test_body.num_vertices, 3)
    with torch.no_grad():               # the correction heads start at zero: wake them
        for p in model.heads.parameters():
            p.normal_(0.0, 0.05)
    assert not np.allclose(pred.predict(frame, people, cam).pose, lifted.pose, atol=1e-4)
    with torch.no_grad():
        for p in model.heads.parameters():
            p.zero_()
    whole = pred.predict(frame, people, cam)
    np.testing.assert_allclose(whole.pose, lifted.pose, atol=1e-4)
    np.testing.assert_allclose(whole.translation, lifted.translation, atol=1e-4)
    assert len(pred.lift(people.select([]), cam)) == 0
    with pytest.raises(ValueError, match='no keypoint lifter'):
        DPMeshPredictor(make_model(), test_body).lift(people, cam)


def test_refiner_moves_the_bodies_onto_their_keypoints(frame, test_body):
    from hmr_models.fitting import KeypointRefiner, RefineConfig
    h, w = frame.shape[:2]
    people = _people(2, w, h, seed=3)
    people.keypoint_scores[:] = 0.9
    camera = CameraIntrinsics.from_image_diagonal(w, h)
    model = make_model()
    plain = DPMeshPredictor(model, test_body).predict(frame, people, camera)
    refiner = KeypointRefiner(test_body, RefineConfig(refine_keypoint_sigma=0.03))
    predictor = DPMeshPredictor(model, test_body, refiner=refiner)
    fitted = predictor.predict(frame, people, camera)
    assert set(predictor.last_timings_ms) == {'prepare', 'dpmesh', 'refine', 'body'}

    def err(e):
        return refiner.keypoint_error(e.pose, e.betas, e.translation, people.keypoints,
                                      people.keypoint_scores, people.boxes, camera)
    assert (err(fitted) < err(plain)).all()
    # vertices are the body's for the refined parameters
    ref = test_body(torch.from_numpy(fitted.pose), torch.from_numpy(fitted.betas),
                    torch.from_numpy(fitted.translation))
    np.testing.assert_allclose(fitted.vertices, ref.vertices.detach().numpy(), atol=1e-4)


def test_interval_zero_is_the_lifter_alone(frame, test_body):
    """image_correction_interval 0: the keypoint lifter alone, with corrections that would
    change the answer; the image's pixels are never looked at (a black frame gives the same)."""
    from hmr_models.dpmesh.factory import MeshConfig
    model = _score_lifter_model()
    with torch.no_grad():               # corrections that matter, were the image part run
        for p in model.heads.parameters():
            p.normal_(0.0, 0.05)
    pred = DPMeshPredictor(model, test_body, image_correction_interval=0)
    h, w = frame.shape[:2]
    people = _people(2, w, h)
    people.track_ids = np.array([3, -1])            # tracked or not, the same rule
    cam = CameraIntrinsics(fx=900.0, fy=900.0, cx=w / 2, cy=h / 2, width=w, height=h)
    lifted = pred.lift(people, cam)
    for image in (frame, np.zeros_like(frame), frame):
        out = pred.predict(image, people, cam)
        np.testing.assert_allclose(out.pose, lifted.pose, atol=1e-4)
        np.testing.assert_allclose(out.translation, lifted.translation, atol=1e-4)
    # no image at all (data generation without rendering): the same, given the camera
    np.testing.assert_allclose(pred.predict(None, people, cam).pose, lifted.pose, atol=1e-4)
    with pytest.raises(ValueError, match='camera'):
        pred.predict(None, people)
    every = DPMeshPredictor(model, test_body, image_correction_interval=1)
    assert not np.allclose(every.predict(frame, people, cam).pose, lifted.pose, atol=1e-4)
    with pytest.raises(ValueError, match='looks at the image'):
        every.predict(None, people, cam)
    with pytest.raises(ValueError, match='>= -1'):
        MeshConfig(image_correction_interval=-2).validate()
    # auto (the default): never on a CPU for a lifted model; a model without a lifter always
    # looks at the image
    assert MeshConfig().image_correction_interval == -1
    assert DPMeshPredictor(model, test_body, image_correction_interval=-1) \
        .image_correction_interval == 0
    assert DPMeshPredictor(make_model(), test_body, image_correction_interval=-1) \
        .image_correction_interval == 1
    assert DPMeshPredictor(make_model(), test_body, image_correction_interval=0) \
        .image_correction_interval == 1


def test_the_motion_prior_carries_a_tracked_persons_fit_by_stamp(frame, test_body):
    """refine_motion_sigma: a tracked person's fit is drawn to their fit of the call before,
    as far as the stamps say; an untracked person, an unknown stamp or a long gap: as fresh."""
    from hmr_models.fitting import KeypointRefiner, RefineConfig
    h, w = frame.shape[:2]
    first = _people(2, w, h, seed=3)
    first.keypoint_scores[:] = 0.9
    first.track_ids = np.array([4, -1])
    then = _people(2, w, h, seed=3)
    then.keypoints = then.keypoints + np.float32(0.02 * h)    # everybody moved a little
    then.keypoint_scores[:] = 0.9
    then.keypoint_scores[:, [7, 9, 13, 15]] = 0.0          # one arm and one leg unseen now
    then.track_ids = first.track_ids
    camera = CameraIntrinsics.from_image_diagonal(w, h)
    model = make_model()
    refiner = KeypointRefiner(test_body, RefineConfig(refine_motion_sigma=0.5))

    def second(stamp, fit=refiner):
        predictor = DPMeshPredictor(model, test_body, refiner=fit)
        predictor.predict(frame, first, camera, stamp=0.0)
        return predictor.predict(frame, then, camera, stamp=stamp).pose

    without = second(1 / 30, KeypointRefiner(test_body, RefineConfig(refine_motion_sigma=0)))
    carried = second(1 / 30)
    assert np.abs(carried[0] - without[0]).max() > 0.05     # tracked: drawn to the call before
    np.testing.assert_allclose(carried[1], without[1], atol=1e-5)  # untracked: as without
    for unknown in (second(None), second(1.0)):            # no stamp, or half a second and more
        np.testing.assert_allclose(unknown, without, atol=1e-5)
