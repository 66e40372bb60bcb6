"""Generated sitting, kneeling, crouching and lying clips: labels, determinism, contacts, limits."""
import json

import numpy as np
import pytest

from hmr_models.data.mocap import postures as P
from hmr_models.data.mocap.motion import SMPLMotion, smpl_forward_kinematics
from hmr_models.data.mocap.retarget import target_rest_joints
from hmr_models.geometry.rotations_np import axis_angle_to_matrix, rotation_angle

FPS = 30.0


@pytest.fixture(scope='module')
def open_body():
    from hmr_models.body import load_body_model
    return load_body_model()


@pytest.fixture(scope='module')
def rest(open_body):
    return target_rest_joints(open_body)


@pytest.fixture(scope='module')
def clips(rest):
    """Six clips per posture: every variant at least once (lying has six)."""
    return P.posture_clips(rest, clips_per_posture=6, seed=0, fps=FPS)


def spheres(motion, rest):
    """Joints (T, 24, 3) and contact-sphere bottoms (T, S) of a clip."""
    joints, g_rot = smpl_forward_kinematics(motion.pose, motion.trans, rest)
    centres = P.sphere_centres(joints, g_rot, P.sphere_offsets(rest))
    return joints, centres[..., 1] - P.SPHERE_RADII


def lowest(bottom, *names):
    return bottom[..., [P.S[n] for n in names]].min(-1)


FEET = tuple(f'{s}_{n}' for s in P.SIDES for n in ('heel', 'ball', 'toe'))


def test_clips_are_labelled_and_cover_every_variant(clips):
    assert len(clips) == 6 * len(P.POSTURES)
    assert {m.meta['class'] for m in clips} == {'sitting', 'crouching_kneeling', 'lying'}
    for posture, variants in P.VARIANTS.items():
        mine = [m for m in clips if m.meta['posture'] == posture]
        assert {m.meta['variant'] for m in mine} == set(variants)
        assert [m.name for m in mine] == [f'postures/{posture}_{i:03d}' for i in range(6)]
    for m in clips:
        assert m.meta['generated'] is True
        assert m.meta['class'] == P.POSTURE_CLASS[m.meta['posture']]
        json.dumps(m.meta)                      # storable with the corpus


def test_deterministic_for_a_seed(rest, clips):
    again = P.posture_clips(rest, clips_per_posture=2, seed=0, fps=FPS, postures=('kneel',))
    first = [m for m in clips if m.meta['posture'] == 'kneel'][:2]
    for a, b in zip(again, first):
        np.testing.assert_array_equal(a.pose, b.pose)
        np.testing.assert_array_equal(a.trans, b.trans)
        assert a.meta == b.meta
    other = P.posture_clips(rest, clips_per_posture=1, seed=1, fps=FPS, postures=('kneel',))[0]
    assert other.pose.shape != first[0].pose.shape or not np.allclose(other.pose, first[0].pose)


def test_values_frame_rate_and_phases(clips):
    for m in clips:
        assert m.fps == FPS and m.pose.shape == (len(m), 72) and m.trans.shape == (len(m), 3)
        assert np.isfinite(m.pose).all() and np.isfinite(m.trans).all()
        ph = m.meta['phases']
        names = ['stand', 'down', 'hold'] + (['up', 'stand_end'] if m.meta['returns'] else [])
        assert list(ph) == names
        bounds = [ph[n] for n in names]
        assert bounds[0][0] == 0 and bounds[-1][1] == len(m)
        assert all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:]))
        seconds = {n: (b - a) / m.fps for n, (a, b) in ph.items()}
        assert 1.5 - 1e-6 <= seconds['stand'] <= 3.0 + 1e-6
        assert 3.0 - 1e-6 <= seconds['hold'] <= 8.0 + 1e-6
        assert seconds['down'] >= 0.6
    assert {m.meta['returns'] for m in clips} == {True, False}


def test_other_frame_rates(rest):
    m = P.posture_clips(rest, clips_per_posture=1, seed=0, fps=20.0, postures=('crouch',))[0]
    assert m.fps == 20.0
    h0, h1 = m.meta['phases']['hold']
    assert 3.0 <= (h1 - h0) / 20.0 <= 8.0


def test_nothing_goes_through_the_floor_or_the_seat(clips, rest):
    for m in clips:
        _, bottom = spheres(m, rest)
        assert lowest(bottom, *FEET).min() > -0.005, m.name
        assert bottom[:, ~P.IS_ARM].min() > -0.005, m.name
        assert bottom[:, P.IS_ARM].min() > -0.015, m.name         # arms lifted off the floor
        if 'seat_height' in m.meta:
            assert lowest(bottom, *P.SEAT_SPHERES).min() > m.meta['seat_height'] - 0.005


def test_contacts_while_holding(clips, rest):
    for m in clips:
        joints, bottom = spheres(m, rest)
        s0, s1 = m.meta['phases']['stand']
        assert np.abs(lowest(bottom[s0:s1], *FEET)).max() < 0.01, m.name    # standing
        assert joints[s0:s1, 0, 1].min() > 0.8
        h0, h1 = m.meta['phases']['hold']
        j, b = joints[h0:h1], bottom[h0:h1]
        posture, variant = m.meta['posture'], m.meta['variant']
        pelvis = j[:, 0, 1]
        if posture == 'sit_chair':
            seat = m.meta['seat_height']
            assert 0.395 <= seat <= 0.555, m.name
            assert np.abs(lowest(b, *P.SEAT_SPHERES) - seat).max() < 0.005, m.name
            assert lowest(b, *FEET).max() < 0.02, m.name          # a foot on the floor
            if variant in ('upright', 'lean_back', 'elbows_on_knees'):
                knees = [P.J['left_knee'], P.J['right_knee']]
                angle = rotation_angle(axis_angle_to_matrix(
                    m.pose[h0:h1].reshape(-1, 24, 3)[:, knees]))
                assert np.deg2rad(69) < angle.min() and angle.max() < np.deg2rad(111), m.name
        elif posture == 'sit_ground':
            seat = lowest(b, 'left_buttock', 'right_buttock', 'left_hip', 'right_hip', 'pubis')
            assert seat.max() < 0.04, m.name
            assert pelvis.max() < 0.4, m.name
        elif posture == 'kneel':
            assert lowest(b, 'left_knee', 'right_knee').max() < 0.015, m.name
            if variant != 'one_knee':
                assert np.maximum(b[:, P.S['left_knee']], b[:, P.S['right_knee']]).max() < 0.04
        elif posture == 'crouch':
            assert lowest(b, *FEET).max() < 0.01, m.name
            assert pelvis.max() < 0.8, m.name
        else:
            rests = P.SIDE if variant == 'side' else P.FRONT if 'front' in variant else P.BACK
            assert lowest(b, *rests).max() < 0.03, m.name
            assert pelvis.max() < 0.3 and j[:, P.J['head'], 1].max() < 0.55, m.name


def test_joint_angles_within_the_refine_limits(clips):
    wide = {n for n in P.JOINT_LIMITS if P.WIDE_HIP_LIMITS[n] != P.JOINT_LIMITS[n]}
    assert wide == {'left_hip', 'right_hip'}
    for m in clips:
        table = P.JOINT_LIMITS
        if m.meta.get('limits') == 'wide_hips':
            assert m.meta['variant'] in ('cross_legged', 'side_sitting')
            table = P.WIDE_HIP_LIMITS
        aa = m.pose.reshape(-1, 24, 3)
        for name, ranges in table.items():
            for axis, (lo, hi) in enumerate(ranges):
                v = aa[:, P.J[name], axis]
                assert lo - 1e-5 <= v.min() and v.max() <= hi + 1e-5, (m.name, name, axis)


def test_motion_is_smooth_and_never_frozen(clips, rest):
    for m in clips:
        joints, _ = spheres(m, rest)
        step = np.linalg.norm(np.diff(joints, axis=0), axis=-1)
        assert step.max() < 0.05, m.name                          # 1.5 m/s at 30 fps
        h0, h1 = m.meta['phases']['hold']
        speed = step[h0:h1 - 1].mean(1) * m.fps                   # mean joint speed (m/s)
        second = int(m.fps)
        windows = [speed[i:i + second].mean() for i in range(0, len(speed) - second, second)]
        assert min(windows) > 0.003, m.name


def test_donor_arms_drive_the_hold(rest, make_walk):
    donor = make_walk(150, name='walk_donor')
    clip = P.posture_clips(rest, clips_per_posture=1, seed=0, fps=FPS, donors=[donor],
                           postures=('sit_chair',))[0]
    assert clip.meta['variant'] == 'upright' and clip.meta['donor'] == 'walk_donor'
    h0, h1 = clip.meta['phases']['hold']
    mid = clip.pose[(h0 + h1) // 2].reshape(24, 3)
    shoulders = [P.J['left_shoulder'], P.J['right_shoulder']]
    gap = np.abs(donor.pose.reshape(-1, 24, 3)[:, shoulders] - mid[shoulders]).max((1, 2))
    assert gap.min() < 1e-4                      # the donor's shoulders, frame for frame
    joints, _ = spheres(clip, rest)
    assert np.linalg.norm(np.diff(joints, axis=0), axis=-1).max() < 0.05


def test_contact_spheres_match_the_open_body(open_body):
    measured = P.measure_contact_spheres(open_body)
    for name, *_, radius, _ in P.CONTACT_SPHERES:
        assert abs(measured[name] - radius) < 0.002, name


def test_clips_survive_save_and_load(clips, tmp_path):
    m = clips[0]
    m.save(tmp_path / 'clip.npz')
    back = SMPLMotion.load(tmp_path / 'clip.npz')
    np.testing.assert_allclose(back.pose, m.pose)
    assert back.meta == json.loads(json.dumps(m.meta)) and back.name == m.name
