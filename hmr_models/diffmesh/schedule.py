"""DiffMesh's reverse-step schedule: which of the N steps emits which of the f frames.

The motion between consecutive frames plays the role of diffusion noise. Reversing it, the
process first walks N - f + 1 steps from the initial distribution to the last frame x_f (the
first N - f steps emit nothing), then one step per frame back to x_1: f of the N steps emit a
frame, and one pass decodes the whole window (N steps, not f * N).
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReverseSchedule:
    """Per reverse step k = 0 .. N-1 (in the order they run).

    timestep: (N,) int, the diffusion time t of the state the step starts from (N-1 .. 0).
    frame: (N,) int, the 0-based window frame emitted by the step, -1 for steps emitting none.
    coef_x, coef_eps: (N,) float, the deterministic (DDIM, eta = 0) update
        x_{t-1} = coef_x * x_t + coef_eps * eps_theta(x_t, c, t).
    """

    num_frames: int
    num_steps: int
    timestep: np.ndarray
    frame: np.ndarray
    coef_x: np.ndarray
    coef_eps: np.ndarray

    @property
    def emitting_steps(self):
        """Indices of the steps that emit a frame, in run order (frames f-1 .. 0)."""
        return np.flatnonzero(self.frame >= 0)

    @property
    def num_warmup_steps(self):
        """Steps before the first emitted frame (N - f)."""
        return self.num_steps - self.num_frames


def beta_schedule(num_steps, beta_start=1e-4, beta_end=1e-3, kind='linear'):
    """Noise variances beta_t, t = 1 .. N (DiffMesh: linear from 1e-4 to 1e-3)."""
    if kind == 'linear':
        return np.linspace(beta_start, beta_end, num_steps, dtype=np.float64)
    if kind == 'quad':
        return np.linspace(beta_start ** 0.5, beta_end ** 0.5, num_steps, dtype=np.float64) ** 2
    if kind == 'const':
        return np.full(num_steps, beta_end, dtype=np.float64)
    raise ValueError(f"beta schedule kind must be 'linear', 'quad' or 'const', got '{kind}'")


def reverse_schedule(num_frames=16, num_steps=30, beta_start=1e-4, beta_end=1e-3,
                     kind='linear'):
    """Build the schedule for f = `num_frames` frames and N = `num_steps` reverse steps.

    Raises ValueError unless 1 <= f <= N: every frame needs a step of its own.
    """
    f, n = int(num_frames), int(num_steps)
    if f < 1:
        raise ValueError(f'num_frames must be >= 1, got {f}')
    if n < f:
        raise ValueError(f'num_steps ({n}) must be >= num_frames ({f}): each frame is '
                         'emitted by its own reverse step')
    timestep = np.arange(n - 1, -1, -1, dtype=np.int64)
    warmup = n - f
    frame = np.full(n, -1, dtype=np.int64)
    # Step `warmup` reaches the last frame (index f-1), later steps walk back to frame 0.
    frame[warmup:] = np.arange(f - 1, -1, -1)
    alpha_bar = np.cumprod(1.0 - beta_schedule(n, beta_start, beta_end, kind))
    a_t = alpha_bar[timestep]
    # alpha_bar before step t=0 is 1 (a clean sample).
    a_next = np.where(timestep > 0, alpha_bar[np.maximum(timestep - 1, 0)], 1.0)
    coef_x = np.sqrt(a_next / a_t)
    coef_eps = np.sqrt(1.0 - a_next) - np.sqrt(a_next * (1.0 - a_t) / a_t)
    return ReverseSchedule(f, n, timestep, frame, coef_x.astype(np.float32),
                           coef_eps.astype(np.float32))
