"""live.launch.py with the viewer on the bundled clip, seen in a real browser."""
import re

from rclpy.qos import QoSProfile, ReliabilityPolicy
import pytest

from hmr_ros.msg import SMPLPersonArray
from ros.conftest import ros2_command, wait_for
from viewer.browser import (
    browser, canvas_screenshot, chromium_path, free_port, mesh_pixels, open_viewer,
    port_is_free)

MESH_PIXELS = 150     # people of the clip are ~8 m away: a few hundred pixels each


@pytest.mark.slow
def test_live_launch_viewer_shows_the_clip_meshes_and_stops_with_the_launch(
        ros_node, spawn, tmp_path):
    chromium_path()
    port = free_port()
    smoothed = []
    ros_node.create_subscription(SMPLPersonArray, '/hmr_node/persons_smoothed', smoothed.append,
                                 QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'live.launch.py',
                   f'viewer_port:={port}')
    # The URL is printed once the page is served.
    assert launch.says('web viewer ready', timeout=180), launch.text
    url = re.search(r'web viewer ready: (http://\S+)', launch.text).group(1)
    assert url == f'http://127.0.0.1:{port}'
    assert wait_for(lambda: any(q.track_id >= 0 for m in smoothed[-5:] for q in m.persons),
                    240), launch.text

    def current_ids():
        return {q.track_id for m in smoothed[-10:] for q in m.persons if q.track_id >= 0}
    with browser() as b:
        page = open_viewer(b, url)
        # The camera image in the frustum has colours of its own: hide it for the count.
        page.get_by_label('image in the camera frustum').uncheck(timeout=60e3)
        best = 0
        for _ in range(90):
            image = canvas_screenshot(page)
            best = max(best, mesh_pixels(image, current_ids()))
            if best >= MESH_PIXELS:
                break
        page.screenshot(path=str(tmp_path / 'viewer.png'))
        assert best >= MESH_PIXELS, f'{best} mesh pixels of tracks {current_ids()} ' \
                                    f'(screenshot {tmp_path}/viewer.png)\n{launch.text}'
        page.close()
    assert launch.interrupt(timeout=60) == 0, launch.text
    assert 'web viewer stopped' in launch.text
    assert 'process has died' not in launch.text
    assert port_is_free(port)
