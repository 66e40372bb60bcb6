"""Turning camera data into the front-end's input: a uint8 RGB (H, W, 3) array.

Pure numpy/OpenCV, no ROS: `hmr_node` hands over the bytes and fields of a sensor_msgs Image
(`image_from_buffer`) or CompressedImage (`decode_compressed`).
"""
import cv2
import numpy as np

# encoding -> (dtype, channels); names as in sensor_msgs/image_encodings.
ENCODINGS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4), 'bgra8': (np.uint8, 4),
    'mono8': (np.uint8, 1), '8UC1': (np.uint8, 1), 'mono16': (np.uint16, 1),
    '16UC1': (np.uint16, 1),
}


def to_rgb8(array, encoding):
    """uint8 RGB (H, W, 3) from an (H, W[, C]) array in a sensor_msgs encoding.

    16-bit mono is scaled by 255/65535 (cv_bridge's convention for mono16 -> mono8).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding '{encoding}'; supported: "
                         f'{sorted(ENCODINGS)} (and compressed jpeg/png via decode_compressed)')
    dtype, channels = ENCODINGS[encoding]
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] != channels or a.dtype != dtype:
        raise ValueError(f"'{encoding}' image must be {np.dtype(dtype).name} with {channels} "
                         f'channel(s), got {a.dtype} {a.shape}')
    if dtype == np.uint16:
        a = (a.astype(np.float32) * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    if channels == 1:
        return np.ascontiguousarray(np.repeat(a, 3, axis=2))
    if encoding.startswith('bgr'):
        a = a[..., 2::-1]
    return np.ascontiguousarray(a[..., :3])


def image_from_buffer(data, height, width, encoding, step=0, is_bigendian=False):
    """uint8 RGB (H, W, 3) from raw image bytes (a sensor_msgs/Image's data, step and fields).

    Rows may be padded (step > width * bytes per pixel); 16-bit data honours is_bigendian.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding '{encoding}'; supported: "
                         f'{sorted(ENCODINGS)}')
    dtype, channels = ENCODINGS[encoding]
    itemsize = np.dtype(dtype).itemsize
    row = width * channels * itemsize
    step = step or row
    if height <= 0 or width <= 0 or step < row:
        raise ValueError(f'bad image geometry: {height}x{width}, step {step} (row needs {row})')
    buf = np.frombuffer(memoryview(data), np.uint8)
    if buf.size < step * height:
        raise ValueError(f'image data too short: {buf.size} bytes for {height} rows of {step}')
    rows = buf[:step * height].reshape(height, step)[:, :row]
    dt = np.dtype(dtype).newbyteorder('>' if is_bigendian else '<') if itemsize > 1 else dtype
    array = np.ascontiguousarray(rows).view(dt).reshape(height, width, channels)
    return to_rgb8(array.astype(dtype), encoding)


def decode_compressed(data):
    """uint8 RGB (H, W, 3) from compressed image bytes (JPEG, PNG, ...)."""
    buf = np.frombuffer(memoryview(data), np.uint8)
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if image is None:
        raise ValueError(f'compressed image ({buf.size} bytes) could not be decoded: not a '
                         'JPEG/PNG OpenCV can read')
    return np.ascontiguousarray(image[..., ::-1])
