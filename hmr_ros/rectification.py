"""Raw camera images made distortion-free with their CameraInfo, as image_proc's rectify does.

The mesh stages take a pinhole camera: a wide-angle lens bends a person near the image's edge
inwards, and without rectification they are placed in the wrong direction and at the wrong
distance (k1 = -0.3 moves the corner of a 90-degree image by about a quarter of its radius).
ROS's convention: CameraInfo's K and D describe the raw image; P's left 3x3 is the camera of
the rectified image (image_rect). So an image that is rectified here, or that arrives
rectified (an `image_rect*` topic), is described by P; a raw image taken as it is, by K.

Rectification maps are computed once per calibration and image size (OpenCV), then each image
costs one remap (median 4.7 ms for 1280x720 on one core of the 2-core CI machine, 2026-12-06).
"""
from dataclasses import replace

import cv2
import numpy as np

from hmr_ros.camera_info import intrinsics_from_camera_info, scale_camera_info, valid_projection

MODES = ('auto', 'true', 'false')
# CameraInfo distortion models OpenCV can undo (fisheye: OpenCV's 4-coefficient model)
PINHOLE_MODELS = ('plumb_bob', 'rational_polynomial')
FISHEYE_MODELS = ('equidistant', 'fisheye')
NEGLIGIBLE = 1e-9


def topic_is_rectified(image_topic):
    """Whether a topic's name says its images are rectified already (image_rect, ...)."""
    name = image_topic.rstrip('/').rsplit('/', 1)[-1]
    return name.startswith('image_rect')


class Rectifier:
    """Undistorts raw images with their CameraInfo and says which intrinsics describe them.

    Args:
        mode: 'auto' rectifies when the CameraInfo has distortion and the topic's name does not
            say its images are rectified; 'true' whenever it has distortion; 'false' never (the
            images are taken as pinhole images, described by K).
        image_topic: the node's image topic (for 'auto').
        log: a function taking one line (said once per calibration).
    """

    def __init__(self, mode='auto', image_topic='', log=print):
        if mode not in MODES:
            raise ValueError(f'rectify must be one of {MODES}, got {mode!r}')
        self.mode = mode
        self.arrives_rectified = topic_is_rectified(image_topic)
        self.log = log
        self._key = None
        self._maps = None
        self._said = set()
        self._applied = None    # the calibration of the last image rectified (for its points)

    def wants(self, info):
        """Whether images with this CameraInfo are rectified here."""
        if self.mode == 'false' or (self.mode == 'auto' and self.arrives_rectified):
            return False
        d = np.asarray(info.d, np.float64)
        if not np.isfinite(d).all():
            self._say(('nan', tuple(info.d)), 'camera_info has non-finite distortion '
                      f'coefficients {list(info.d)}: images are used as they come')
            return False
        return bool(d.size) and bool(np.any(np.abs(d) > NEGLIGIBLE))

    def apply(self, rgb, info):
        """(image, CameraIntrinsics or None): the image rectified if wanted, and its camera.

        A CameraInfo of another size than the image is scaled to it first (a source that
        resized its frames). None when `info` has no usable focal length.
        """
        height, width = rgb.shape[:2]
        self._applied = None
        if intrinsics_from_camera_info(info) is None:
            return rgb, None
        if (info.width, info.height) != (width, height):
            info = scale_camera_info(info, width, height)
        if not self.wants(info):
            return rgb, intrinsics_from_camera_info(info, rectified=self.arrives_rectified)
        model = info.distortion_model
        if model not in PINHOLE_MODELS + FISHEYE_MODELS:
            self._say(('model', model), f"camera_info's distortion model '{model}' is not one "
                      f'OpenCV undoes ({", ".join(PINHOLE_MODELS + FISHEYE_MODELS)}): images '
                      'are used as they come')
            return rgb, intrinsics_from_camera_info(info)
        maps = self._maps_for(info)
        if maps is None:
            return rgb, intrinsics_from_camera_info(info)
        self._applied = info
        return (cv2.remap(rgb, maps[0], maps[1], cv2.INTER_LINEAR),
                intrinsics_from_camera_info(info, rectified=True))

    def points(self, xy):
        """Raw pixels (..., 2) -> where they are in the last image `apply` rectified.

        For people found by another detector on the raw image. Unchanged when the last image
        was not rectified; NaN stays NaN.
        """
        info = self._applied
        xy = np.asarray(xy, np.float64)
        if info is None or xy.size == 0:
            return xy
        k, d, r, new = _matrices(info)
        flat = np.nan_to_num(xy.reshape(-1, 1, 2))
        if info.distortion_model in FISHEYE_MODELS:
            out = cv2.fisheye.undistortPoints(flat, k, d[:4], R=r, P=new)
        else:
            out = cv2.undistortPoints(flat, k, d, R=r, P=new)
        out = out.reshape(xy.shape)
        out[np.isnan(xy)] = np.nan
        return out

    def people(self, people):
        """People found on the raw image, moved into the last image rectified.

        Boxes become the bounds of their moved corners and edge midpoints.
        """
        if self._applied is None or not len(people):
            return people
        x1, y1, x2, y2 = (people.boxes[:, i] for i in range(4))
        xm, ym = (x1 + x2) / 2, (y1 + y2) / 2
        outline = np.stack([np.stack([x, y], -1) for x, y in (
            (x1, y1), (xm, y1), (x2, y1), (x2, ym), (x2, y2), (xm, y2), (x1, y2), (x1, ym))], 1)
        outline = self.points(outline)
        boxes = np.concatenate([outline.min(1), outline.max(1)], -1).astype(np.float32)
        return replace(people, boxes=boxes,
                       keypoints=self.points(people.keypoints).astype(np.float32))

    def _maps_for(self, info):
        key = (info.distortion_model, tuple(info.k), tuple(info.d), tuple(info.r),
               tuple(info.p), info.width, info.height)
        if key == self._key:
            return self._maps
        k, d, r, new = _matrices(info)
        size = (int(info.width), int(info.height))
        try:
            if info.distortion_model in FISHEYE_MODELS:
                if d.size < 4:
                    raise cv2.error(f'the fisheye model needs 4 coefficients, got {d.size}')
                maps = cv2.fisheye.initUndistortRectifyMap(k, d[:4], r, new, size, cv2.CV_16SC2)
            else:
                maps = cv2.initUndistortRectifyMap(k, d, r, new, size, cv2.CV_16SC2)
        except cv2.error as exc:
            self._say(('bad', key), f'camera_info cannot be rectified ({exc}): images are used '
                      'as they come')
            maps = None
        else:
            coefficients = ' '.join(f'{v:.3g}' for v in d)
            self._say(('maps', key), f"camera_info has {info.distortion_model} distortion "
                      f'({coefficients}): images are rectified as image_proc does and '
                      "described by its projection matrix P (parameter 'rectify')")
        self._key, self._maps = key, maps
        return maps

    def _say(self, key, line):
        if key not in self._said:
            self._said.add(key)
            self.log(line)


def _matrices(info):
    """K, D, R and the rectified camera matrix (P's left 3x3, or K where P is not set)."""
    k = np.array(info.k, np.float64).reshape(3, 3)
    d = np.array(info.d, np.float64)
    r = np.array(info.r, np.float64).reshape(3, 3) if len(info.r) == 9 else np.eye(3)
    new = np.array(info.p, np.float64).reshape(3, 4)[:, :3] \
        if valid_projection(list(info.p)) else k
    return k, d, r, new
