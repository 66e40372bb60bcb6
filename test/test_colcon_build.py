"""The robot-user path: `colcon build` of this repository in a ROS 2 workspace.

Builds with the pip-installed ROS 2 wheels as the underlay (what a fresh machine here has) and
checks the install space holds what `ros2 launch`/`ros2 run` look up.
"""
import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_colcon_build_installs_messages_nodes_and_share(tmp_path):
    colcon = Path(sys.executable).parent / 'colcon'
    if not colcon.exists():
        pytest.skip('colcon is not installed (scripts/setup.sh --dev installs it)')
    src = tmp_path / 'src' / 'hmr_ros'
    src.parent.mkdir()
    # Only what the build reads (the repo's .venv and build folders stay out of the copy).
    ignore = shutil.ignore_patterns('.venv', 'build', 'install', 'log', '__pycache__', '.git',
                                    'out', '*.egg-info')
    shutil.copytree(REPO, src, ignore=ignore)
    env = dict(os.environ, AMENT_PREFIX_PATH=sys.prefix, CMAKE_PREFIX_PATH=sys.prefix,
               PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}')
    result = subprocess.run(
        [str(colcon), 'build', '--event-handlers', 'console_cohesion+', '--cmake-args',
         f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    # Only hmr_ros: the vendored interfaces/ are not workspace packages (colcon does not look
    # below a package), so a distribution's tf2_msgs / hri_msgs are the ones used.
    assert sorted(p.name for p in (tmp_path / 'install').iterdir() if p.is_dir()) == ['hmr_ros']
    prefix = tmp_path / 'install' / 'hmr_ros'
    for exe in ('camera_source', 'hmr_node', 'bag_play', 'humans', 'static_transform'):
        assert os.access(prefix / 'lib' / 'hmr_ros' / exe, os.X_OK)
    share = prefix / 'share' / 'hmr_ros'
    for rel in ('launch/live.launch.py', 'launch/replay.launch.py', 'launch/robot.launch.py',
                'config/hmr.yaml', 'msg/NearestPerson.msg',
                'media/sample_sports2d.mp4', 'msg/SMPLPerson.msg', 'package.xml'):
        assert (share / rel).is_file(), rel
    site = prefix / 'lib' / f'python{sys.version_info.major}.{sys.version_info.minor}' / \
        'site-packages'
    check = subprocess.run(
        [sys.executable, '-c', 'import hmr_ros.msg, hmr_ros.camera_source, hmr_models, sys; '
         'print(hmr_ros.camera_source.__file__)'],
        cwd=tmp_path, env=dict(env, PYTHONPATH=str(site),
                               AMENT_PREFIX_PATH=f'{prefix}{os.pathsep}{sys.prefix}'),
        capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().startswith(str(site))
