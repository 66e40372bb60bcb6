"""Floor contact: a known floor sets people's size and distance (hmr_models.fitting.floor)."""
import numpy as np
import pytest

from hmr_models.body import load_body_model
from hmr_models.fitting import KeypointRefiner, RefineConfig
from hmr_models.fitting import so3
from hmr_models.fitting.floor import scale_shape_direction
from hmr_models.types import CameraIntrinsics

CAMERA = CameraIntrinsics.from_image_diagonal(720, 1280)   # portrait: feet in the image
LEVEL = (0.0, -1.0, 0.0)                 # a level camera: up is -y in the optical frame
HEIGHT = 1.6                             # the camera's height above the floor, metres


@pytest.fixture(scope='module')
def body():
    return load_body_model()


@pytest.fixture(scope='module')
def refiner(body):
    return KeypointRefiner(body)


def _standing(n=1):
    pose = np.zeros((n, 72))
    pose[:, :3] = [np.pi, 0.0, 0.0]      # SMPL's y up -> the camera's y down, facing it
    return pose


def _person(refiner, scale, depth, lift=0.0, pose=None):
    """A body `scale` times the mean size, its lowest ankle keypoint `lift` metres above the
    floor's usual clearance, its root `depth` metres ahead: (pose, betas, transl, keypoints)."""
    pose = _standing() if pose is None else pose
    betas = ((scale - 1.0) * refiner.floor.scale_betas)[None]
    transl = np.array([[0.3, 0.0, depth]])
    sk = refiner.skeleton
    kp = sk.pose(so3.exp(pose.reshape(1, 24, 3)), betas, transl).keypoints
    ankle = kp[0, [15, 16], 1].max()       # y is down: the lower ankle has the larger y
    transl[0, 1] += HEIGHT - refiner.config.refine_floor_clearance - lift - ankle
    return pose, betas, transl


def _mean_size_estimate(refiner, pose, betas, transl):
    """What one view gives without a floor: the mean body, at the depth where it projects the
    same (the body scaled about the camera centre), so its keypoints fit as well."""
    sk = refiner.skeleton
    root = sk.pose(so3.exp(pose.reshape(1, 24, 3)), betas, transl).origin[0, 0]
    scale = 1.0 + np.dot(betas[0], refiner.floor.scale_betas) / np.dot(
        refiner.floor.scale_betas, refiner.floor.scale_betas)
    return np.zeros_like(betas), (root / scale - sk.rest[0])[None]


def _root(refiner, pose, betas, transl):
    return refiner.skeleton.pose(so3.exp(pose.reshape(-1, 24, 3)), betas, transl).origin[:, 0]


def _refine(refiner, pose, betas, transl, camera, seen=None):
    kp = refiner.project(pose, betas, transl, CAMERA)
    scores = np.full((1, 17), 0.9) if seen is None else seen.astype(float)[None] * 0.9
    boxes = np.concatenate([kp.min(1) - 10, kp.max(1) + 10], -1)
    return kp, refiner.refine(pose, betas, transl, kp, scores, boxes, camera)


def test_the_scale_direction_scales_the_template_about_its_root(body):
    t = lambda x: x.detach().numpy().astype(np.float64)  # noqa: E731
    v, dirs, root = t(body.smpl.v_template), t(body.smpl.shapedirs), t(body.smpl.J_regressor)[0]
    s = scale_shape_direction(v, dirs, root)
    for k in (0.9, 1.1):
        scaled = v + np.einsum('vcb,b->vc', dirs, (k - 1.0) * s)
        want = (v - root @ v) * k
        got = scaled - root @ scaled
        assert np.sqrt(((got - want) ** 2).sum(1).mean()) < 0.008   # < 8 mm RMS at 10 %


@pytest.mark.parametrize('scale', [0.72, 0.85, 1.12])
def test_a_known_floor_sizes_and_places_a_shorter_or_taller_person(refiner, scale):
    """The mean-size estimate of a child is too far away; the floor brings it most of the way
    back, with the keypoints' projection kept."""
    pose, betas, transl = _person(refiner, scale, depth=4.0)
    true_root = _root(refiner, pose, betas, transl)[0]
    b0, t0 = _mean_size_estimate(refiner, pose, betas, transl)
    before = abs(_root(refiner, pose, b0, t0)[0, 2] - true_root[2])
    assert before > 0.4                  # the size ambiguity: 0.45-1.6 m off in depth
    kp, blind = _refine(refiner, pose, b0, t0, CAMERA.with_up(LEVEL))
    np.testing.assert_allclose(blind.translation, t0, atol=0.05)     # no floor: no size
    kp, fit = _refine(refiner, pose, b0, t0, CAMERA.with_floor(LEVEL, HEIGHT))
    after = abs(_root(refiner, fit.pose, fit.betas, fit.translation)[0, 2] - true_root[2])
    assert after < 0.25 * before and after < 0.3
    assert np.exp(fit.scale[0]) == pytest.approx(scale, abs=0.06) and np.isnan(blind.scale[0])
    proj = refiner.project(fit.pose, fit.betas, fit.translation, CAMERA)
    assert np.median(np.linalg.norm(proj - kp, axis=-1)) < 3.0        # pixels


def test_a_person_off_the_floor_keeps_the_size_prior(refiner):
    """On a 40 cm box (or in the air) the feet are far above the floor: no push away."""
    pose, betas, transl = _person(refiner, 1.0, depth=4.0, lift=0.4)
    _, fit = _refine(refiner, pose, betas, transl, CAMERA.with_floor(LEVEL, HEIGHT))
    assert abs(fit.scale[0]) < 0.03
    assert abs(fit.translation[0, 2] - transl[0, 2]) < 0.15


def test_the_floor_needs_a_seen_ankle_and_can_be_turned_off(body, refiner):
    pose, betas, transl = _person(refiner, 0.75, depth=4.0)
    b0, t0 = _mean_size_estimate(refiner, pose, betas, transl)
    floor = CAMERA.with_floor(LEVEL, HEIGHT)
    no_feet = np.ones(17, bool)
    no_feet[[13, 14, 15, 16]] = False    # cut off by the image's bottom edge
    _, fit = _refine(refiner, pose, b0, t0, floor, seen=no_feet)
    assert np.isnan(fit.scale[0])
    np.testing.assert_allclose(fit.betas, b0, atol=1e-6)
    # ankles on the image's bottom edge: perhaps a foot cut off below it, not a contact
    kp = refiner.project(pose, b0, t0, CAMERA)
    shift = CAMERA.height - 2.0 - kp[0, 15:17, 1].max()
    kp[..., 1] += shift
    boxes = np.concatenate([kp.min(1) - 10, kp.max(1) + 10], -1)
    t_edge = t0 + [[0.0, shift * t0[0, 2] / CAMERA.fy, 0.0]]
    assert np.isnan(refiner.refine(pose, b0, t_edge, kp, np.full((1, 17), 0.9), boxes,
                                   floor).scale[0])
    off = KeypointRefiner(body, RefineConfig(refine_floor_sigma=0.0))
    _, fit = _refine(off, pose, b0, t0, floor)
    np.testing.assert_allclose(fit.betas, b0, atol=1e-6)
    with pytest.raises(ValueError, match='floor'):
        CAMERA.with_floor(LEVEL, float('nan'))
    assert CAMERA.with_floor(LEVEL, None).floor is None


def test_odd_floors_and_people_leave_the_estimate_alone(refiner):
    """A camera below its floor, a person behind the camera, NaN keypoints: no size, no error."""
    pose, betas, transl = _person(refiner, 0.8, depth=4.0)
    b0, t0 = _mean_size_estimate(refiner, pose, betas, transl)
    kp = refiner.project(pose, b0, t0, CAMERA)
    boxes = np.concatenate([kp.min(1) - 10, kp.max(1) + 10], -1)
    scores = np.full((1, 17), 0.9)
    fit = refiner.refine(pose, b0, t0, kp, scores, boxes, CAMERA.with_floor(LEVEL, -0.5))
    assert np.isnan(fit.scale[0])
    behind = t0 * [1.0, 1.0, -1.0]
    fit = refiner.refine(pose, b0, behind, kp, scores, boxes, CAMERA.with_floor(LEVEL, HEIGHT))
    assert np.isnan(fit.scale[0])
    fit = refiner.refine(pose, b0, t0, np.full_like(kp, np.nan), scores, boxes,
                         CAMERA.with_floor(LEVEL, HEIGHT))
    assert np.isnan(fit.scale[0]) and np.isfinite(fit.translation).all()
