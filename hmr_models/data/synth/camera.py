"""Random cameras for synthetic scenes: intrinsics like real ones, placed above the floor.

World: y up, floor y = 0 (the pose corpus's frame). Camera: optical frame (x right, y down,
z forward); a world point X maps to ``rotation @ (X - centre)``.
"""
from dataclasses import dataclass
import math

import numpy as np

from hmr_models.types import CameraIntrinsics

# Resolutions of common robot / webcam / phone cameras (width, height).
RESOLUTIONS = ((640, 480), (848, 480), (960, 540), (1024, 768), (1280, 720), (1280, 800),
               (1920, 1080))


@dataclass
class CameraConfig:
    """Ranges (uniform) of the random camera.

    focal_mode 'diagonal': focal = image diagonal x U(diagonal_scale) (what uncalibrated
    pipelines assume, with the spread real lenses have); 'fov': from a horizontal field of
    view in `hfov_deg` (like calibrated cameras); 'mixed': either, half the time each.
    """

    resolutions: tuple = RESOLUTIONS
    focal_mode: str = 'mixed'
    diagonal_scale: tuple = (0.75, 1.3)
    hfov_deg: tuple = (50.0, 95.0)
    principal_jitter: float = 0.02   # fraction of width/height
    height: tuple = (0.8, 2.2)       # metres above the floor
    pitch_deg: tuple = (-5.0, 20.0)  # positive: looking down
    roll_deg: tuple = (-3.0, 3.0)


@dataclass
class Camera:
    """Intrinsics + extrinsics of one synthetic camera."""

    intrinsics: CameraIntrinsics
    rotation: np.ndarray  # (3, 3) world -> camera
    centre: np.ndarray    # (3,) camera centre in the world (metres)

    def to_camera(self, points):
        """World points (..., 3) -> camera frame (..., 3)."""
        return (np.asarray(points, np.float64) - self.centre) @ self.rotation.T

    def project(self, points_cam):
        """Camera-frame points (..., 3) -> (pixels (..., 2), depth (...,))."""
        p = np.asarray(points_cam, np.float64)
        z = p[..., 2]
        zs = np.where(np.abs(z) < 1e-6, 1e-6, z)
        k = self.intrinsics
        uv = np.stack([k.fx * p[..., 0] / zs + k.cx, k.fy * p[..., 1] / zs + k.cy], -1)
        return uv, z

    @property
    def forward(self):
        """Viewing direction in the world (3,)."""
        return self.rotation[2]


def look_rotation(yaw, pitch, roll=0.0):
    """World -> camera rotation of a camera looking along heading `yaw`.

    `yaw` is in radians about y (0 = world +z); the camera is tilted down by `pitch` and
    rolled by `roll` (radians).
    """
    fwd = np.array([math.sin(yaw), 0.0, math.cos(yaw)])
    down = np.array([0.0, -1.0, 0.0])
    level = np.stack([np.cross(down, fwd), down, fwd])  # rows: camera x, y, z in the world
    c, s = math.cos(pitch), math.sin(pitch)
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])  # about camera x
    cr, sr = math.cos(roll), math.sin(roll)
    spin = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])  # about camera z
    return spin @ tilt @ level


def sample_intrinsics(rng, config=None):
    """Random CameraIntrinsics (see CameraConfig)."""
    cfg = config or CameraConfig()
    w, h = cfg.resolutions[rng.integers(len(cfg.resolutions))]
    mode = cfg.focal_mode
    if mode == 'mixed':
        mode = 'diagonal' if rng.random() < 0.5 else 'fov'
    if mode == 'diagonal':
        f = math.hypot(w, h) * rng.uniform(*cfg.diagonal_scale)
    elif mode == 'fov':
        f = 0.5 * w / math.tan(0.5 * math.radians(rng.uniform(*cfg.hfov_deg)))
    else:
        raise ValueError(f"focal_mode must be 'diagonal', 'fov' or 'mixed', got {mode!r}")
    cx = w / 2.0 + rng.uniform(-1, 1) * cfg.principal_jitter * w
    cy = h / 2.0 + rng.uniform(-1, 1) * cfg.principal_jitter * h
    return CameraIntrinsics(fx=f, fy=f, cx=cx, cy=cy, width=int(w), height=int(h))


def sample_camera(rng, config=None):
    """A random camera at the world origin (x = z = 0), looking along +z."""
    cfg = config or CameraConfig()
    k = sample_intrinsics(rng, cfg)
    rot = look_rotation(0.0, math.radians(rng.uniform(*cfg.pitch_deg)),
                        math.radians(rng.uniform(*cfg.roll_deg)))
    return Camera(k, rot, np.array([0.0, rng.uniform(*cfg.height), 0.0]))
