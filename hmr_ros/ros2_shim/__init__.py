"""`ros2 launch` and `ros2 run` for pip-only installs, where ROS 2's launch and ros2cli are absent.

scripts/setup.sh installs this as the venv's `ros2` command only when the real launch cannot be
imported. Same command lines as the real tools:

    ros2 launch hmr_ros live.launch.py source:=/dev/video0 rviz:=false
    ros2 launch path/to/file.launch.py key:=value
    ros2 launch hmr_ros live.launch.py --show-args
    ros2 run hmr_ros camera_source --ros-args -p source:=video.mp4
"""
import argparse
import os
from pathlib import Path
import sys


def _ensure_ament_prefix():
    # Without a sourced ROS environment, the venv is the only ament prefix: make it visible to
    # the ament index here and in every process we start.
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    if sys.prefix not in prefixes:
        os.environ['AMENT_PREFIX_PATH'] = os.pathsep.join(prefixes + [sys.prefix])


def _find_launch_file(package, name):
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        share = Path(get_package_share_directory(package))
    except PackageNotFoundError:
        raise SystemExit(f"ros2 launch: package '{package}' not found") from None
    matches = sorted(share.rglob(name))
    if not matches:
        raise SystemExit(f"ros2 launch: file '{name}' was not found in the share directory of "
                         f"package '{package}' ({share})")
    return matches[0]


def _parse_launch_arguments(tokens):
    args = {}
    for tok in tokens:
        if ':=' not in tok:
            raise SystemExit(f"ros2 launch: malformed launch argument '{tok}', expected "
                             "'<name>:=<value>'")
        key, value = tok.split(':=', 1)
        args[key] = value
    return args


def _show_args(description):
    from launch.some_substitutions_type import Substitution
    print('Arguments (pass arguments as \'<name>:=<value>\'):\n')
    for arg in description.get_launch_arguments():
        print(f"    '{arg.name}':\n        {arg.description}")
        if arg.choices:
            print(f"        Valid choices are: {list(arg.choices)}")
        if arg.default_value is None:
            print('        (required)\n')
        else:
            default = arg.default_value
            shown = default if isinstance(default, str) else (
                '<substitution>' if isinstance(default, Substitution) else repr(default))
            print(f"        (default: '{shown}')\n")


def launch_main(argv):
    from hmr_ros.ros2_shim.runner import LaunchError, LaunchRunner, load_launch_description
    parser = argparse.ArgumentParser(prog='ros2 launch', description='Run a launch file')
    parser.add_argument('package_name', help='package name, or the path of a launch file')
    parser.add_argument('launch_arguments', nargs='*', help="file name, then '<name>:=<value>'")
    parser.add_argument('-s', '--show-args', '--show-arguments', action='store_true',
                        help='show the arguments of the launch file and exit')
    ns = parser.parse_args(argv)
    rest = list(ns.launch_arguments)
    if Path(ns.package_name).is_file():
        path = Path(ns.package_name)
    else:
        if not rest or ':=' in rest[0]:
            raise SystemExit(f"ros2 launch: '{ns.package_name}' is not a file; give a package "
                             'name and a launch file name')
        path = _find_launch_file(ns.package_name, rest.pop(0))
    launch_args = _parse_launch_arguments(rest)
    try:
        description = load_launch_description(str(path))
        if ns.show_args:
            _show_args(description)
            return 0
        return LaunchRunner(description, launch_args).run()
    except LaunchError as exc:
        print(f'[ERROR] [launch]: {exc}', file=sys.stderr)
        return 1


def run_main(argv):
    from hmr_ros.ros2_shim.runner import command_for, find_executable
    if len(argv) < 2 or argv[0] in ('-h', '--help'):
        print('usage: ros2 run <package> <executable> [arguments ...]')
        return 0 if argv and argv[0] in ('-h', '--help') else 2
    package, executable, args = argv[0], argv[1], argv[2:]
    path = find_executable(package, executable)
    if path is None:
        print(f"ros2 run: no executable '{executable}' found in package '{package}'",
              file=sys.stderr)
        return 1
    cmd = command_for(path) + args
    os.execv(cmd[0], cmd)  # replaces this process: signals and exit code are the node's own


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    _ensure_ament_prefix()
    commands = {'launch': launch_main, 'run': run_main}
    if not argv or argv[0] not in commands:
        print('usage: ros2 {launch,run} ...\n\n'
              "hmr_ros's minimal ros2 for pip-only installs (no ROS 2 launch found here):\n"
              '  launch   run a launch file\n  run      run an executable of a package')
        return 0 if argv and argv[0] in ('-h', '--help') else 2
    return commands[argv[0]](argv[1:])
