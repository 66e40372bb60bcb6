"""What a replay evaluation scores, as plain numpy: people per frame, per stream, and timings.

hmr_ros reads the bags (input, result, ground truth) and hands these over; everything here is
independent of ROS, so benchmarks and tests build them directly.
"""
from dataclasses import dataclass, field

import numpy as np

from hmr_models.types import CameraIntrinsics, NUM_JOINTS, NUM_KEYPOINTS


@dataclass
class PeopleFrame:
    """The people of one image (one hmr_ros/SMPLPersonArray), arrays batched over people.

    stamp: the image's header stamp in integer nanoseconds (the key that pairs streams);
    received: arrival time of the message at the recorder in seconds (NaN when unknown).
    Units as in the message: pixels, metres (camera optical frame), radians.
    """

    stamp: int
    track_ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray          # (N, 17, 2), NaN where missing
    keypoint_scores: np.ndarray    # (N, 17)
    has_mesh: np.ndarray           # (N,) bool
    pose: np.ndarray               # (N, 72)
    betas: np.ndarray              # (N, 10)
    translation: np.ndarray        # (N, 3)
    joints: np.ndarray             # (N, 24, 3)
    joint_confidence: np.ndarray   # (N, 24)
    temporal: np.ndarray           # (N,) bool
    body_model: str = ''
    received: float = float('nan')

    def __len__(self):
        return int(self.track_ids.shape[0])

    @classmethod
    def empty(cls, stamp, received=float('nan')):
        z = np.zeros
        return cls(int(stamp), z(0, np.int64), z((0, 4), np.float32), z(0, np.float32),
                   z((0, NUM_KEYPOINTS, 2), np.float32), z((0, NUM_KEYPOINTS), np.float32),
                   z(0, bool), z((0, 72), np.float32), z((0, 10), np.float32),
                   z((0, 3), np.float32), z((0, NUM_JOINTS, 3), np.float32),
                   z((0, NUM_JOINTS), np.float32), z(0, bool), '', received)

    @classmethod
    def from_people(cls, stamp, track_ids, joints=None, boxes=None, keypoints=None,
                    keypoint_scores=None, joint_confidence=None, pose=None, betas=None,
                    translation=None, body_model='', received=float('nan')):
        """A frame from whichever arrays are known (the others zero; tests, converters)."""
        ids = np.asarray(track_ids, np.int64).reshape(-1)
        n = len(ids)

        def arr(x, shape, fill=0.0):
            return np.full((n, *shape), fill, np.float32) if x is None else \
                np.asarray(x, np.float32).reshape(n, *shape)
        return cls(int(stamp), ids, arr(boxes, (4,)), np.ones(n, np.float32),
                   arr(keypoints, (NUM_KEYPOINTS, 2), np.nan),
                   arr(keypoint_scores, (NUM_KEYPOINTS,)), np.full(n, joints is not None),
                   arr(pose, (72,)), arr(betas, (10,)), arr(translation, (3,)),
                   arr(joints, (NUM_JOINTS, 3)), arr(joint_confidence, (NUM_JOINTS,), 1.0),
                   np.zeros(n, bool), body_model, received)


@dataclass
class Sequence:
    """One replayed bag: the node's output streams, the ground truth, and the timings.

    image_stamps: every input image of the bag (ns, bag order); image_received: {stamp: s}
    when the recorder saw each one arrive; acknowledged: stamps hmr_node finished or dropped;
    streams: {'persons': {stamp: PeopleFrame}, 'persons_smoothed': {...}, ...};
    ground_truth: {stamp: PeopleFrame} or None; diagnostics: hmr_node's last status values.
    """

    name: str
    image_stamps: np.ndarray
    streams: dict
    ground_truth: dict = None
    camera: CameraIntrinsics = None
    image_received: dict = field(default_factory=dict)
    acknowledged: set = field(default_factory=set)
    diagnostics: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @property
    def fps(self):
        """Frame rate of the bag's images (median interval); 30 when unknown."""
        s = np.sort(np.asarray(self.image_stamps, np.int64))
        d = np.diff(s)
        d = d[d > 0]
        return float(1e9 / np.median(d)) if len(d) else 30.0
