"""Random cameras for synthetic data: intrinsics like real ones, placed above the floor.

Scenes (several people, one camera): CameraConfig, sample_camera. Single tracks (DiffMesh's
training and benchmark windows): PersonCameraConfig, person_cameras, place_in_camera,
project_centred.

World: y up, floor y = 0 (the pose corpus's frame). Camera: optical frame (x right, y down,
z forward); a world point X maps to ``rotation @ (X - centre)``.
"""
from dataclasses import dataclass, field
import math

import numpy as np
import torch

from hmr_models.config import Config
from hmr_models.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmr_models.types import CameraIntrinsics

# Resolutions of common robot / webcam / phone cameras (width, height).
RESOLUTIONS = ((640, 480), (848, 480), (960, 540), (1024, 768), (1280, 720), (1280, 800),
               (1920, 1080))


@dataclass
class CameraConfig(Config):
    """Ranges (uniform) of the random camera.

    focal_mode 'diagonal': focal = image diagonal x U(diagonal_scale) (what uncalibrated
    pipelines assume, with the spread real lenses have); 'fov': from a horizontal field of
    view in `hfov_deg` (like calibrated cameras); 'mixed': either, half the time each.
    """

    resolutions: tuple = RESOLUTIONS
    focal_mode: str = 'mixed'
    diagonal_scale: tuple = (0.75, 1.3)
    hfov_deg: tuple = (50.0, 95.0)
    principal_jitter: float = field(default=0.02, metadata={'help': 'fraction of width/height'})
    height: tuple = field(default=(0.8, 2.2), metadata={'help': 'metres above the floor'})
    pitch_deg: tuple = field(default=(-5.0, 20.0), metadata={'help': 'positive: looking down'})
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


# ---- one camera per person track ------------------------------------------------------


@dataclass
class PersonCameraConfig(Config):
    """One random camera per person track, placed around it (ranges are uniform).

    What DiffMesh's training and bench_diffmesh see a motion through; scenes with several
    people use CameraConfig / sample_camera.
    """

    distance: tuple = field(default=(2.0, 10.0), metadata={
        'help': "metres from the camera to the window's mean pelvis"})
    lateral: tuple = field(default=(-0.3, 0.3), metadata={
        'help': 'fraction of the distance, sideways'})
    height: tuple = field(default=(0.6, 2.2), metadata={
        'help': 'camera height above the floor (metres)'})
    pitch_deg: tuple = field(default=(-20.0, 10.0), metadata={
        'help': 'camera tilt (negative: looking down)'})
    focal: tuple = field(default=(500.0, 1600.0), metadata={'help': 'pixels'})
    image_size: tuple = field(default=(1280, 720), metadata={
        'help': 'pixels (cx, cy at the centre)'})


def person_cameras(mean_pelvis, rng, cam):
    """World -> camera rotations (B, 3, 3), centres (B, 3) and focal lengths (B,).

    The person (window mean pelvis, world (B, 3)) ends up at a random distance, sideways
    offset and heading in front of a camera at a random height and tilt.
    """
    b = len(mean_pelvis)
    yaw = rng.uniform(-np.pi, np.pi, b)
    pitch = np.deg2rad(rng.uniform(*cam.pitch_deg, b))
    dist = rng.uniform(*cam.distance, b)
    lat = rng.uniform(*cam.lateral, b) * dist
    height = rng.uniform(*cam.height, b)
    # Camera looks along world direction d(yaw) (horizontal); tilt about its own x axis.
    fwd = np.stack([np.sin(yaw), np.zeros(b), np.cos(yaw)], -1)
    right = np.stack([np.cos(yaw), np.zeros(b), -np.sin(yaw)], -1)  # world dir seen as +x
    centre = mean_pelvis - dist[:, None] * fwd - lat[:, None] * right
    centre[:, 1] = height
    # Rows: camera x, y, z axes expressed in world coordinates (level camera first).
    down = np.tile(np.array([0.0, -1.0, 0.0]), (b, 1))
    level = np.stack([np.cross(down, fwd), down, fwd], 1)  # x = y cross z, right-handed
    c, s = np.cos(pitch), np.sin(pitch)
    tilt = np.zeros((b, 3, 3))
    tilt[:, 0, 0] = 1.0
    tilt[:, 1, 1], tilt[:, 1, 2] = c, s
    tilt[:, 2, 1], tilt[:, 2, 2] = -s, c
    rotation = np.einsum('bij,bjk->bik', tilt, level).astype(np.float32)
    focal = rng.uniform(*cam.focal, b).astype(np.float32)
    return rotation, centre.astype(np.float32), focal


def place_in_camera(pose, trans, rest_root, rotation, centre):
    """Express world-frame SMPL parameters in a camera frame.

    Args:
        pose: (B, T, 72) world axis-angle; trans: (B, T, 3) smplx translation (world).
        rest_root: (B, 3) rest pelvis position (it depends on betas).
        rotation: (B, 3, 3) world -> camera rotation; centre: (B, 3) camera centre (world).
    Returns:
        (pose (B, T, 72), trans (B, T, 3)) in the camera frame. Only the global orientation
        changes in the pose; the pelvis (rest_root + trans) moves rigidly.
    """
    b, t = pose.shape[:2]
    pose = pose.copy()
    g = axis_angle_to_matrix(torch.from_numpy(pose[..., :3]).float()).numpy()
    g = np.einsum('bij,btjk->btik', rotation, g)
    pose[..., :3] = matrix_to_axis_angle(torch.from_numpy(g)).numpy()
    pelvis = trans + rest_root[:, None]
    pelvis_c = np.einsum('bij,btj->bti', rotation, pelvis - centre[:, None])
    return pose, (pelvis_c - rest_root[:, None]).astype(np.float32)


def project_centred(points, focal, image_size):
    """Pinhole projection of camera-frame points (B, T, K, 3) -> pixels (B, T, K, 2).

    focal (B,) pixels; the principal point is the image centre.
    """
    z = np.maximum(points[..., 2:3], 1e-3)
    cx, cy = image_size[0] / 2.0, image_size[1] / 2.0
    uv = points[..., :2] / z * focal[:, None, None, None]
    return (uv + np.array([cx, cy], np.float32)).astype(np.float32)
