"""Grey other people out of an image, so that a keypoint crop sees only the person it is for.

A top-down keypoint model (MoveNet SinglePose) finds one body per crop. Where two people
overlap, the crop of the one behind often holds more of the one in front, and the model returns
a mix: the front person's head and legs on the back person's box (Pose2Sim's multi-person demo,
cam01: the bent-over man's crop gives the woman's body). Run again with the front person's body
greyed out, the crop shows the person it is for.
"""
import cv2
import numpy as np

GREY = 128           # a flat mid-grey: no edges or skin for the keypoint model to take
MARGIN = 0.05        # the body's outline grows by this x the box height (limbs have width)
# Unit circle, 16 points: grows a hull by a disk (the hull of a circle around each point).
_DISK = np.exp(1j * np.linspace(0, 2 * np.pi, 16, endpoint=False)).view(np.float64)
_DISK = _DISK.reshape(16, 2)


def grey_out_bodies(image_rgb, keypoints, scores, boxes, min_score):
    """A copy of the image with each person's body region filled with grey.

    The region of a person is the convex hull of its keypoints scored >= `min_score`, grown by
    MARGIN x its box height; people with fewer than 3 such keypoints leave the image as it is.
    keypoints (N, 17, 2), scores (N, 17), boxes (N, 4) xyxy, all in image pixels.
    """
    out = image_rgb.copy()
    for kps, s, box in zip(np.asarray(keypoints), np.nan_to_num(np.asarray(scores)),
                           np.asarray(boxes)):
        points = kps[(s >= min_score) & np.isfinite(kps).all(1)]
        if len(points) < 3:
            continue
        grow = max(1.0, MARGIN * float(box[3] - box[1]))
        grown = (points[:, None, :] + grow * _DISK[None]).reshape(-1, 2)
        hull = cv2.convexHull(grown.astype(np.float32)).round().astype(np.int32)
        cv2.fillConvexPoly(out, hull, (GREY, GREY, GREY))
    return out
