"""Linters as tests, as ROS 2 packages do (ament_flake8, ament_pep257, package.xml check)."""
from pathlib import Path
import subprocess
import sys

REPO = Path(__file__).resolve().parent.parent
CODE = ['hmr_ros', 'hmr_models', 'launch', 'test', 'benchmarks', 'scripts', 'examples',
        'setup.py']
# PEP 257 convention (as ament_pep257): docstrings where present must be well formed, without
# requiring one on every module/class/function; D401/D403 (imperative mood, capitalised first
# word) would reject summaries that start with a type name such as 'CameraInfo from ...'.
PEP257_ARGS = ['--convention=pep257',
               '--add-ignore=D100,D101,D102,D103,D104,D105,D106,D107,D401,D403']


def run(*cmd):
    return subprocess.run([sys.executable, '-m', *cmd], cwd=REPO, capture_output=True,
                          text=True)


def test_flake8():
    paths = [p for p in CODE if (REPO / p).exists()]
    result = run('flake8', '--max-line-length', '100', *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pep257():
    paths = [p for p in CODE if (REPO / p).exists()]
    result = run('pydocstyle', *PEP257_ARGS, *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_xml_is_valid_format_3():
    from catkin_pkg.package import parse_package
    pkg = parse_package(str(REPO / 'package.xml'))
    assert pkg.name == 'hmr_ros' and pkg.package_format == 3
    assert pkg.get_build_type() == 'ament_cmake'
    depends = {d.name for d in pkg.exec_depends + pkg.build_depends}
    for needed in ('rclpy', 'sensor_msgs', 'visualization_msgs', 'diagnostic_msgs'):
        assert needed in depends
