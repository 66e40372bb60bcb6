"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge.

PyPI's cv-bridge breaks with recent numpy/OpenCV, and the conversion we need is small: every
supported encoding becomes an RGB uint8 array (what the detectors and models take). Anything
that cannot be converted raises ImageError with a message saying why; the node counts and logs
those as dropped frames.
"""
import struct

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

# Refuse images whose decoded size would be absurd (a 20000x20000 rgb8 image is 1.2 GB).
DEFAULT_MAX_PIXELS = 50_000_000

_GRAY8 = ('mono8', '8UC1')
_GRAY16 = ('mono16', '16UC1')
_COLOR16 = ('rgb16', 'bgr16')
# Raw sensor layouts that camera drivers publish as they come (industrial cameras: Bayer;
# USB cameras: 4:2:2 YUV), with OpenCV's conversion to RGB. ROS names a Bayer pattern by its
# first row, OpenCV by the second row's first two pixels: ROS rggb is OpenCV's BayerBG.
_BAYER = {'bayer_rggb8': cv2.COLOR_BayerBG2RGB, 'bayer_bggr8': cv2.COLOR_BayerRG2RGB,
          'bayer_gbrg8': cv2.COLOR_BayerGR2RGB, 'bayer_grbg8': cv2.COLOR_BayerGB2RGB}
_YUV422 = {'yuv422': cv2.COLOR_YUV2RGB_UYVY, 'uyvy': cv2.COLOR_YUV2RGB_UYVY,
           'yuv422_yuy2': cv2.COLOR_YUV2RGB_YUYV, 'yuyv': cv2.COLOR_YUV2RGB_YUYV}
SUPPORTED_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', '8UC3') + _GRAY8 + _GRAY16 + \
    _COLOR16 + tuple(_BAYER) + tuple(_YUV422)


class ImageError(ValueError):
    """An image message that cannot be turned into an RGB array (reason in the message)."""


def _check_size(width, height, max_pixels):
    if width <= 0 or height <= 0:
        raise ImageError(f'empty image ({width}x{height})')
    if width * height > max_pixels:
        raise ImageError(f'image too large ({width}x{height} = {width * height} pixels > '
                         f'max_image_pixels {max_pixels})')


def image_to_rgb(msg: Image, max_pixels=DEFAULT_MAX_PIXELS):
    """RGB uint8 array (H, W, 3) of a sensor_msgs/Image; raises ImageError."""
    enc = msg.encoding.strip()
    if enc not in SUPPORTED_ENCODINGS:
        raise ImageError(f"unsupported encoding '{msg.encoding}' "
                         f"(supported: {', '.join(SUPPORTED_ENCODINGS)})")
    width, height = int(msg.width), int(msg.height)
    _check_size(width, height, max_pixels)
    big = '>' if msg.is_bigendian else '<'
    if enc in _GRAY16:
        channels, dtype = 1, np.dtype(big + 'u2')
    elif enc in _COLOR16:
        channels, dtype = 3, np.dtype(big + 'u2')
    elif enc in _GRAY8 or enc in _BAYER:
        channels, dtype = 1, np.dtype(np.uint8)
    elif enc in _YUV422:
        if width % 2:
            raise ImageError(f'{enc} needs an even width (two pixels share their colour), '
                             f'got {width}')
        channels, dtype = 2, np.dtype(np.uint8)
    else:
        channels, dtype = (4 if enc in ('rgba8', 'bgra8') else 3), np.dtype(np.uint8)
    row_bytes = width * channels * dtype.itemsize
    step = int(msg.step) or row_bytes
    data = msg.data
    if step < row_bytes:
        raise ImageError(f'step {step} is shorter than a row ({row_bytes} bytes)')
    if len(data) < step * (height - 1) + row_bytes:
        raise ImageError(f'data has {len(data)} bytes, {step * height} expected for '
                         f'{width}x{height} {enc} with step {step}')
    buf = np.frombuffer(data, dtype=np.uint8, count=min(len(data), step * height))
    if buf.size < step * height:  # last row without its padding
        buf = np.concatenate([buf, np.zeros(step * height - buf.size, np.uint8)])
    rows = buf.reshape(height, step)[:, :row_bytes]
    pixels = rows.copy().view(dtype).reshape(height, width, channels)
    if enc in _GRAY16:
        # Scale the used range to 8 bits (depth/IR cameras rarely fill 16 bits).
        top = max(int(pixels.max()), 1)
        gray = (pixels[..., 0].astype(np.float32) * (255.0 / top)).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if enc in _GRAY8:
        return cv2.cvtColor(pixels[..., 0], cv2.COLOR_GRAY2RGB)
    if enc in _BAYER:
        return cv2.cvtColor(pixels[..., 0], _BAYER[enc])
    if enc in _YUV422:
        return cv2.cvtColor(pixels, _YUV422[enc])
    if enc in _COLOR16:     # the top 8 bits, as cv_bridge does
        rgb = (pixels >> 8).astype(np.uint8)
        return rgb if enc == 'rgb16' else np.ascontiguousarray(rgb[..., ::-1])
    if enc in ('rgb8', '8UC3'):
        return pixels
    if enc == 'bgr8':
        return pixels[..., ::-1].copy()
    if enc == 'rgba8':
        return np.ascontiguousarray(pixels[..., :3])
    return np.ascontiguousarray(pixels[..., 2::-1])  # bgra8


def compressed_to_rgb(msg: CompressedImage, max_pixels=DEFAULT_MAX_PIXELS):
    """RGB uint8 array of a sensor_msgs/CompressedImage (jpeg/png); raises ImageError."""
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageError('empty compressed image')
    # Read the header first so a decompression bomb is refused before it is decoded.
    ok, width, height = _compressed_size(data)
    if ok:
        _check_size(width, height, max_pixels)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"could not decode compressed image (format '{msg.format}', "
                         f'{data.size} bytes)')
    _check_size(bgr.shape[1], bgr.shape[0], max_pixels)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _compressed_size(data):
    """(found, width, height) from a PNG or JPEG header, without decoding the pixels."""
    raw = data.tobytes()[:65536]
    if raw[:8] == b'\x89PNG\r\n\x1a\n' and len(raw) >= 24:
        return True, int.from_bytes(raw[16:20], 'big'), int.from_bytes(raw[20:24], 'big')
    if raw[:2] == b'\xff\xd8':
        i = 2
        while i + 9 < len(raw):
            if raw[i] != 0xFF:
                break
            marker = raw[i + 1]
            length = int.from_bytes(raw[i + 2:i + 4], 'big')
            if marker in (0xC0, 0xC1, 0xC2):  # start of frame: height, width
                return True, int.from_bytes(raw[i + 7:i + 9], 'big'), \
                    int.from_bytes(raw[i + 5:i + 7], 'big')
            i += 2 + length
    return False, 0, 0


def rgb_to_image(rgb, header=None, encoding='rgb8'):
    """sensor_msgs/Image from an RGB uint8 array (encoding 'rgb8' or 'bgr8')."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}')
    if encoding == 'bgr8':
        rgb = rgb[..., ::-1]
    elif encoding != 'rgb8':
        raise ValueError(f"encoding must be 'rgb8' or 'bgr8', got '{encoding}'")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg


def header_from_cdr(raw):
    """The std_msgs/Header at the start of a serialized Image or CompressedImage.

    Reads the few bytes of the header only: a frame the node drops is never deserialized.
    Raises ImageError when the bytes are too short or malformed.
    """
    try:
        endian = '<' if raw[1] == 1 else '>'   # CDR encapsulation: 0x0001 LE, 0x0000 BE
        sec, nanosec, length = struct.unpack_from(endian + 'iII', raw, 4)
        frame_id = bytes(raw[16:16 + max(length - 1, 0)]).decode('utf-8', errors='replace')
    except (IndexError, struct.error) as exc:
        raise ImageError(f'malformed serialized image ({len(raw)} bytes): {exc}') from None
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = sec, nanosec
    return header


def rgb_to_compressed(rgb, header=None, quality=90):
    """sensor_msgs/CompressedImage (JPEG) of an RGB uint8 array."""
    ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageError(f'JPEG encoding failed for an image of shape {rgb.shape}')
    msg = CompressedImage(format='jpeg', data=buf.tobytes())
    if header is not None:
        msg.header = header
    return msg
