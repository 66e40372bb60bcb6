"""Keypoint refinement: exact keypoints and Jacobians, recovery of known poses, robustness."""
import numpy as np
import pytest
import torch

from hmr_models.body import load_body_model
from hmr_models.fitting import KeypointRefiner, KeypointSkeleton, RefineConfig
from hmr_models.fitting import so3
from hmr_models.fitting.refine import mirror_in_depth
from hmr_models.skeleton import COCO17_NAMES, flip_permutation, SMPL24_NAMES
from hmr_models.types import CameraIntrinsics

J = {n: i for i, n in enumerate(SMPL24_NAMES)}
CAMERA = CameraIntrinsics.from_image_diagonal(640, 480)


@pytest.fixture(scope='module')
def body():
    return load_body_model()


@pytest.fixture(scope='module')
def skeleton(body):
    return KeypointSkeleton.from_body(body)


def _upright(n, yaw=0.0):
    """Poses (n, 72) of a body standing upright in the camera frame (y down), facing it.

    Knees and elbows a little bent, as real ones (the joint limits ask for >= 0.08 rad).
    """
    pose = np.zeros((n, 72))
    root = so3.exp(np.array([np.pi, 0.0, 0.0])) @ so3.exp(np.array([0.0, yaw, 0.0]))
    pose[:, :3] = so3.log(root)
    for name, axis, angle in (('left_knee', 0, 0.15), ('right_knee', 0, 0.15),
                              ('left_elbow', 1, -0.15), ('right_elbow', 1, 0.15)):
        pose[:, 3 * J[name] + axis] = angle
    return pose


def _scene(refiner, pose, betas=None, transl=(0.0, 0.2, 4.0)):
    n = len(pose)
    betas = np.zeros((n, 10)) if betas is None else betas
    transl = np.tile(np.asarray(transl, np.float64), (n, 1))
    kp = refiner.project(pose, betas, transl, CAMERA)
    boxes = np.concatenate([kp.min(1) - 10, kp.max(1) + 10], -1)
    return kp, np.full((n, 17), 0.9), boxes, betas, transl


def test_skeleton_keypoints_and_jacobians_are_exact(body, skeleton):
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.4, (3, 72))
    betas = rng.normal(0, 1, (3, 10))
    transl = rng.normal(0, 1, (3, 3)) + [0, 0, 5]
    with torch.no_grad():
        out = body(torch.tensor(pose, dtype=torch.float32),
                   torch.tensor(betas, dtype=torch.float32),
                   torch.tensor(transl, dtype=torch.float32))
        ref = body.regress(out.vertices, 'coco17').numpy()
    rot = so3.exp(pose.reshape(3, 24, 3))
    posed = skeleton.pose(rot, betas, transl)
    # exact up to pose blend shapes (the open body's move its keypoints < 1 mm)
    assert np.abs(posed.keypoints - ref).max() < 1e-3
    np.testing.assert_allclose(posed.origin, out.joints.numpy(), atol=1e-4)
    eps = 1e-6
    jac = skeleton.rotation_jacobian(posed)                  # (N, K, 24, 3, 3)
    for joint, axis in ((J['left_elbow'], 1), (J['spine2'], 0), (0, 2)):
        d = np.zeros(3)
        d[axis] = eps
        turned = rot.copy()
        turned[:, joint] = turned[:, joint] @ so3.exp(d)
        fd = (skeleton.pose(turned, betas, transl).keypoints - posed.keypoints) / eps
        np.testing.assert_allclose(fd, jac[:, :, joint, :, axis], atol=1e-5)
    shape_jac = skeleton.shape_jacobian(posed)
    more = betas.copy()
    more[:, 2] += eps
    fd = (skeleton.pose(rot, more, transl).keypoints - posed.keypoints) / eps
    np.testing.assert_allclose(fd, shape_jac[..., 2], atol=1e-6)


def test_so3_round_trip_and_jacobians():
    rng = np.random.default_rng(1)
    phi = rng.normal(0, 1, (6, 3))
    phi[0] = [np.pi - 1e-5, 0, 0]
    np.testing.assert_allclose(so3.exp(so3.log(so3.exp(phi))), so3.exp(phi), atol=1e-6)
    d = rng.normal(0, 1, 3) * 1e-6
    lhs = so3.log(so3.exp(phi[1]).T @ so3.exp(phi[1] + d))
    np.testing.assert_allclose(lhs, so3.right_jacobian(phi[1]) @ d, atol=1e-11)
    np.testing.assert_allclose(so3.right_jacobian_inv(phi[1:]) @ so3.right_jacobian(phi[1:]),
                               np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-9)


def test_noise_free_keypoints_of_a_bent_knee_bend_the_knee(body):
    """Side view (the bend is in the image plane): the straight estimate must bend.

    With a weak prior it is recovered; the default weights (set so that fitting noisy keypoints
    does not cost 3D accuracy on SynthOcc, README) bend it part of the way.
    """
    refiner = KeypointRefiner(body, RefineConfig(refine_keypoint_sigma=0.03,
                                                 refine_pose_sigma=1.0, refine_iterations=10))
    true = _upright(2, yaw=np.pi / 2)
    true[:, 3 * J['left_knee']] = 1.3
    true[:, 3 * J['left_hip']] = -0.6
    kp, scores, boxes, betas, transl = _scene(refiner, true)
    start = _upright(2, yaw=np.pi / 2)
    fit = refiner.refine(start, betas, transl + [0.05, -0.03, 0.2], kp, scores, boxes, CAMERA)
    knee = so3.log(so3.exp(fit.pose.reshape(2, 24, 3)[:, J['left_knee']].astype(np.float64)))
    assert (knee[:, 0] > 1.0).all(), knee
    assert (fit.error_after < 0.1 * fit.error_before).all()
    fit = KeypointRefiner(body).refine(start, betas, transl, kp, scores, boxes, CAMERA)
    assert (fit.pose.reshape(2, 24, 3)[:, J['left_knee'], 0] > 0.17).all()    # from 0.15
    proj = KeypointRefiner(body).project(fit.pose, fit.betas, fit.translation, CAMERA)
    before = KeypointRefiner(body).project(start, betas, transl, CAMERA)
    assert np.linalg.norm(proj[:, 15] - kp[:, 15], axis=-1).max() < \
        0.85 * np.linalg.norm(before[:, 15] - kp[:, 15], axis=-1).min()     # the ankle


def test_a_known_pose_is_recovered(body):
    rng = np.random.default_rng(2)
    refiner = KeypointRefiner(body, RefineConfig(refine_keypoint_sigma=0.03,
                                                 refine_iterations=10))
    true = _upright(3, yaw=0.6)
    for name, axis, angle in (('left_elbow', 1, -1.2), ('right_shoulder', 2, 0.8),
                              ('right_knee', 0, 0.7), ('right_hip', 0, -0.5)):
        true[:, 3 * J[name] + axis] = angle
    true[:, 3:] += rng.normal(0, 0.05, (3, 69))
    kp, scores, boxes, betas, transl = _scene(refiner, true)
    start = true.copy()
    start[:, 3:] += rng.normal(0, 0.15, (3, 69))         # a network's error
    fit = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA)

    def joints(p):
        with torch.no_grad():
            return body(torch.as_tensor(p, dtype=torch.float32)).joints.numpy()

    err = lambda p: np.linalg.norm(joints(p) - joints(true), axis=-1).mean()  # noqa: E731
    assert err(fit.pose) < 0.5 * err(start)
    assert fit.refined.all() and (fit.error_after < 0.01).all()


def test_the_keypoints_settle_the_heading_more_than_the_lean(body):
    """refine_heading_sigma governs the turn about the pelvis's up axis alone."""
    true = _upright(1, yaw=0.6)

    def fitted_root(start_root, heading_sigma):
        refiner = KeypointRefiner(body, RefineConfig(refine_heading_sigma=heading_sigma))
        kp, scores, boxes, betas, transl = _scene(refiner, true)
        start = true.copy()
        start[:, :3] = so3.log(so3.exp(true[:, :3]) @ so3.exp(np.array(start_root)))
        fit = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA)
        # the fit's root in the true pelvis frame: what is left of the start's error
        return so3.log(so3.exp(true[0, :3]).T @ so3.exp(fit.pose[0, :3]))

    heading_tight = fitted_root([0.0, 0.5, 0.0], 0.3)
    heading_loose = fitted_root([0.0, 0.5, 0.0], 1.0)
    assert abs(heading_loose[1]) < 0.5 * abs(heading_tight[1]) and abs(heading_loose[1]) < 0.2
    lean_tight = fitted_root([0.3, 0.0, 0.0], 0.3)
    lean_loose = fitted_root([0.3, 0.0, 0.0], 1.0)
    np.testing.assert_allclose(lean_loose[0], lean_tight[0], atol=0.03)


def _torso_tilt(refiner, pose, up):
    """Angle (radians) between the body's torso (hips -> shoulders) and `up`, camera frame."""
    kp = refiner.skeleton.pose(so3.exp(np.asarray(pose, np.float64).reshape(-1, 24, 3)),
                               np.zeros((len(pose), refiner.num_betas)), np.zeros((len(pose), 3)))
    torso = kp.keypoints[:, [5, 6]].mean(1) - kp.keypoints[:, [11, 12]].mean(1)
    torso /= np.linalg.norm(torso, axis=-1, keepdims=True)
    return np.arccos(np.clip(torso @ np.asarray(up), -1.0, 1.0))


def test_a_known_up_direction_keeps_an_upright_person_upright(body):
    """refine_upright_sigma: the camera's up pulls a wrongly leaning estimate upright."""
    up = np.array([0.0, -np.cos(0.4), -np.sin(0.4)])       # the camera looks 0.4 rad down
    true = _upright(1, yaw=0.5)
    true[:, :3] = so3.log(so3.exp(np.array([0.4, 0.0, 0.0])) @ so3.exp(true[:, :3]))
    refiner = KeypointRefiner(body)
    kp, scores, boxes, betas, transl = _scene(refiner, true)
    assert _torso_tilt(refiner, true, up)[0] < 0.12       # the body stands upright in the world
    start = true.copy()
    start[:, :3] = so3.log(so3.exp(true[:, :3]) @ so3.exp(np.array([0.35, 0.0, 0.0])))
    blind = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA)
    told = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA.with_up(up))
    tilt_blind, tilt_told = (_torso_tilt(refiner, f.pose, up)[0] for f in (blind, told))
    # one view's keypoints leave some of a lean (towards or away from the camera) unseen
    assert tilt_blind > 0.04 and tilt_told < 0.7 * tilt_blind
    off = KeypointRefiner(body, RefineConfig(refine_upright_sigma=0.0)).refine(
        start, betas, transl, kp, scores, boxes, CAMERA.with_up(up))
    np.testing.assert_allclose(off.pose, blind.pose, atol=1e-6)
    # the keypoints still fit: the prior turns the body, it does not pull it off them
    assert told.error_after[0] < 0.02


def test_the_up_direction_leaves_a_lying_person_alone(body):
    """A lean past refine_upright_max gets no upright prior: the same fit with or without up."""
    lying = _upright(1)
    lying[:, :3] = so3.log(so3.exp(np.array([-1.4, 0.0, 0.0])) @ so3.exp(lying[:, :3]))
    refiner = KeypointRefiner(body)
    kp, scores, boxes, betas, transl = _scene(refiner, lying, transl=(0.0, 0.8, 4.0))
    start = lying.copy()
    start[:, 3 * J['left_knee']] += 0.4
    blind = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA)
    told = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA.with_up((0, -1, 0)))
    np.testing.assert_allclose(told.pose, blind.pose, atol=1e-6)
    with pytest.raises(ValueError, match='up'):
        CAMERA.with_up((0.0, 0.0, 0.0))


def test_low_confidence_keypoints_do_not_pull_and_confident_ones_do(body):
    refiner = KeypointRefiner(body, RefineConfig(refine_keypoint_sigma=0.03))
    pose = _upright(1)
    kp, scores, boxes, betas, transl = _scene(refiner, pose)
    without = scores.copy()
    without[0, 9] = 0.0
    base = refiner.refine(pose, betas, transl, kp, without, boxes, CAMERA)
    moved = kp.copy()
    moved[0, 9] += [0.0, -20.0]                  # left wrist raised (~6 %; the T-pose arm turns)
    weak = scores.copy()
    weak[0, 9] = 0.2                                     # below refine_min_score
    fit = refiner.refine(pose, betas, transl, moved, weak, boxes, CAMERA)
    np.testing.assert_allclose(fit.pose, base.pose, atol=1e-6)
    fit = refiner.refine(pose, betas, transl, moved, scores, boxes, CAMERA)
    proj = refiner.project(fit.pose, fit.betas, fit.translation, CAMERA)
    assert np.linalg.norm(proj[0, 9] - moved[0, 9]) < 0.7 * np.linalg.norm(kp[0, 9] - moved[0, 9])


def test_a_left_right_swap_is_undone_not_fitted(body):
    refiner = KeypointRefiner(body, RefineConfig(refine_keypoint_sigma=0.03))
    true = _upright(1, yaw=0.3)
    true[:, 3 * J['left_shoulder'] + 2] = -1.0
    true[:, 3 * J['right_shoulder'] + 2] = 0.2
    kp, scores, boxes, betas, transl = _scene(refiner, true)
    swapped = kp.copy()
    swapped[0, [5, 7, 9, 6, 8, 10]] = kp[0, [6, 8, 10, 5, 7, 9]]
    start = true.copy()
    start[:, 3 * J['left_elbow'] + 1] -= 0.3             # an estimate a little off
    fit = refiner.refine(start, betas, transl, swapped, scores, boxes, CAMERA)
    clean = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA)
    np.testing.assert_allclose(fit.pose, clean.pose, atol=1e-5)
    assert fit.error_after[0] < 0.01


def _facing(skeleton, pose, betas, transl):
    """(N,) depth component of the torso's forward direction: < 0 faces the camera."""
    k = skeleton.pose(so3.exp(pose.reshape(-1, 24, 3)), betas, transl).keypoints
    across = (k[:, 5] + k[:, 11]) / 2 - (k[:, 6] + k[:, 12]) / 2
    up = (k[:, 5] + k[:, 6]) / 2 - (k[:, 11] + k[:, 12]) / 2
    forward = np.cross(across, up)
    return forward[:, 2] / np.linalg.norm(forward, axis=1)


def test_mirror_in_depth_keeps_the_silhouette_and_turns_the_body(body, skeleton):
    refiner = KeypointRefiner(body)
    pose = np.concatenate([_upright(1, yaw=0.3), _upright(1, yaw=-0.6)])
    pose[1, 3 * J['left_shoulder'] + 2] = -0.8                 # not symmetric
    kp, _, boxes, betas, transl = _scene(refiner, pose)
    turned = mirror_in_depth(pose)
    moved = refiner.project(turned, betas, transl, CAMERA)
    # Its left joints land where the right ones were; perspective moves the joints in front of
    # and behind the root a little (the fit's steps take that up).
    relabelled = kp[:, flip_permutation(COCO17_NAMES)]
    off = np.linalg.norm(moved - relabelled, axis=-1) / (boxes[:, 3:] - boxes[:, 1:2])
    assert (np.median(off, 1) < 0.02).all() and (off.max(1) < 0.1).all()
    assert (_facing(skeleton, pose, betas, transl) < -0.5).all()
    assert (_facing(skeleton, turned, betas, transl) > 0.5).all()
    twice = skeleton.pose(so3.exp(mirror_in_depth(turned).reshape(-1, 24, 3)), betas, transl)
    once = skeleton.pose(so3.exp(pose.reshape(-1, 24, 3)), betas, transl)
    np.testing.assert_allclose(twice.keypoints, once.keypoints, atol=1e-6)


@pytest.mark.parametrize('fix_facing', [True, False])
def test_an_estimate_facing_the_wrong_way_is_turned_before_the_fit(body, skeleton, fix_facing):
    """Someone seen from behind (keypoints' left at image left) and an estimate facing the
    camera with the same silhouette: the estimate is turned, then fitted."""
    refiner = KeypointRefiner(body, RefineConfig(refine_fix_facing=fix_facing))
    true = _upright(1, yaw=np.pi + 0.3)                       # facing away
    kp, scores, boxes, betas, transl = _scene(refiner, true)
    start = mirror_in_depth(true)
    start[:, 3 * J['left_elbow'] + 1] -= 0.3
    fit = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA)
    assert _facing(skeleton, true, betas, transl)[0] > 0.5
    if fix_facing:
        assert fit.mirrored == 1
        assert _facing(skeleton, fit.pose, fit.betas, fit.translation)[0] > 0.5
        assert fit.error_after[0] < 0.01
    else:
        assert fit.mirrored == 0
        assert _facing(skeleton, fit.pose, fit.betas, fit.translation)[0] < 0


def test_people_without_evidence_and_zero_iterations_pass_through(body):
    refiner = KeypointRefiner(body)
    pose = _upright(2)
    kp, scores, boxes, betas, transl = _scene(refiner, pose)
    scores[1] = 0.0                                     # no keypoint: keeps the estimate
    fit = refiner.refine(pose + 0.05, betas, transl, kp, scores, boxes, CAMERA)
    assert fit.refined.tolist() == [True, False]
    np.testing.assert_allclose(fit.pose[1], pose[1] + 0.05, atol=1e-6)
    same = refiner.refine(pose + 0.05, betas, transl, kp, scores, boxes, CAMERA, iterations=0)
    np.testing.assert_allclose(same.pose, pose + 0.05, atol=1e-6)
    empty = refiner.refine(np.zeros((0, 72)), np.zeros((0, 10)), np.zeros((0, 3)),
                           np.zeros((0, 17, 2)), np.zeros((0, 17)), np.zeros((0, 4)), CAMERA)
    assert empty.pose.shape == (0, 72)


@pytest.mark.parametrize('field,value', [('refine_iterations', -1), ('refine_min_score', 2.0),
                                         ('refine_keypoint_sigma', 0.0),
                                         ('refine_shape_sigma', -1.0),
                                         ('refine_heading_sigma', 0.0),
                                         ('refine_upright_sigma', -0.1),
                                         ('refine_upright_robust', -0.1),
                                         ('refine_upright_max', 0.0),
                                         ('refine_floor_sigma', -0.1),
                                         ('refine_floor_clearance', float('nan')),
                                         ('refine_size_sigma', 0.0)])
def test_config_is_checked(field, value):
    with pytest.raises(ValueError, match=field):
        RefineConfig(**{field: value})


def test_body_fitted_to_its_own_3d_keypoints_reproduces_them(body, skeleton):
    from hmr_models.fitting.fit3d import fit_to_points
    rng = np.random.default_rng(5)
    pose = _upright(2, yaw=0.7)
    pose[:, 3:] += rng.normal(0, 0.25, (2, 69))
    betas = rng.normal(0, 0.5, (2, 10))
    transl = np.array([[0.2, -0.1, 3.0], [-0.5, 0.3, 5.0]])
    target = skeleton.pose(so3.exp(pose.reshape(2, 24, 3)), betas, transl).keypoints
    valid = np.ones((2, 17), bool)
    valid[1, 9] = False                                 # a missing wrist is ignored
    target[1, 9] = np.nan
    p, b, t = fit_to_points(skeleton, target, valid)
    fitted = skeleton.pose(so3.exp(p.reshape(2, 24, 3)), b, t).keypoints
    err = np.linalg.norm(fitted - np.nan_to_num(target), axis=-1)[valid]
    assert err.max() < 0.01


def test_one_refiner_serves_two_threads(body):
    """The mesh and temporal stages fit on two threads with one refiner (temporal_worker): a
    call keeps nothing on the refiner (each result carries its own sizes and turns), and
    calls at once with different people give what each gives alone."""
    import threading
    refiner = KeypointRefiner(body, RefineConfig())
    before = {k: id(v) for k, v in vars(refiner).items()}
    floor = CAMERA.with_floor(np.array([0.0, -1.0, 0.0]), 1.1)    # y is down in the image
    scenes = {n: _scene(refiner, _upright(n, yaw=0.2 * n)) for n in (1, 2, 3)}
    alone = {n: refiner.refine(_upright(n), b, t, kp, s, bx, floor)
             for n, (kp, s, bx, b, t) in scenes.items()}
    assert {k: id(v) for k, v in vars(refiner).items()} == before, 'state left on the refiner'
    errors, done = [], []

    def fit_many(n):
        kp, s, bx, b, t = scenes[n]
        try:
            for _ in range(10):
                fit = refiner.refine(_upright(n), b, t, kp, s, bx, floor)
                assert fit.scale.shape == (n,) and len(fit.pose) == n
                np.testing.assert_allclose(fit.pose, alone[n].pose, atol=1e-5)
                np.testing.assert_array_equal(fit.scale, alone[n].scale)
            done.append(n)
        except Exception as exc:   # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=fit_many, args=(n,)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors and sorted(done) == [1, 2, 3], errors
    assert np.isfinite(alone[1].scale).all(), 'sized by the floor: the sizes are compared'


def _torso(refiner, pose, betas, transl):
    """(N, 3) unit torso directions (hips -> shoulders) of the posed COCO-17 keypoints."""
    kp = refiner.skeleton.pose(so3.exp(np.asarray(pose, np.float64).reshape(-1, 24, 3)),
                               np.asarray(betas, np.float64),
                               np.asarray(transl, np.float64)).keypoints
    v = kp[:, [5, 6]].mean(1) - kp[:, [11, 12]].mean(1)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_a_torso_flipped_for_one_frame_keeps_its_orientation_where_the_keypoints_allow(body):
    """refine_continuity: a person lying away from the camera, whose estimate in one frame has
    the torso's depth reversed (head up in the air, nearly the same projection), keeps the
    frame before's orientation; a turn the keypoints show is kept."""
    up = np.array([0.0, -np.cos(0.3), -np.sin(0.3)])       # the camera looks 0.3 rad down
    away = np.array([0.0, 0.0, 1.0]) - up * up[2]          # along the floor, away from it
    away /= np.linalg.norm(away)
    lying = _upright(1)
    # on his back, head away: body x (left), y (spine), z (front) in the camera frame
    lying[:, :3] = so3.log(np.stack([np.cross(away, up), away, up], 1))
    refiner = KeypointRefiner(body)
    kp, scores, boxes, betas, transl = _scene(refiner, lying, transl=(0.0, 0.9, 4.0))
    flat = _torso(refiner, lying, betas, transl)[0]
    # the turned estimate: the torso's depth mirrored about the line of sight
    ray = transl[0] / np.linalg.norm(transl[0])
    risen = flat - 2 * (flat @ ray) * ray
    axis = np.cross(flat, risen)
    turn = so3.exp(axis / np.linalg.norm(axis) * np.arccos(np.clip(flat @ risen, -1, 1)))
    start = lying.copy()
    start[:, :3] = so3.log(turn @ so3.exp(lying[:, :3]))
    assert np.degrees(np.arccos(flat @ risen)) > 60
    before = so3.exp(lying.reshape(-1, 24, 3))              # the frame before: lying flat
    kept = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA, previous_pose=before)
    alone = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA)
    off = KeypointRefiner(body, RefineConfig(refine_continuity=0.0)).refine(
        start, betas, transl, kp, scores, boxes, CAMERA, previous_pose=before)
    assert kept.kept_turn == 1 and alone.kept_turn == 0 and off.kept_turn == 0
    assert _torso(refiner, kept.pose, kept.betas, kept.translation)[0] @ flat > 0.95
    assert _torso(refiner, alone.pose, alone.betas, alone.translation)[0] @ flat < 0.7
    np.testing.assert_allclose(off.pose, alone.pose, atol=1e-6)
    assert kept.error_after[0] < 0.02
    # no previous frame (NaN) or no turn since it: as without
    for prev in (np.full((1, 24, 3, 3), np.nan), so3.exp(start.reshape(-1, 24, 3))):
        same = refiner.refine(start, betas, transl, kp, scores, boxes, CAMERA,
                              previous_pose=prev)
        np.testing.assert_allclose(same.pose, alone.pose, atol=1e-6)
    # a turn the keypoints show (a standing person who turned a quarter round) is kept
    standing = _upright(1, yaw=1.4)
    kp, scores, boxes, betas, transl = _scene(refiner, standing)
    fit = refiner.refine(standing, betas, transl, kp, scores, boxes, CAMERA,
                         previous_pose=so3.exp(_upright(1).reshape(-1, 24, 3)))
    assert fit.kept_turn == 0


def test_the_motion_prior_draws_what_the_keypoints_leave_open_to_the_frame_before(body):
    """refine_motion_sigma: a limb whose keypoints are missing follows the frame before's fit,
    the more so the shorter the time since; no frame before, an unknown, negative or too long
    time, or the prior off: as without it."""
    from hmr_models.fitting.refine import MOTION_MAX_GAP
    before = _upright(1)
    before[:, 3 * J['left_shoulder'] + 2] = -1.0            # the left arm raised sideways
    kp, scores, boxes, betas, transl = _scene(KeypointRefiner(body), before)
    scores[:, [7, 9]] = 0.0                                 # left elbow and wrist not seen now
    guess = _upright(1)                                     # the network: arm down
    shoulder = 3 * J['left_shoulder'] + 2
    rotations = so3.exp(before.reshape(-1, 24, 3))
    refiner = KeypointRefiner(body, RefineConfig(refine_motion_sigma=0.5))

    def arm(elapsed, prior=refiner):
        fit = prior.refine(guess, betas, transl, kp, scores, boxes, CAMERA,
                           previous_pose=rotations, elapsed=np.array([elapsed]))
        return fit.pose[0, shoulder], fit

    alone = KeypointRefiner(body).refine(guess, betas, transl, kp, scores, boxes, CAMERA)
    near, fit = arm(1 / 30)
    far, _ = arm(0.2)
    assert near < -0.75 and near < far < alone.pose[0, shoulder] - 0.1
    assert fit.error_after[0] < 0.02                         # the seen keypoints still fit
    for elapsed in (np.nan, -0.1, MOTION_MAX_GAP + 0.1):
        np.testing.assert_allclose(arm(elapsed)[1].pose, alone.pose, atol=1e-6)
    off = KeypointRefiner(body, RefineConfig(refine_motion_sigma=0.0))
    np.testing.assert_allclose(arm(1 / 30, off)[1].pose, alone.pose, atol=1e-6)
    assert RefineConfig().refine_motion_sigma == 1.0                # on by default
    none = refiner.refine(guess, betas, transl, kp, scores, boxes, CAMERA,
                          previous_pose=np.full((1, 24, 3, 3), np.nan), elapsed=np.array([0.03]))
    np.testing.assert_allclose(none.pose, alone.pose, atol=1e-6)
    with pytest.raises(ValueError, match='refine_motion_sigma'):
        RefineConfig(refine_motion_sigma=-1.0).validate()
