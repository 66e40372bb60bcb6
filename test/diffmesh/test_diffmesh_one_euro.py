"""One-Euro filter basics and its per-track smoother."""
import numpy as np
import pytest
import torch

from hmr_models.diffmesh import OneEuroConfig, OneEuroSmoother, one_euro_step
from hmr_models.diffmesh.kinematics import JointModel, synthetic_rest_joints
from hmr_models.diffmesh.one_euro import smoothing_factor
from hmr_models.types import BodyEstimate

P = 1.0 / 30


def run_filter(signal, dt, min_cutoff, beta, d_cutoff=1.0):
    x_hat, dx = signal[0].copy(), np.zeros_like(signal[0])
    out = [x_hat]
    for x in signal[1:]:
        x_hat, dx = one_euro_step(x, x_hat, dx, dt, min_cutoff, beta, d_cutoff)
        out.append(x_hat)
    return np.array(out)


def test_smoothing_factor_limits():
    assert smoothing_factor(1e6, P) == pytest.approx(1.0, abs=1e-4)   # no smoothing
    assert smoothing_factor(1e-6, P) == pytest.approx(0.0, abs=1e-4)  # frozen
    # A first-order low-pass: tau = 1 / (2 pi fc), alpha = dt / (dt + tau).
    tau = 1 / (2 * np.pi * 2.0)
    assert smoothing_factor(2.0, P) == pytest.approx(P / (P + tau))


def test_constant_signal_is_unchanged():
    sig = np.full((50, 4), 3.0)
    np.testing.assert_allclose(run_filter(sig, P, 1.0, 0.5), sig)


def test_noise_is_reduced_and_lower_cutoff_smooths_more():
    rng = np.random.default_rng(0)
    sig = rng.normal(0, 1, (400, 8))
    strong = run_filter(sig, P, 0.5, 0.0)[50:]
    weak = run_filter(sig, P, 5.0, 0.0)[50:]
    assert strong.std() < weak.std() < sig.std()


def test_beta_reduces_lag_on_fast_motion():
    t = np.arange(120) * P
    sig = (3.0 * t)[:, None]  # a ramp at 3 units/s
    lag_slow = np.abs(run_filter(sig, P, 0.5, 0.0) - sig)[-1, 0]
    lag_fast = np.abs(run_filter(sig, P, 0.5, 2.0) - sig)[-1, 0]
    assert lag_fast < 0.5 * lag_slow


def test_longer_dt_follows_more():
    """After a dropped frame (dt doubled), the filter moves further towards the sample."""
    x_prev, dx = np.zeros(1), np.zeros(1)
    one, _ = one_euro_step(np.ones(1), x_prev, dx, P, 1.0, 0.0, 1.0)
    two, _ = one_euro_step(np.ones(1), x_prev, dx, 2 * P, 1.0, 0.0, 1.0)
    assert 0 < one[0] < two[0] < 1


def estimate(n, pose, transl):
    return BodyEstimate(pose=np.asarray(pose, np.float32).reshape(n, 72),
                        betas=np.zeros((n, 10), np.float32),
                        translation=np.asarray(transl, np.float32).reshape(n, 3),
                        joints=np.zeros((n, 24, 3), np.float32),
                        joint_confidence=np.ones((n, 24), np.float32))


def test_smoother_tracks_are_independent_and_first_frame_passes():
    jm = JointModel.from_rest_joints(synthetic_rest_joints())
    s = OneEuroSmoother(OneEuroConfig(one_euro_min_cutoff=0.5, one_euro_beta=0.0),
                        joint_model=jm)
    rng = np.random.default_rng(0)
    first = estimate(2, rng.normal(0, 0.2, (2, 72)), [[0, 0, 3], [1, 0, 5]])
    out = s.update(0.0, np.array([1, 2]), first)
    np.testing.assert_allclose(out.pose, first.pose, atol=1e-5)
    assert out.temporal_flags().all()
    # An untracked person passes through unfiltered and is labelled so.
    fresh = OneEuroSmoother(OneEuroConfig(), joint_model=jm)
    assert fresh.update(0.0, np.array([-1, 2]), first).temporal_flags().tolist() == [False, True]
    # Track 2 jumps; track 1 stays: only track 2's output moves, and only part of the way.
    second = estimate(2, first.pose, [[0, 0, 3], [1, 0, 6]])
    out = s.update(P, np.array([1, 2]), second)
    np.testing.assert_allclose(out.translation[0], [0, 0, 3], atol=1e-6)
    assert 5.0 < out.translation[1, 2] < 6.0
    # Joints follow the filtered parameters.
    j = jm.from_axis_angle(torch.from_numpy(out.pose), torch.from_numpy(out.betas),
                           torch.from_numpy(out.translation)).numpy()
    np.testing.assert_allclose(out.joints, j, atol=1e-5)


def test_smoother_reduces_rotation_jitter():
    rng = np.random.default_rng(1)
    s = OneEuroSmoother(OneEuroConfig(one_euro_min_cutoff=1.0, one_euro_beta=0.0))
    truth = np.full(72, 0.3, np.float32)
    raw, smooth = [], []
    for k in range(120):
        noisy = truth + rng.normal(0, 0.05, 72).astype(np.float32)
        out = s.update(k * P, np.array([0]), estimate(1, noisy, [0, 0, 4]))
        raw.append(noisy)
        smooth.append(out.pose[0])
    raw, smooth = np.array(raw)[30:], np.array(smooth)[30:]
    assert np.abs(smooth - truth).mean() < 0.5 * np.abs(raw - truth).mean()


def test_stale_track_restarts():
    s = OneEuroSmoother(OneEuroConfig(temporal_track_timeout=0.5))
    s.update(0.0, np.array([3]), estimate(1, np.zeros(72), [0, 0, 3]))
    out = s.update(2.0, np.array([3]), estimate(1, np.zeros(72), [0, 0, 8]))
    # Expired: the new sample is a first sample again and passes through.
    np.testing.assert_allclose(out.translation[0], [0, 0, 8])
    assert s.counters['expired'] == 1


def test_config_validation():
    with pytest.raises(ValueError, match='one_euro_min_cutoff'):
        OneEuroConfig(one_euro_min_cutoff=0)
    with pytest.raises(ValueError, match='one_euro_beta'):
        OneEuroConfig(one_euro_beta=-1)
