"""Image messages of every supported encoding become the same RGB array; bad ones raise."""
import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from hmr_ros.image_conversion import (
    ImageError, SUPPORTED_ENCODINGS, compressed_to_rgb, image_to_rgb, rgb_to_image)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (7, 11, 3), dtype=np.uint8)


def make(encoding, pixels, step_pad=0, bigendian=False):
    msg = Image()
    msg.height, msg.width = pixels.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = int(bigendian)
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8) if pixels.ndim == 2 else \
        pixels.reshape(pixels.shape[0], -1)
    rows = np.ascontiguousarray(rows).view(np.uint8).reshape(pixels.shape[0], -1)
    padded = np.concatenate([rows, np.zeros((rows.shape[0], step_pad), np.uint8)], axis=1)
    msg.step = padded.shape[1]
    msg.data = padded.tobytes()
    return msg


@pytest.mark.parametrize('pad', [0, 5])
def test_color_encodings_give_the_same_rgb(pad):
    assert np.array_equal(image_to_rgb(make('rgb8', RGB, pad)), RGB)
    assert np.array_equal(image_to_rgb(make('bgr8', RGB[..., ::-1].copy(), pad)), RGB)
    rgba = np.concatenate([RGB, np.full(RGB.shape[:2] + (1,), 255, np.uint8)], -1)
    assert np.array_equal(image_to_rgb(make('rgba8', rgba, pad)), RGB)
    bgra = np.ascontiguousarray(rgba[..., [2, 1, 0, 3]])
    assert np.array_equal(image_to_rgb(make('bgra8', bgra, pad)), RGB)


def test_mono8_and_mono16_become_gray_rgb():
    gray = RGB[..., 0].copy()
    out = image_to_rgb(make('mono8', gray))
    assert out.shape == (7, 11, 3) and np.array_equal(out[..., 1], gray)
    depth = (gray.astype(np.uint16) * 100)
    for big in (False, True):
        data = depth.astype('>u2' if big else '<u2')
        out16 = image_to_rgb(make('mono16', data, bigendian=big))
        expected = (depth.astype(np.float32) * (255.0 / depth.max())).astype(np.uint8)
        assert np.array_equal(out16[..., 0], expected)


def test_every_supported_encoding_converts():
    shapes = {'mono8': (7, 11), '8UC1': (7, 11), 'mono16': (7, 11), '16UC1': (7, 11),
              'rgba8': (7, 11, 4), 'bgra8': (7, 11, 4)}
    for enc in SUPPORTED_ENCODINGS:
        shape = shapes.get(enc, (7, 11, 3))
        dtype = np.uint16 if '16' in enc else np.uint8
        out = image_to_rgb(make(enc, np.ones(shape, dtype)))
        assert out.shape == (7, 11, 3) and out.dtype == np.uint8


@pytest.mark.parametrize('change, reason', [
    (dict(encoding='yuv422'), 'unsupported encoding'),
    (dict(width=0, height=0, step=0, data=b''), 'empty image'),
    (dict(width=20000, height=20000, step=60000), 'too large'),
    (dict(data=b'\x00' * 10), 'bytes'),
    (dict(step=3), 'shorter than a row'),
])
def test_bad_images_raise_clear_errors(change, reason):
    msg = make('rgb8', RGB)
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageError, match=reason):
        image_to_rgb(msg)


def test_compressed_png_and_jpeg():
    for ext in ('.png', '.jpg'):
        ok, buf = cv2.imencode(ext, cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
        msg = CompressedImage(format=ext[1:], data=buf.tobytes())
        out = compressed_to_rgb(msg)
        assert out.shape == RGB.shape
        if ext == '.png':
            assert np.array_equal(out, RGB)


def test_compressed_garbage_empty_and_bomb():
    with pytest.raises(ImageError, match='empty'):
        compressed_to_rgb(CompressedImage(format='jpeg', data=b''))
    with pytest.raises(ImageError, match='could not decode'):
        compressed_to_rgb(CompressedImage(format='jpeg', data=b'not an image'))
    big = np.zeros((64, 64, 3), np.uint8)
    ok, buf = cv2.imencode('.png', big)
    raw = bytearray(buf.tobytes())
    raw[16:20] = (40000).to_bytes(4, 'big')  # header claims 40000 x 64: refused before decoding
    with pytest.raises(ImageError, match='too large'):
        compressed_to_rgb(CompressedImage(format='png', data=bytes(raw)), max_pixels=1_000_000)


def test_rgb_to_image_round_trip():
    for enc in ('rgb8', 'bgr8'):
        msg = rgb_to_image(RGB, encoding=enc)
        assert msg.encoding == enc and msg.step == 33
        assert np.array_equal(image_to_rgb(msg), RGB)
    with pytest.raises(ValueError):
        rgb_to_image(RGB[..., 0])
