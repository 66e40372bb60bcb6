"""CameraInfo: intrinsics, calibration YAML, and pairing with images by stamp.

CameraInfo <-> hmr_models.types.CameraIntrinsics, the ROS calibration YAML format, and the
camera_info of each image (CameraInfoByStamp).
"""
from collections import deque, OrderedDict
import math
from pathlib import Path
import threading

from sensor_msgs.msg import CameraInfo
import yaml

from hmr_models.types import CameraIntrinsics


class CameraInfoByStamp:
    """The camera_info of each image: the one with the image's stamp, else the latest.

    A driver publishes an image and its camera_info with the same stamp on two topics, so the
    info can reach a busy node after its image; a bag replayed in lockstep can deliver the next
    image's info while an earlier image is still in the node. Once images and infos have been
    seen paired by stamp, `get` waits up to `wait_s` for an image's own info. A wait that times
    out stops the waiting until a pair is seen again, so a source whose infos carry stamps of
    their own (or that sends none) costs no wait. Thread-safe: `put` from the subscription,
    `get` from the worker that prepares the image.
    """

    def __init__(self, wait_s=0.05, keep=8):
        self.wait_s, self.keep = float(wait_s), int(keep)
        self.latest = None
        self.waits_timed_out = 0
        self._infos = OrderedDict()            # stamp key -> CameraInfo, the newest `keep`
        self._images = deque(maxlen=keep)      # stamp keys of the latest images asked about
        self._paired = False
        self._changed = threading.Condition()

    def put(self, key, info):
        with self._changed:
            self.latest = info
            self._infos[key] = info
            while len(self._infos) > self.keep:
                self._infos.popitem(last=False)
            if key in self._images:            # the info of an image that came before it
                self._paired = True
            self._changed.notify_all()

    def get(self, key):
        """The info stamped `key` (waiting for it when infos come paired), else the latest."""
        with self._changed:
            self._images.append(key)
            if key not in self._infos and self._paired and self.wait_s > 0:
                if not self._changed.wait_for(lambda: key in self._infos, self.wait_s):
                    self._paired = False
                    self.waits_timed_out += 1
            info = self._infos.get(key)
            if info is not None:
                self._paired = True
                return info
            return self.latest


class CalibrationError(ValueError):
    """A calibration file is missing or malformed (message names the file and the field)."""


def load_calibration(path):
    """CameraInfo from a camera_calibration / camera_info_manager YAML file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CalibrationError(f'calibration file not found: {path}')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CalibrationError(f'calibration file {path} is not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise CalibrationError(f'calibration file {path} does not hold a mapping')

    def matrix(key, size, required=True):
        block = data.get(key)
        if block is None:
            if required:
                raise CalibrationError(f"calibration file {path}: missing '{key}'")
            return None
        values = block.get('data') if isinstance(block, dict) else block
        if not isinstance(values, list) or (size and len(values) != size):
            raise CalibrationError(
                f"calibration file {path}: '{key}' must hold {size or 'a list of'} numbers")
        return [float(v) for v in values]

    msg = CameraInfo()
    try:
        msg.width = int(data['image_width'])
        msg.height = int(data['image_height'])
    except (KeyError, TypeError, ValueError):
        raise CalibrationError(
            f"calibration file {path}: 'image_width' and 'image_height' are required") from None
    msg.k = matrix('camera_matrix', 9)
    msg.distortion_model = str(data.get('distortion_model', 'plumb_bob'))
    msg.d = matrix('distortion_coefficients', 0, required=False) or []
    identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.r = matrix('rectification_matrix', 9, required=False) or identity
    p = matrix('projection_matrix', 12, required=False)
    k = msg.k
    msg.p = p or [k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, k[6], k[7], k[8], 0.0]
    return msg


def camera_info_from_intrinsics(intr: CameraIntrinsics):
    msg = CameraInfo()
    msg.width, msg.height = int(intr.width), int(intr.height)
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def intrinsics_from_camera_info(msg: CameraInfo, rectified=False):
    """CameraIntrinsics from a CameraInfo; None when it carries no usable focal length.

    rectified: of the rectified image (P's left 3x3, where P is set; ROS's convention), not of
    the raw one (K).
    """
    k, p = list(msg.k), list(msg.p)
    if len(k) != 9 or not all(math.isfinite(v) for v in k) or k[0] <= 0 or k[4] <= 0 or \
            msg.width <= 0 or msg.height <= 0:
        return None
    if rectified and valid_projection(p):
        return CameraIntrinsics(p[0], p[5], p[2], p[6], int(msg.width), int(msg.height))
    return CameraIntrinsics(k[0], k[4], k[2], k[5], int(msg.width), int(msg.height))


def valid_projection(p):
    """Whether a CameraInfo's P is set (some drivers leave it zero) and finite."""
    return len(p) == 12 and all(math.isfinite(v) for v in p) and p[0] > 0 and p[5] > 0


def scale_camera_info(msg: CameraInfo, width, height):
    """The same calibration for images resized to (width, height)."""
    sx, sy = width / msg.width, height / msg.height
    out = CameraInfo()
    out.header = msg.header
    out.width, out.height = int(width), int(height)
    out.distortion_model, out.d, out.r = msg.distortion_model, list(msg.d), list(msg.r)
    k = list(msg.k)
    out.k = [k[0] * sx, k[1] * sx, k[2] * sx, k[3] * sy, k[4] * sy, k[5] * sy, k[6], k[7], k[8]]
    p = list(msg.p)
    out.p = [p[0] * sx, p[1] * sx, p[2] * sx, p[3] * sx, p[4] * sy, p[5] * sy, p[6] * sy,
             p[7] * sy, p[8], p[9], p[10], p[11]]
    return out
