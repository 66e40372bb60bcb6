"""Per-frame inputs of the temporal models from the pipeline's People and BodyEstimate."""
import numpy as np

KEYPOINT_CLIP = 2.0  # box half-sizes: keypoints further out are clipped (mostly outliers)


def normalise_keypoints(keypoints, keypoint_scores, boxes):
    """Keypoints in person-box units, robust to missing points.

    Args:
        keypoints: (N, K, 2) image pixels, NaN where missing.
        keypoint_scores: (N, K) in [0, 1].
        boxes: (N, 4) xyxy pixels.
    Returns:
        (N, K, 2) float32 with the box centre at 0 and half the longer box side at 1 (missing
        keypoints at 0), and (N, K) float32 scores with 0 for missing keypoints.
    """
    kp = np.asarray(keypoints, np.float32)
    boxes = np.asarray(boxes, np.float32)
    centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    half = 0.5 * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    half = np.maximum(half, 1.0)
    norm = (kp - centre[:, None]) / half[:, None, None]
    missing = ~np.isfinite(norm).all(-1)
    norm = np.clip(np.where(missing[..., None], 0.0, norm), -KEYPOINT_CLIP, KEYPOINT_CLIP)
    scores = np.where(missing, 0.0, np.nan_to_num(np.asarray(keypoint_scores, np.float32)))
    return norm.astype(np.float32), np.clip(scores, 0.0, 1.0).astype(np.float32)
