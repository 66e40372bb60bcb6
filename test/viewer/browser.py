"""Headless Debian chromium driven by playwright, and pixel checks of the viewer's 3D canvas.

The tests skip, saying why, where chromium or playwright is absent (CI installs both: .ci/run
and requirements-dev.txt). Playwright never downloads a browser here: it drives
/usr/bin/chromium. WebGL runs in software (SwiftShader).
"""
from contextlib import contextmanager
import shutil
import socket
import time

import cv2
import numpy as np
import pytest

from hmr_ros.viewer_scene import color_u8

CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader',
                 '--enable-unsafe-swiftshader', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync']
# Everything but the WebGL canvas hidden: the control panel, logos and notifications have
# colours of their own (the checkboxes are blue) that must not count as mesh pixels.
CANVAS_ONLY_CSS = 'body * { visibility: hidden !important; } canvas { visibility: visible ' \
                  '!important; }'


def chromium_path():
    path = shutil.which('chromium') or shutil.which('chromium-browser')
    if path is None:
        pytest.skip('Debian chromium is not installed (apt-get install chromium; .ci/run '
                    'installs it)')
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip('playwright is not installed (requirements-dev.txt)')
    return path


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_is_free(port):
    """Nothing listens on `port` and a new server can bind it.

    SO_REUSEADDR as servers use it (asyncio's included): connections the stopped server
    closed may linger in TIME_WAIT, which does not keep a new server from the port.
    """
    with socket.socket() as s:
        if s.connect_ex(('127.0.0.1', port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return False
        return True


@contextmanager
def browser():
    """A headless chromium (playwright Browser), closed at the end."""
    from playwright.sync_api import sync_playwright
    path = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_viewer(b, url, timeout=120.0):
    """A page showing the viewer at `url`, its canvas attached."""
    page = b.new_page(viewport={'width': 1280, 'height': 720})
    page.goto(url, timeout=timeout * 1e3)
    page.wait_for_selector('canvas', timeout=timeout * 1e3)
    return page


def canvas_screenshot(page):
    """BGR screenshot with only the WebGL canvas visible."""
    style = page.add_style_tag(content=CANVAS_ONLY_CSS)
    try:
        png = page.screenshot()
    finally:
        style.evaluate('e => e.remove()')
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def mesh_pixels(image_bgr, track_ids):
    """Pixels shaded in a track's colour (hue within 12 degrees, moderate saturation)."""
    hsv = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV).astype(np.int32)
    count = 0
    for track_id in set(track_ids):
        r, g, b = color_u8(track_id)
        hue = int(cv2.cvtColor(np.uint8([[[b, g, r]]]), cv2.COLOR_BGR2HSV)[0, 0, 0])
        dh = np.abs(hsv[..., 0] - hue)
        dh = np.minimum(dh, 180 - dh)
        count += int(((dh <= 6) & (hsv[..., 1] >= 70) & (hsv[..., 1] <= 235)
                      & (hsv[..., 2] >= 60)).sum())
    return count


def wait_for_pixels(page, track_ids, minimum, timeout, at_most=None):
    """Poll canvas screenshots until mesh pixels reach `minimum` (or drop to `at_most`)."""
    deadline = time.monotonic() + timeout
    while True:
        image = canvas_screenshot(page)
        n = mesh_pixels(image, track_ids)
        done = n <= at_most if at_most is not None else n >= minimum
        if done or time.monotonic() > deadline:
            return n, image
        time.sleep(1.0)
