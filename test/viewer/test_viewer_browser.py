"""The viewer node in a real browser: meshes drawn, publisher restarts, reconnects, shutdown.

A stand-in for hmr_node (fake_people.py, no models: fast) publishes two people; Debian's
chromium (headless, software WebGL) shows the page; the checks read mesh-coloured pixels of
the 3D canvas.
"""
from pathlib import Path
import sys
import urllib.request

from diagnostic_msgs.msg import DiagnosticArray
import pytest

from ros.conftest import wait_for
from viewer.browser import (
    browser, chromium_path, free_port, open_viewer, port_is_free, wait_for_pixels)

FAKE = str(Path(__file__).resolve().parent / 'fake_people.py')
MESH_PIXELS = 300     # two people 4 m away cover several thousand pixels at 1280x720


def viewer_stats(ros_node):
    """Latest values of the viewer's DiagnosticStatus (dict, updated in place)."""
    stats = {}

    def on_diag(msg):
        for status in msg.status:
            if status.name.startswith('viewer'):
                stats.update({kv.key: kv.value for kv in status.values})
    ros_node.create_subscription(DiagnosticArray, '/diagnostics', on_diag, 10)
    return stats


@pytest.mark.slow
def test_viewer_survives_publisher_restart_and_browser_reconnect(ros_node, spawn):
    chromium_path()
    port = free_port()
    stats = viewer_stats(ros_node)
    viewer = spawn(sys.executable, '-m', 'hmr_ros.viewer_node', '--ros-args',
                   '-p', f'viewer_port:={port}', '-p', 'stale_after:=1.0')
    assert viewer.says('web viewer ready', timeout=120), viewer.text
    url = f'http://127.0.0.1:{port}'
    assert url in viewer.text
    # The page and its client come from the installed package (no network here).
    page_html = urllib.request.urlopen(url, timeout=30).read()
    assert b'<html' in page_html.lower()
    fake = spawn(sys.executable, FAKE, '0')
    with browser() as b:
        page = open_viewer(b, url)
        n, _ = wait_for_pixels(page, [0, 1], MESH_PIXELS, timeout=120)
        assert n >= MESH_PIXELS, f'{n} mesh pixels\n{viewer.text}\n{fake.text}'
        assert wait_for(lambda: stats.get('clients') == '1', 30), stats

        # hmr_node stops: after stale_after nobody is shown, the viewer keeps serving.
        assert fake.interrupt() == 0, fake.text
        assert wait_for(lambda: stats.get('people_shown') == '0', 30), stats
        shown = n
        n, _ = wait_for_pixels(page, [0, 1], 0, timeout=60, at_most=shown // 10)
        assert n <= shown // 10, f'{n} of {shown} mesh pixels left after the publisher stopped'

        # ... and starts again (new track ids): the same page shows the new people.
        spawn(sys.executable, FAKE, '5')
        n, _ = wait_for_pixels(page, [5, 6], MESH_PIXELS, timeout=120)
        assert n >= MESH_PIXELS, f'{n} mesh pixels after the restart\n{viewer.text}'

        # A browser reconnecting (reload) gets the current scene again.
        page.reload()
        page.wait_for_selector('canvas', timeout=120e3)
        n, _ = wait_for_pixels(page, [5, 6], MESH_PIXELS, timeout=120)
        assert n >= MESH_PIXELS, f'{n} mesh pixels after reconnecting'
        page.close()
    # Ctrl-C: clean exit, and the port is free again.
    assert viewer.interrupt(timeout=60) == 0, viewer.text
    assert 'web viewer stopped' in viewer.text
    assert port_is_free(port)
