"""The interface every keypoint backend implements, and the cleaning of what they return.

Two kinds of backend exist:
- top-down (`needs_boxes = True`: MoveNet, MediaPipe): `estimate(image_rgb, boxes)` returns
  COCO-17 keypoints for the person in each given box;
- one-stage (`needs_boxes = False`: YOLO-pose): `detect(image_rgb)` returns boxes, box scores and
  keypoints together, so no separate person detector runs.
"""
import numpy as np

from hmr_models.types import NUM_KEYPOINTS


class KeypointBackend:
    """Base class: COCO-17 keypoints in image pixels (K=17) with per-keypoint scores in [0, 1]."""

    name = 'base'
    needs_boxes = True

    def estimate(self, image_rgb, boxes):
        """keypoints (N, 17, 2) float32 px and scores (N, 17) for people in boxes (N, 4) xyxy."""
        raise NotImplementedError

    def detect(self, image_rgb):
        """One-stage backends: (boxes (N, 4), box_scores (N,), keypoints (N, 17, 2), scores)."""
        raise NotImplementedError(f'{self.name} is a top-down backend: call estimate()')

    def close(self):
        """Release native resources (graphs, sessions); safe to call twice."""


def empty_keypoints(n=0):
    """(keypoints (n, 17, 2) NaN, scores (n, 17) zeros): what a backend returns for no person."""
    return (np.full((n, NUM_KEYPOINTS, 2), np.nan, np.float32),
            np.zeros((n, NUM_KEYPOINTS), np.float32))


def sanitize_keypoints(keypoints, scores, width, height, score_threshold=0.0):
    """Make backend output safe: every unusable keypoint becomes NaN with score 0.

    keypoints (N, K, 2) px, scores (N, K). A keypoint is unusable when its coordinates or score
    are not finite, when it lies outside the image [0, width) x [0, height), or when its score is
    below `score_threshold`. Scores are clipped to [0, 1].

    Returns (keypoints, scores, n_nonfinite, n_outside): the number of keypoints rejected for
    non-finite values (a backend fault) and for lying outside the image (normal for people cut
    by the image border); low scores are normal and not counted.
    """
    kp = np.array(keypoints, np.float32, copy=True).reshape(-1, NUM_KEYPOINTS, 2)
    sc = np.array(scores, np.float32, copy=True).reshape(-1, NUM_KEYPOINTS)
    finite = np.isfinite(kp).all(-1) & np.isfinite(sc)
    with np.errstate(invalid='ignore'):
        x, y = kp[..., 0], kp[..., 1]
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        # A keypoint the backend itself marked missing (NaN, score 0) is not a fault.
        marked_missing = np.isnan(kp).all(-1) & ((sc == 0) | np.isnan(sc))
        nonfinite = ~finite & ~marked_missing
        outside = finite & ~inside
        sc = np.clip(np.nan_to_num(sc, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
        keep = finite & inside & (sc >= score_threshold) & (sc > 0)
    kp[~keep] = np.nan
    sc[~keep] = 0.0
    return kp, sc, int(nonfinite.sum()), int(outside.sum())
