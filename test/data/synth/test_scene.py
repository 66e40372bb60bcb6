"""Scene generator: shapes, determinism, camera-frame parameters, projection, floor."""
import numpy as np
import pytest
import torch

from hmr_models.data.synth.camera import CameraConfig, look_rotation, sample_intrinsics
from hmr_models.data.synth.scene import MotionPool, SceneConfig, SceneGenerator


@pytest.fixture(scope='module')
def generator(test_body, motions):
    cfg = SceneConfig(num_frames=12, people=(3,), people_weights=(1.0,),
                      occluders=(2,), occluder_weights=(1.0,))
    return SceneGenerator(test_body, MotionPool(motions), cfg, keep_vertices=True)


def test_scene_shapes_and_determinism(generator):
    a = generator.generate(seed=7)
    b = generator.generate(seed=7)
    c = generator.generate(seed=8)
    assert len(a.people) == 3 and a.num_frames == 12
    p = a.people[0]
    assert p.pose.shape == (12, 72) and p.transl.shape == (12, 3)
    assert p.joints.shape == (12, 24, 3) and p.keypoints3d.shape == (12, 17, 3)
    assert p.keypoints2d.shape == (12, 17, 2) and p.keypoint_codes.shape == (12, 17)
    assert p.boxes.shape == (12, 4) and p.betas.shape == (10,)
    for x, y in zip(a.people, b.people):
        np.testing.assert_array_equal(x.pose, y.pose)
        np.testing.assert_array_equal(x.keypoint_codes, y.keypoint_codes)
    assert not np.array_equal(a.people[0].transl, c.people[0].transl)


def test_camera_parameters_reproduce_the_body(generator, test_body):
    scene = generator.generate(seed=3)
    k = scene.camera.intrinsics
    for p in scene.people:
        with torch.no_grad():
            out = test_body(p.pose, np.repeat(p.betas[None], len(p.pose), 0), p.transl)
        np.testing.assert_allclose(out.joints.numpy(), p.joints, atol=1e-4)
        # Pixels are the pinhole projection of the camera-frame points.
        uv = p.keypoints3d[..., :2] / p.keypoints3d[..., 2:] * [k.fx, k.fy] + [k.cx, k.cy]
        np.testing.assert_allclose(uv, p.keypoints2d, rtol=1e-4, atol=1e-2)
        # World parameters stand on the floor (y = 0) and people are 2-10(+) m away.
        world = p.vertices @ scene.camera.rotation + scene.camera.centre
        low = np.percentile(world[..., 1].min(-1), 2)
        assert abs(low) < 1e-3
        assert 1.0 < np.median(p.joints[:, 0, 2]) < 14.0
        box = p.boxes
        assert (box[:, 2] > box[:, 0]).all() and (box[:, 3] > box[:, 1]).all()


def test_occluders_stand_on_the_floor_between_camera_and_people(generator):
    scene = generator.generate(seed=11)
    for o in scene.occluders:
        assert o.centre[1] == pytest.approx(o.half_size[1])
        assert scene.camera.to_camera(o.centre)[2] > 0


def test_scenes_have_every_kind_of_occlusion(generator):
    flags = 0
    for seed in range(4):
        for p in generator.generate(seed=seed).people:
            flags |= np.bitwise_or.reduce(p.keypoint_codes.reshape(-1))
    assert flags == 15  # out of frame, self, other person and object all happen


def test_intrinsics_are_realistic():
    rng = np.random.default_rng(0)
    for mode in ('diagonal', 'fov'):
        for _ in range(20):
            k = sample_intrinsics(rng, CameraConfig(focal_mode=mode))
            diag = np.hypot(k.width, k.height)
            assert 0.3 * diag < k.fx < 1.5 * diag and k.fx == k.fy
            assert abs(k.cx - k.width / 2) <= 0.02 * k.width + 1e-9
    with pytest.raises(ValueError, match='focal_mode'):
        sample_intrinsics(rng, CameraConfig(focal_mode='zoom'))
    # Looking down by 30 degrees: a point 30 degrees below the horizon is on the axis.
    rot = look_rotation(0.0, np.radians(30))
    p = rot @ np.array([0.0, -np.sin(np.radians(30)), np.cos(np.radians(30))])
    np.testing.assert_allclose(p, [0, 0, 1], atol=1e-12)
