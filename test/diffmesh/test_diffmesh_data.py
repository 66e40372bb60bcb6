"""Training data: camera placement, the per-frame error model and window sampling."""
from dataclasses import replace

import numpy as np
import torch

from hmr_models.data.synth.camera import PersonCameraConfig, person_cameras, place_in_camera
from hmr_models.data.synth.estimator_noise import (EstimatorNoiseConfig, _segments,
                                                   simulate_estimates)
from hmr_models.data.synth.sequences import simulate_sequences
from hmr_models.train.diffmesh_data import WindowSampler, mirror_motion, smooth_random_motion
from hmr_models.diffmesh.kinematics import JointModel, synthetic_rest_joints
from hmr_models.geometry.rotations import axis_angle_to_matrix

NO_ERRORS = EstimatorNoiseConfig.exact()


def joint_model():
    rng = np.random.default_rng(5)
    return JointModel(synthetic_rest_joints(), rng.normal(0, 0.01, (10, 24, 3)))


def motions(rng, n=4, frames=90):
    return [smooth_random_motion(frames, rng) for _ in range(n)]


def test_mirror_twice_is_identity(rng):
    m = motions(rng, 1)[0]
    p, t = mirror_motion(*mirror_motion(m.pose, m.trans))
    np.testing.assert_allclose(p, m.pose, atol=1e-6)
    np.testing.assert_allclose(t, m.trans, atol=1e-6)


def test_cameras_see_the_person_in_front(rng):
    pelvis = rng.normal(0, 3, (50, 3)).astype(np.float32)
    cam = PersonCameraConfig()
    rot, centre, focal = person_cameras(pelvis, rng, cam)
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.tile(np.eye(3), (50, 1, 1)),
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-5)
    in_cam = np.einsum('bij,bj->bi', rot, pelvis - centre)
    assert np.all(in_cam[:, 2] > 0.5 * cam.distance[0])
    assert np.all(np.linalg.norm(in_cam, axis=1) < 1.5 * cam.distance[1] + 3)
    assert np.all((focal >= cam.focal[0]) & (focal <= cam.focal[1]))


def test_camera_placement_moves_the_body_rigidly(rng):
    """Joints of the camera-frame parameters = the world joints seen by the camera."""
    jm = joint_model()
    m = motions(rng, 2, 10)
    pose = np.stack([x.pose for x in m])
    trans = np.stack([x.trans for x in m])
    betas = rng.normal(0, 1, (2, 10)).astype(np.float32)
    rest_root = jm.rest_joints(torch.from_numpy(betas)).numpy()[:, 0]
    rot, centre, _ = person_cameras((trans + rest_root[:, None]).mean(1), rng, PersonCameraConfig())
    pose_c, trans_c = place_in_camera(pose, trans, rest_root, rot, centre)
    b = torch.from_numpy(betas)[:, None].expand(-1, 10, -1)
    world = jm.from_axis_angle(torch.from_numpy(pose), b, torch.from_numpy(trans)).numpy()
    cam = jm.from_axis_angle(torch.from_numpy(pose_c), b, torch.from_numpy(trans_c)).numpy()
    expected = np.einsum('bij,btkj->btki', rot, world - centre[:, None, None])
    np.testing.assert_allclose(cam, expected, atol=1e-4)
    np.testing.assert_array_equal(pose_c[..., 3:], pose[..., 3:])  # body pose unchanged


def test_no_errors_means_exact_estimates(rng):
    jm = joint_model()
    m = motions(rng, 3, 20)
    gt, est = simulate_sequences(np.stack([x.pose for x in m]), np.stack([x.trans for x in m]),
                                 np.zeros((3, 10), np.float32), jm, 30.0, rng,
                                 errors=NO_ERRORS)
    r_gt = axis_angle_to_matrix(torch.from_numpy(gt['pose']).view(3, 20, 24, 3))
    r_est = axis_angle_to_matrix(torch.from_numpy(est['pose']).view(3, 20, 24, 3))
    torch.testing.assert_close(r_est, r_gt, atol=1e-5, rtol=0)
    np.testing.assert_allclose(est['translation'], gt['trans'], atol=1e-6)
    np.testing.assert_allclose(est['keypoints'], gt['keypoints'], atol=1e-4)
    assert est['observed'].all()
    # Keypoints fall inside the person boxes.
    kp, box = gt['keypoints'], gt['boxes']
    assert np.all((kp[..., 0] >= box[..., None, 0]) & (kp[..., 0] <= box[..., None, 2]))
    assert np.all((kp[..., 1] >= box[..., None, 1]) & (kp[..., 1] <= box[..., None, 3]))


def test_jitter_statistics(rng):
    """Jitter only: the per-joint rotation error is ~ sqrt(3) * sigma on average (chi, 3 dof)."""
    sigma = 0.05
    err = replace(NO_ERRORS, jitter_rot=sigma)
    b, t = 8, 60
    pose = np.zeros((b, t, 72), np.float32)
    boxes = np.tile([0, 0, 100, 200], (b, t, 1)).astype(np.float32)
    est = simulate_estimates(pose, np.zeros((b, 10), np.float32), np.ones((b, t, 3)),
                             np.zeros((b, t, 17, 2), np.float32), boxes, 30.0, rng, err)
    angle = np.linalg.norm(est['pose'].reshape(b, t, 24, 3), axis=-1)
    expected = sigma * np.sqrt(8 / np.pi)  # mean of a chi distribution with 3 dof
    assert abs(angle.mean() / expected - 1) < 0.05


def test_segments_cover_the_requested_lengths(rng):
    m = _segments(rng, (200, 50), 0.02, (2, 3))
    assert 0.02 < m.mean() < 0.12
    # Runs of True are at least 2 long unless cut by the end (runs may merge: no upper bound).
    edges = np.diff(np.pad(m, ((0, 0), (1, 1))).astype(int), axis=1)
    starts, ends = np.argwhere(edges == 1), np.argwhere(edges == -1)
    lens = ends[:, 1] - starts[:, 1]
    assert np.all(lens[ends[:, 1] < 50] >= 2)


def test_window_sampler(rng):
    jm = joint_model()
    sampler = WindowSampler(motions(rng, 6, 120), jm, num_frames=16)
    b = sampler.sample(32, rng)
    assert b.inputs.pose.shape == (32, 16, 72) and b.inputs.keypoints.shape == (32, 16, 17, 2)
    assert b.target_pose.shape == (32, 16, 72) and b.target_betas.shape == (32, 10)
    assert b.mask.shape == (32, 16)
    assert np.all(b.inputs.valid[:, -1] == 1)       # the newest frame is always observed
    assert np.all(b.mask[:, -1] == 1)
    # Masked-out frames (before a track started) are never valid inputs.
    assert np.all(b.inputs.valid[b.mask == 0] == 0)
    assert np.isfinite(b.inputs.pose).all() and np.isfinite(b.inputs.keypoints).all()
    assert (b.mask == 0).any()                      # some short tracks at this batch size
    assert np.all(b.target_translation[..., 2] > 0.5)  # people are in front of the camera
    t = b.torch()
    assert t.inputs.pose.dtype == torch.float32


def test_sampler_is_deterministic(rng):
    jm = joint_model()
    sampler = WindowSampler(motions(rng, 3, 60), jm, num_frames=8)
    a = sampler.sample(4, np.random.default_rng(7))
    b = sampler.sample(4, np.random.default_rng(7))
    np.testing.assert_array_equal(a.inputs.pose, b.inputs.pose)
    np.testing.assert_array_equal(a.target_translation, b.target_translation)


def test_too_short_motions_are_refused(rng):
    import pytest
    with pytest.raises(ValueError, match='frames a window needs'):
        WindowSampler(motions(rng, 2, 10), joint_model(), num_frames=16)
