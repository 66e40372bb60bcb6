"""REP-155 (ROS4HRI) 2D body data from COCO-17 detections: normalised ROI and 18-point skeleton."""
import re

import numpy as np

from hmr_models.skeleton import COCO17_NAMES

# hri_msgs/Skeleton2D order (OpenPose COCO-18 body points, with hri_msgs' eye/ear order).
SKELETON18_NAMES = (
    'nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder',
    'left_elbow', 'left_wrist', 'right_hip', 'right_knee', 'right_ankle', 'left_hip',
    'left_knee', 'left_ankle', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
)
_COCO = {n: i for i, n in enumerate(COCO17_NAMES)}


def body_id(track_id, prefix='b'):
    """REP-155 id of a track: the prefix and its number ('b12'); None when untracked (-1).

    ROS topic name tokens must not start with a digit (``/humans/bodies/12/roi`` is invalid),
    hence the prefix.
    """
    return None if track_id is None or int(track_id) < 0 else f'{prefix}{int(track_id)}'


def check_id_prefix(prefix):
    """Raise ValueError unless `prefix` can start a ROS name token (a letter, then word chars)."""
    if not re.fullmatch(r'[A-Za-z][A-Za-z0-9_]*', prefix or ''):
        raise ValueError(f'body_id_prefix {prefix!r} must start with a letter and hold only '
                         'letters, digits and _ (it starts ROS topic name tokens)')


def normalized_roi(box, score, width, height):
    """(xmin, ymin, xmax, ymax, c): the box (x0, y0, x1, y1 pixels) in [0, 1] of the image."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = float(width), float(height)
    out = np.clip([x0 / w, y0 / h, x1 / w, y1 / h], 0.0, 1.0)
    return (*out.tolist(), float(np.clip(score, 0.0, 1.0)))


def skeleton18(keypoints, scores, width, height):
    """(18, 3) normalised (x, y, c) in Skeleton2D order from COCO-17 pixels and scores.

    The neck is the mid-point of the shoulders (confidence: the weaker shoulder's). Missing
    points (NaN or score 0) are (0, 0) with c = 0.
    """
    kps = np.asarray(keypoints, np.float64).reshape(17, 2)
    conf = np.asarray(scores, np.float64).reshape(17)
    valid = np.isfinite(kps).all(1) & (conf > 0)
    out = np.zeros((len(SKELETON18_NAMES), 3))
    size = np.array([float(width), float(height)])
    for k, name in enumerate(SKELETON18_NAMES):
        if name == 'neck':
            a, b = _COCO['left_shoulder'], _COCO['right_shoulder']
            if valid[a] and valid[b]:
                out[k, :2] = 0.5 * (kps[a] + kps[b]) / size
                out[k, 2] = min(conf[a], conf[b])
            continue
        i = _COCO[name]
        if valid[i]:
            out[k, :2] = kps[i] / size
            out[k, 2] = conf[i]
    out[:, :2] = np.clip(out[:, :2], 0.0, 1.0)
    out[:, 2] = np.clip(out[:, 2], 0.0, 1.0)
    return out
