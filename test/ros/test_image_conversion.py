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
    shapes = {'mono8': (8, 12), '8UC1': (8, 12), 'mono16': (8, 12), '16UC1': (8, 12),
              'rgba8': (8, 12, 4), 'bgra8': (8, 12, 4)}
    for enc in SUPPORTED_ENCODINGS:
        shape = shapes.get(enc, (8, 12, 2) if 'yu' in enc or 'uyvy' in enc else
                           (8, 12) if 'bayer' in enc else (8, 12, 3))
        dtype = np.uint16 if '16' in enc else np.uint8
        out = image_to_rgb(make(enc, np.ones(shape, dtype)))
        assert out.shape == (8, 12, 3) and out.dtype == np.uint8, enc


COLOR = np.array([10, 120, 240], np.uint8)      # far from grey: a swapped R and B shows


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
def test_bayer_mosaics_demosaic_to_their_colour(pattern):
    """A plain colour through each Bayer pattern (named by its first row, as ROS does)
    comes back that colour, not with red and blue swapped."""
    index = {'r': 0, 'g': 1, 'b': 2}
    cells = np.array([[COLOR[index[pattern[0]]], COLOR[index[pattern[1]]]],
                      [COLOR[index[pattern[2]]], COLOR[index[pattern[3]]]]], np.uint8)
    mosaic = np.tile(cells, (6, 8))
    out = image_to_rgb(make(f'bayer_{pattern}8', mosaic))
    assert out.shape == (12, 16, 3)
    assert np.abs(out[2:-2, 2:-2].astype(int) - COLOR).max() <= 1, out[5, 5]


@pytest.mark.parametrize('encoding, order', [('yuv422', 'uyvy'), ('uyvy', 'uyvy'),
                                             ('yuv422_yuy2', 'yuyv'), ('yuyv', 'yuyv')])
def test_yuv422_becomes_rgb(encoding, order):
    r, g, b = COLOR.astype(float)
    # BT.601 in video range (Y 16-235), as cameras send it and OpenCV decodes it
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    pair = np.array([u, y, v, y] if order == 'uyvy' else [y, u, y, v]).round().astype(np.uint8)
    packed = np.tile(pair, (4, 3)).reshape(4, 6, 2)   # 6 pixels a row, 2 bytes each
    out = image_to_rgb(make(encoding, packed))
    assert out.shape == (4, 6, 3)
    assert np.abs(out.astype(int) - COLOR).max() <= 3, out[0, 0]
    odd = make(encoding, packed[:, :5])
    with pytest.raises(ImageError, match='even width'):
        image_to_rgb(odd)


def test_16_bit_colour_keeps_its_top_bits():
    deep = RGB.astype(np.uint16) * 256 + 255
    assert np.array_equal(image_to_rgb(make('rgb16', deep)), RGB)
    big = make('bgr16', deep[..., ::-1].astype('>u2'), bigendian=True)
    assert np.array_equal(image_to_rgb(big), RGB)


@pytest.mark.parametrize('change, reason', [
    (dict(encoding='32FC1'), 'unsupported encoding'),
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
