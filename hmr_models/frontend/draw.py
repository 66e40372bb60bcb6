"""Annotate an image with people: boxes, COCO-17 skeletons and track ids (debug image, PNGs)."""
import colorsys

import cv2
import numpy as np

from hmr_models.skeleton import COCO17_EDGES

_UNTRACKED = (200, 200, 200)


def track_colour(track_id):
    """A stable, well-spread RGB colour for a track id (grey for -1, untracked)."""
    if track_id < 0:
        return _UNTRACKED
    hue = (track_id * 0.618033988749895) % 1.0   # golden-ratio steps keep neighbours distinct
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_people(image_rgb, people, keypoint_threshold=0.0, copy=True, label=True, colour=None):
    """`image_rgb` (H, W, 3) uint8 with each person's box, skeleton and "id score" label drawn.

    Keypoints that are NaN or scored <= keypoint_threshold are not drawn, nor limbs touching them.
    Each person has the colour of their track id, or `colour` (RGB) for all when given.
    Returns the annotated image (a copy unless copy=False).
    """
    out = image_rgb.copy() if copy else image_rgb
    h, w = out.shape[:2]
    thick = max(1, int(round(max(h, w) / 500)))
    radius = thick + 1
    for i in range(len(people)):
        person_colour = colour or track_colour(int(people.track_ids[i]))
        x1, y1, x2, y2 = np.nan_to_num(people.boxes[i]).round().astype(int)
        cv2.rectangle(out, (x1, y1), (x2, y2), person_colour, thick)   # axis-aligned: no AA blur
        kp = people.keypoints[i]
        ok = np.isfinite(kp).all(-1) & (people.keypoint_scores[i] > keypoint_threshold)
        pts = np.where(ok[:, None], kp, 0).round().astype(int)
        for a, b in COCO17_EDGES:
            if ok[a] and ok[b]:
                cv2.line(out, tuple(pts[a]), tuple(pts[b]), person_colour, thick, cv2.LINE_AA)
        for k in np.nonzero(ok)[0]:
            cv2.circle(out, tuple(pts[k]), radius, (255, 255, 255), -1, cv2.LINE_AA)
        if label:
            tid = int(people.track_ids[i])
            text = (f'{tid} ' if tid >= 0 else '') + f'{float(people.scores[i]):.2f}'
            cv2.putText(out, text, (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4 * thick, person_colour, thick, cv2.LINE_AA)
    return out
