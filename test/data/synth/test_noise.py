"""Detector and estimator error models: statistics match their configuration."""
import numpy as np
import pytest

from hmr_models.geometry.rotations_np import axis_angle_to_matrix, rotation_angle
from hmr_models.data.synth import detector_noise as dn
from hmr_models.data.synth import visibility as vis
from hmr_models.data.synth.estimator_noise import (EstimatorNoiseConfig, simulate_scene,
                                                   simulate_track)
from hmr_models.data.synth.scene import MotionPool, SceneConfig, SceneGenerator


def people_grid(n=400):
    """n people, 200 px tall, side by side in a big image, keypoints inside their boxes."""
    rng = np.random.default_rng(1)
    x0 = np.arange(n) * 10.0
    kp = np.stack([x0[:, None] + rng.uniform(0, 100, (n, 17)),
                   rng.uniform(100, 300, (n, 17))], -1)
    boxes = np.stack([x0, np.full(n, 100.0), x0 + 100, np.full(n, 300.0)], -1)
    return kp, boxes


def test_jitter_scales_with_person_size_and_oks_sigma():
    kp, boxes = people_grid()
    codes = np.zeros((len(kp), 17), np.uint8)
    cfg = dn.DetectorNoiseConfig(p_miss_person=0.0, p_miss_occluded=0.0, p_swap_all=0.0,
                                 p_swap_limb=0.0, p_missing_visible=0.0)
    people, etype, detected = dn.simulate_detections(
        kp, codes, np.full(codes.shape, -1), (5000, 1000), np.random.default_rng(0), cfg,
        boxes=boxes)
    assert detected.all() and (etype == dn.OK).all()
    err = people.keypoints - kp
    scale = np.sqrt(100 * 200)
    expected = cfg.jitter * dn.COCO_SIGMAS * scale                # per axis, px
    measured = err.std(axis=(0, 2))
    np.testing.assert_allclose(measured, expected, rtol=0.12)
    assert people.keypoint_scores.mean() > 0.7
    # Twice the size: twice the jitter.
    people2, _, _ = dn.simulate_detections(kp * 2, codes, np.full(codes.shape, -1),
                                           (10000, 2000), np.random.default_rng(0), cfg,
                                           boxes=boxes * 2)
    ratio = (people2.keypoints - 2 * kp).std() / err.std()
    assert ratio == pytest.approx(2.0, rel=0.05)


def test_occluded_keypoints_go_missing_or_get_grabbed():
    kp, boxes = people_grid(300)
    codes = np.zeros((300, 17), np.uint8)
    codes[:, 9:] = vis.OTHER                                 # lower body hidden by a person
    occluder = np.full((300, 17), -1)
    occluder[:, 9:] = (np.arange(300)[:, None] + 1) % 300    # hidden by the next person
    cfg = dn.DetectorNoiseConfig(p_miss_person=0.0, p_miss_occluded=0.0, p_swap_all=0.0,
                                 p_swap_limb=0.0, min_visible=0.0)
    people, etype, detected = dn.simulate_detections(kp, codes, occluder, (5000, 1000),
                                                     np.random.default_rng(2), cfg, boxes)
    occ = etype[:, 9:]
    missing_rate = (occ == dn.MISSING).mean()
    assert missing_rate == pytest.approx(cfg.p_missing_occluded, abs=0.06)
    grabbed = occ == dn.GRABBED
    assert grabbed.mean() == pytest.approx((1 - cfg.p_missing_occluded) * cfg.p_grab,
                                           abs=0.05)
    # A grabbed keypoint lies near the neighbour's keypoint (same or mirrored), not its own.
    pi, ki = np.nonzero(etype == dn.GRABBED)
    src = occluder[pi, ki]
    d_own = np.linalg.norm(people.keypoints[pi, ki] - kp[pi, ki], axis=-1)
    d_nb = np.minimum(np.linalg.norm(people.keypoints[pi, ki] - kp[src, ki], axis=-1),
                      np.linalg.norm(people.keypoints[pi, ki] - kp[src, dn.COCO17_FLIP[ki]],
                                     axis=-1))
    assert np.median(d_nb) < np.median(d_own)
    # Missing keypoints are NaN with score 0; occluded ones score lower than visible ones.
    assert np.isnan(people.keypoints[etype == dn.MISSING]).all()
    assert (people.keypoint_scores[etype == dn.MISSING] == 0).all()
    vis_score = people.keypoint_scores[:, :9][etype[:, :9] == dn.OK].mean()
    occ_score = people.keypoint_scores[:, 9:][occ == dn.JITTER_OCCLUDED].mean()
    assert occ_score < vis_score - 0.2


def test_person_misses_rise_with_occlusion_and_swaps_happen():
    kp, boxes = people_grid(1000)
    rng = np.random.default_rng(3)
    visible = np.zeros((1000, 17), np.uint8)
    hidden = np.full((1000, 17), vis.OBJECT, np.uint8)
    hidden[:, :5] = 0                                        # 5/17 visible
    cfg = dn.DetectorNoiseConfig(p_swap_all=0.2)
    _, et_v, det_v = dn.simulate_detections(kp, visible, np.full((1000, 17), -1), (1e4, 1e3),
                                            rng, cfg, boxes)
    _, _, det_h = dn.simulate_detections(kp, hidden, np.full((1000, 17), -1), (1e4, 1e3),
                                         rng, cfg, boxes)
    assert 1 - det_v.mean() == pytest.approx(cfg.p_miss_person, abs=0.02)
    assert 1 - det_h.mean() > 0.3
    swapped = (et_v == dn.SWAPPED).any(1).mean()
    assert swapped == pytest.approx(0.2 + 0.8 * 3 * cfg.p_swap_limb, abs=0.05)
    # Tiny or invisible people are never detected.
    _, _, det = dn.simulate_detections(kp * 0.05, visible, np.full((1000, 17), -1),
                                       (1e4, 1e3), rng, cfg, boxes * 0.05)
    assert not det.any()


@pytest.fixture(scope='module')
def scene(test_body, motions):
    cfg = SceneConfig(num_frames=200, people=(2,), people_weights=(1.0,), cluster_prob=1.0,
                      cluster_lateral=(0.3, 0.4), cluster_depth=(0.5, 1.0))
    return SceneGenerator(test_body, MotionPool(motions), cfg).generate(seed=4)


def test_estimator_errors_are_correlated_and_larger_when_occluded(scene):
    track = scene.people[0]
    cfg = EstimatorNoiseConfig(spike_prob=0.0)
    est = simulate_track(track, np.random.default_rng(0), cfg)
    r_est = axis_angle_to_matrix(est.pose.reshape(-1, 24, 3))
    r_gt = axis_angle_to_matrix(track.pose.reshape(-1, 24, 3))
    err = rotation_angle(np.swapaxes(r_gt, -1, -2) @ r_est)          # (T, 24)
    assert 0.03 < err.mean() < 0.4
    occluded = track.joint_codes != 0
    assert occluded.any() and (~occluded).any()
    assert err[occluded].mean() > 1.5 * err[~occluded].mean()
    # Correlated in time: frame-to-frame changes are smaller than the error itself.
    e = est.pose - track.pose
    assert np.abs(np.diff(e, axis=0)).mean() < np.abs(e).mean()
    depth_err = (est.transl - track.transl)[:, 2] / track.transl[:, 2]
    assert np.abs(depth_err).mean() < 0.2
    assert est.betas.shape == (200, 10) and not est.spike.any()


def test_spikes_and_identity_switches(scene):
    cfg = EstimatorNoiseConfig(spike_prob=0.1, id_switch_prob=1.0)
    ests = simulate_scene(scene, np.random.default_rng(1), cfg)
    a, b = scene.people
    assert ests[0].spike.any()
    switched = ests[0].source_track == b.track_id
    assert switched.any()
    # A switched frame carries the other person's (noisy) estimate: near b, far from a.
    d_b = np.abs(ests[0].transl[switched] - b.transl[switched]).mean()
    d_a = np.abs(ests[0].transl[switched] - a.transl[switched]).mean()
    assert d_b < d_a
    assert (ests[0].source_track[~switched] == a.track_id).all()


def test_calibrated_detector_uses_the_measured_spreads_and_wrong_keypoints():
    kp, boxes = people_grid()
    codes = np.zeros((len(kp), 17), np.uint8)
    sigma = tuple(np.linspace(0.01, 0.05, 17))
    cfg = dn.DetectorNoiseConfig(p_miss_person=0.0, p_swap_all=0.0, p_swap_limb=0.0,
                                 p_missing_visible=0.0, visible_sigma=sigma,
                                 p_wrong_visible=(0.0,) * 16 + (0.5,), score_wrong=0.2)
    people, etype, _ = dn.simulate_detections(kp, codes, np.full(codes.shape, -1),
                                              (5000, 1000), np.random.default_rng(0), cfg,
                                              boxes=boxes)
    scale = np.sqrt(100 * 200)
    err = people.keypoints - kp
    np.testing.assert_allclose(err[:, :16].std(axis=(0, 2)), np.array(sigma[:16]) * scale,
                               rtol=0.12)
    wrong = etype[:, 16] != dn.OK
    assert wrong.mean() == pytest.approx(0.5, abs=0.08)
    assert people.keypoint_scores[wrong, 16].mean() < 0.35


def test_bundled_movenet_calibration_loads():
    cfg = dn.calibrated_config(p_grab=0.1)
    assert len(cfg.visible_sigma) == 17 and all(0.005 < s < 0.1 for s in cfg.visible_sigma)
    assert cfg.p_grab == 0.1 and 0.3 < cfg.score_visible <= 1.0


def test_generator_detector_choice():
    from hmr_models.data.synth.generate import detector_config
    assert detector_config('simulated') == dn.DetectorNoiseConfig()
    assert len(detector_config('movenet').visible_sigma) == 17
    with pytest.raises(ValueError, match='detector'):
        detector_config('yolo')
