"""The reverse-step schedule: which step emits which frame, and the DDIM update."""
import numpy as np
import pytest

from hmr_models.diffmesh.schedule import beta_schedule, reverse_schedule


def test_paper_schedule_16_frames_30_steps():
    s = reverse_schedule(16, 30)
    assert len(s.timestep) == 30 and len(s.frame) == 30
    assert s.num_warmup_steps == 14
    # The first 14 steps emit nothing; step 15 (index 14) reaches the last frame x_f.
    assert np.all(s.frame[:14] == -1)
    assert s.frame[14] == 15
    # Then one frame per step back to the first: frames f-1 ... 1 (0-based 14 ... 0).
    np.testing.assert_array_equal(s.frame[15:], np.arange(14, -1, -1))
    assert len(s.emitting_steps) == 16
    assert sorted(s.frame[s.emitting_steps].tolist()) == list(range(16))
    # Diffusion time runs down to 0 at the last step.
    np.testing.assert_array_equal(s.timestep, np.arange(29, -1, -1))


@pytest.mark.parametrize('f, n', [(1, 1), (1, 5), (4, 4), (8, 10), (16, 16), (16, 40), (24, 30)])
def test_other_frame_and_step_counts(f, n):
    s = reverse_schedule(f, n)
    assert len(s.frame) == n
    assert (s.frame >= 0).sum() == f
    assert s.num_warmup_steps == n - f
    assert np.all(s.frame[:n - f] == -1)
    np.testing.assert_array_equal(s.frame[n - f:], np.arange(f - 1, -1, -1))


@pytest.mark.parametrize('f, n', [(0, 5), (17, 16), (5, 4)])
def test_invalid_counts_raise(f, n):
    with pytest.raises(ValueError, match='num_'):
        reverse_schedule(f, n)


@pytest.mark.parametrize('kind', ['linear', 'quad', 'const'])
def test_ddim_step_recovers_previous_state_from_true_noise(kind):
    """x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps; with the true eps the deterministic update must
    land exactly on x_{t-1} built from the same x0 and eps."""
    n = 30
    s = reverse_schedule(16, n, kind=kind)
    alpha_bar = np.cumprod(1 - beta_schedule(n, kind=kind))
    rng = np.random.default_rng(0)
    x0, eps = rng.normal(size=8), rng.normal(size=8)
    for k in range(n):
        t = s.timestep[k]
        x_t = np.sqrt(alpha_bar[t]) * x0 + np.sqrt(1 - alpha_bar[t]) * eps
        prev_a = alpha_bar[t - 1] if t > 0 else 1.0
        expected = np.sqrt(prev_a) * x0 + np.sqrt(1 - prev_a) * eps
        np.testing.assert_allclose(s.coef_x[k] * x_t + s.coef_eps[k] * eps, expected,
                                   rtol=1e-5, atol=1e-6)


def test_unknown_beta_kind():
    with pytest.raises(ValueError, match='beta schedule'):
        beta_schedule(10, kind='cosine-ish')
