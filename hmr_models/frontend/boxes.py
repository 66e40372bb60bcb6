"""Pure, vectorised box geometry for the front-end: areas, IoU, NMS, crop squares and OKS.

Boxes are xyxy pixels, float32. Affine crops are in `hmr_models.geometry.affine`.
"""
import numpy as np

# COCO-17 per-keypoint OKS constants (COCO keypoint evaluation): how precisely humans label each
# keypoint; eyes are tight, hips loose.
COCO17_SIGMAS = np.array([
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
    0.107, 0.107, 0.087, 0.087, 0.089, 0.089], dtype=np.float32)


def box_area(boxes):
    """Areas (N,) of xyxy boxes (N, 4); degenerate boxes have area 0."""
    boxes = np.asarray(boxes, np.float32)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def valid_boxes(boxes):
    """Mask (N,) of xyxy boxes (N, 4) that are finite and not empty (x2 > x1, y2 > y1)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.isfinite(boxes).all(1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def box_intersection(a, b):
    """Pairwise intersection areas (N, M) of xyxy boxes a (N, 4) and b (M, 4)."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    return wh[..., 0] * wh[..., 1]


def box_iou(a, b):
    """Pairwise IoU (N, M) of xyxy boxes a (N, 4) and b (M, 4)."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    inter = box_intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression; indices of the kept boxes, best score first."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float32), kind='stable')
    if order.size == 0:
        return order.astype(np.int64)
    iou = box_iou(boxes[order], boxes[order])
    keep = np.ones(order.size, bool)
    # The loop is over boxes (a few hundred at most), the work inside is vectorised.
    for i in range(order.size):
        if keep[i]:
            keep[i + 1:] &= iou[i, i + 1:] <= iou_threshold
    return order[keep].astype(np.int64)


def square_boxes(boxes, scale=1.25):
    """Squares (N, 4) xyxy centred on each box, side = scale * the box's longer side.

    This is 3DCrowdNet/DPMesh's crop box for a square input: aspect-corrected, then enlarged by
    `scale` so limbs reaching outside the detector's box stay in the crop.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = scale * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
    half = np.maximum(half, 0.5)  # never a zero-size crop, whatever the detector returned
    return np.concatenate([centre - half[:, None], centre + half[:, None]], 1).astype(np.float32)


def keypoint_similarity(kp_a, valid_a, kp_b, valid_b, areas, sigmas=COCO17_SIGMAS):
    """Object keypoint similarity (N, M) between people a (N, K, 2) and b (M, K, 2).

    Only keypoints valid in both count (valid_a (N, K), valid_b (M, K) bool). `areas` is the
    object scale s^2 in pixels^2, broadcastable to (N, M) (e.g. box areas of b as `areas[None]`;
    COCO uses the segment area, a box area works the same way).
    Pairs with no keypoint in common get NaN so callers can fall back to another cue.
    """
    kp_a = np.asarray(kp_a, np.float32)
    kp_b = np.asarray(kp_b, np.float32)
    both = np.asarray(valid_a, bool)[:, None, :] & np.asarray(valid_b, bool)[None, :, :]
    d2 = np.sum((kp_a[:, None] - kp_b[None]) ** 2, axis=-1)               # (N, M, K)
    var = (2 * np.asarray(sigmas, np.float32)) ** 2                          # COCO: (2 sigma)^2
    scale = np.broadcast_to(np.maximum(np.asarray(areas, np.float32), 1.0), d2.shape[:2])
    e = np.exp(-np.nan_to_num(d2, nan=np.inf) / (2 * scale[..., None] * var))
    count = both.sum(-1)
    total = np.where(both, e, 0.0).sum(-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count > 0, total / count, np.nan).astype(np.float32)
