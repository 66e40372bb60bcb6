"""SMPL motions: resampling, FK, mirroring, heading and speed augmentation."""
import numpy as np
import pytest

from hmr_models.data.mocap.augment import (augment, center_start, mirror, rotate_yaw,
                                           speed_change)
from hmr_models.data.mocap.motion import SMPLMotion, resample, smpl_forward_kinematics
from hmr_models.data.mocap.retarget import default_rest_joints
from hmr_models.geometry.rotations_np import axis_rotation
from hmr_models.skeleton import SMPL24_FLIP

REST = default_rest_joints()


def fk(m):
    return smpl_forward_kinematics(m.pose, m.trans, REST)[0]


def test_resample_decimates_exactly_and_keeps_span(make_walk):
    m = make_walk(121, fps=120.0)
    out = resample(m, 30.0)
    assert len(out) == 31 and out.fps == 30.0
    np.testing.assert_allclose(fk(out), fk(m)[::4], atol=1e-5)


def test_resample_interpolates_between_frames(make_walk):
    m = make_walk(2, fps=1.0)
    mid = resample(m, fps=2.0)
    assert len(mid) == 3
    # Halfway pose: the slerp midpoint of each joint (here rotations about one axis).
    single_axis = [1, 2, 4, 5]  # hips and knees turn about x only in this motion
    half = 0.5 * (m.pose[0] + m.pose[1]).reshape(24, 3)[single_axis]
    np.testing.assert_allclose(mid.pose[1].reshape(24, 3)[single_axis], half, atol=1e-5)
    np.testing.assert_allclose(mid.trans[1], 0.5 * (m.trans[0] + m.trans[1]), atol=1e-6)


def test_resample_irregular_times(make_walk):
    m = make_walk(5, fps=30.0)
    m.meta['times'] = [0.0, 0.1, 0.15, 0.3, 0.4]
    out = resample(m, 10.0)
    assert len(out) == 5
    np.testing.assert_allclose(out.pose[[0, 1, 3, 4]], m.pose[[0, 1, 3, 4]], atol=1e-5)
    assert 'times' not in out.meta


def test_mirror_is_an_involution_and_mirrors_joints(make_walk):
    m = make_walk(30)
    twice = mirror(mirror(m))
    np.testing.assert_allclose(twice.pose, m.pose, atol=1e-6)
    np.testing.assert_allclose(twice.trans, m.trans, atol=1e-6)
    mj = fk(mirror(m))
    expected = fk(m)[:, SMPL24_FLIP] * [-1, 1, 1]   # default rest joints are symmetric
    np.testing.assert_allclose(mj, expected, atol=1e-5)


def test_rotate_yaw_turns_every_joint_about_the_vertical(make_walk):
    m = make_walk(20)
    turned = rotate_yaw(m, 0.7)
    np.testing.assert_allclose(fk(turned), fk(m) @ axis_rotation([0, 1, 0], 0.7).T,
                               atol=1e-5)


def test_speed_change_and_center(make_walk):
    m = make_walk(61)
    fast = speed_change(m, 2.0)
    assert len(fast) == 31 and fast.fps == m.fps and fast.meta['speed'] == 2.0
    np.testing.assert_allclose(fast.pose[5], m.pose[10], atol=1e-5)
    with pytest.raises(ValueError, match='speed'):
        speed_change(m, 0.0)
    c = center_start(m)
    p = c.trans[0] + REST[0]
    assert abs(p[0]) < 1e-6 and abs(p[2]) < 1e-6 and c.trans[0, 1] == m.trans[0, 1]


def test_augment_is_seeded_and_save_load_round_trip(make_walk, tmp_path):
    m = make_walk(40)
    a = augment(m, np.random.default_rng(3))
    b = augment(m, np.random.default_rng(3))
    np.testing.assert_array_equal(a.pose, b.pose)
    a.save(tmp_path / 'a.npz')
    back = SMPLMotion.load(tmp_path / 'a.npz')
    np.testing.assert_array_equal(back.pose, a.pose)
    assert back.meta == a.meta and back.fps == a.fps
