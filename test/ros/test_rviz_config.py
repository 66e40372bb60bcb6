"""config/hmr.rviz shows hmr_node's outputs; loaded by RViz where rviz2 is installed."""
import os
from pathlib import Path
import shutil
import subprocess
import time

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'config' / 'hmr.rviz'


def displays():
    config = yaml.safe_load(CONFIG.read_text())
    return config['Visualization Manager']['Displays']


def test_rviz_config_shows_meshes_images_and_tf():
    shown = {(d['Class'], d.get('Topic', {}).get('Value')) for d in displays() if d['Enabled']}
    assert ('rviz_default_plugins/MarkerArray', '/hmr_node/markers') in shown
    assert ('rviz_default_plugins/Image', '/hmr_node/overlay') in shown
    assert ('rviz_default_plugins/Image', '/hmr_node/debug_image') in shown
    assert ('rviz_default_plugins/TF', None) in shown
    config = yaml.safe_load(CONFIG.read_text())
    # The frame of hmr_node's messages (camera_source's default frame_id).
    assert config['Visualization Manager']['Global Options']['Fixed Frame'] == \
        'camera_optical_frame'


@pytest.mark.skipif(shutil.which('rviz2') is None,
                    reason='rviz2 is not installed (a ROS 2 desktop installation has it)')
def test_rviz_loads_the_config(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get('QT_QPA_PLATFORM', 'offscreen'))
    proc = subprocess.Popen(['rviz2', '-d', str(CONFIG)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    try:
        time.sleep(15)      # RViz has no readiness signal: it must still run after loading
        assert proc.poll() is None, proc.stdout.read().decode(errors='replace')
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode(errors='replace')
    assert 'Failed to load' not in out and 'Could not load' not in out, out
