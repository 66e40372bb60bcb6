"""Plain data passed between the stages of the pipeline (numpy, batched over people)."""
from dataclasses import dataclass, field, fields, replace
import math

import numpy as np

NUM_KEYPOINTS = 17   # COCO-17 (hmr_models.skeleton.COCO17_NAMES)
NUM_JOINTS = 24      # SMPL-24 (hmr_models.skeleton.SMPL24_NAMES)
NUM_BETAS = 10


@dataclass
class CameraIntrinsics:
    """Pinhole intrinsics of the source image (pixels), and which way is up when known.

    up: gravity's up direction in this camera's optical frame (x right, y down, z forward) as
    a unit (x, y, z), when the robot knows the camera's tilt (hmr_node: `up_frame` on
    /tf_static); None when it does not. The keypoint refinement uses it to keep upright people
    upright.
    floor: the camera's height above the floor along `up` (metres), when the robot knows where
    the floor is (hmr_node: `floor_frame` on /tf_static); None when it does not. The keypoint
    refinement sizes and places people standing, sitting or lying on it.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    estimated: bool = False  # True when guessed from the image size, not calibrated
    up: tuple = None
    floor: float = None

    def with_up(self, up):
        """The same camera with gravity's up direction (3 numbers, optical frame; None: unknown)."""
        if up is None:
            return replace(self, up=None)
        v = np.asarray(up, np.float64).reshape(3)
        norm = np.linalg.norm(v)
        if not np.isfinite(norm) or norm < 1e-9:
            raise ValueError(f'up must be a non-zero finite 3-vector, got {up}')
        return replace(self, up=tuple(float(x) for x in v / norm))

    def with_floor(self, up, height):
        """The same camera `height` metres above a floor, gravity's up being `up`.

        up: 3 numbers in the optical frame; height None: the floor is unknown (up is still set).
        """
        camera = self.with_up(up)
        if height is None:
            return replace(camera, floor=None)
        if up is None or not np.isfinite(height):
            raise ValueError(f'a floor needs an up direction and a finite height, got {up}, '
                             f'{height}')
        return replace(camera, floor=float(height))

    @classmethod
    def from_image_diagonal(cls, width, height):
        """CLIFF/DPMesh's guess for an uncalibrated camera: focal length = image diagonal."""
        f = math.hypot(width, height)
        return cls(f, f, width / 2.0, height / 2.0, int(width), int(height), estimated=True)

    @property
    def matrix(self):
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]],
                        dtype=np.float64)

    def project(self, points):
        """Pixels (..., 2) of camera-frame points (..., 3); NaN behind the camera."""
        p = np.asarray(points, np.float64)
        z = np.where(p[..., 2] > 1e-6, p[..., 2], np.nan)
        return np.stack([self.fx * p[..., 0] / z + self.cx, self.fy * p[..., 1] / z + self.cy],
                        -1)

    def inside(self, pixels):
        """(...,) bool: pixels inside the image."""
        u, v = pixels[..., 0], pixels[..., 1]
        with np.errstate(invalid='ignore'):
            return (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)

    def scaled(self, sx, sy=None):
        """Intrinsics of the same camera after resizing the image by (sx, sy)."""
        sy = sx if sy is None else sy
        return replace(self, fx=self.fx * sx, fy=self.fy * sy, cx=self.cx * sx, cy=self.cy * sy,
                       width=int(round(self.width * sx)), height=int(round(self.height * sy)))


@dataclass
class People:
    """The front-end's output for one image: N people, arrays batched over people.

    keypoints are COCO-17 pixel coordinates (NaN where the backend found none, with score 0);
    track_ids are -1 until a tracker assigns them.
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))  # xyxy px
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    keypoints: np.ndarray = field(
        default_factory=lambda: np.zeros((0, NUM_KEYPOINTS, 2), np.float32))
    keypoint_scores: np.ndarray = field(
        default_factory=lambda: np.zeros((0, NUM_KEYPOINTS), np.float32))
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))

    def __len__(self):
        return int(self.boxes.shape[0])

    def select(self, index):
        """The people at `index` (indices or boolean mask), as a new People."""
        return People(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass
class BodyEstimate:
    """SMPL estimates for N people of one image (camera optical frame, metres, radians)."""

    pose: np.ndarray           # (N, 72) axis-angle, global orientation first
    betas: np.ndarray          # (N, 10)
    translation: np.ndarray    # (N, 3) smplx `transl`
    joints: np.ndarray         # (N, 24, 3) camera frame
    joint_confidence: np.ndarray  # (N, 24) in [0, 1]
    vertices: np.ndarray = None   # (N, V, 3) camera frame, when the stage computed them
    # Which people the temporal model estimated: a bool for all of them, or (N,) bool (a
    # smoother passes untracked people through unchanged, and says so per person).
    temporal: object = False
    body_model: str = ''
    model_profile: str = ''
    # (N,) log of the size factor a known floor gave each person (hmr_models.fitting.floor),
    # NaN (or None for all): the networks' size. The temporal model undoes it: it was trained
    # on people of the body model's usual sizes.
    size: np.ndarray = None

    def __len__(self):
        return int(self.pose.shape[0])

    def temporal_flags(self):
        """(N,) bool: True for the people the temporal model estimated."""
        return np.broadcast_to(np.asarray(self.temporal, bool), (len(self),)).copy()
