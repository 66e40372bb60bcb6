"""hmr_ros's pip-only `ros2 launch` / `ros2 run`: arguments, parameters, conditions, events."""
import json
import os
import sys
import textwrap

import pytest

from ros.conftest import ros2_command

ECHO = textwrap.dedent('''\
    #!/usr/bin/env python3
    """Prints its command line and the parameter files it was given, as JSON."""
    import json, sys, time, yaml
    args = sys.argv[1:]
    files = [args[i + 1] for i, a in enumerate(args) if a == '--params-file']
    params = [yaml.safe_load(open(f)) for f in files]
    print('ECHO ' + json.dumps({'args': args, 'params': params}), flush=True)
    if '--fail' in args:
        sys.exit(3)
    if '--wait' in args:
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            print('ECHO interrupted', flush=True)
    ''')

LAUNCH = textwrap.dedent('''\
    from launch import LaunchDescription
    from launch.actions import (DeclareLaunchArgument, EmitEvent, LogInfo,
                                RegisterEventHandler)
    from launch.conditions import IfCondition, UnlessCondition
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown
    from launch.substitutions import LaunchConfiguration, PythonExpression
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue


    def generate_launch_description():
        first = Node(package='fakepkg', executable='echo', name='first', namespace='ns',
                     arguments=[LaunchConfiguration('mode')],
                     parameters=[{'flag': LaunchConfiguration('flag'),
                                  'gain': ParameterValue(LaunchConfiguration('gain'),
                                                         value_type=float),
                                  'text': ParameterValue(LaunchConfiguration('text'),
                                                         value_type=str),
                                  'nested': {'size': 3}}],
                     remappings=[('in', '/out')])
        second = Node(package='fakepkg', executable='echo', name='second',
                      condition=IfCondition(LaunchConfiguration('flag')))
        return LaunchDescription([
            DeclareLaunchArgument('mode', description='required'),
            DeclareLaunchArgument('flag', default_value='false', choices=['true', 'false']),
            DeclareLaunchArgument('gain', default_value='2'),
            DeclareLaunchArgument('text', default_value=''),
            LogInfo(msg=PythonExpression(["'mode is ' + '", LaunchConfiguration('mode'), "'"])),
            first, second,
            Node(package='fakepkg', executable='missing_exe',
                 condition=UnlessCondition(LaunchConfiguration('flag'))),
            RegisterEventHandler(OnProcessExit(target_action=first, on_exit=[
                EmitEvent(event=Shutdown(reason='first exited'))])),
        ])
    ''')


@pytest.fixture
def fake_prefix(tmp_path):
    exe = tmp_path / 'prefix' / 'lib' / 'fakepkg' / 'echo'
    exe.parent.mkdir(parents=True)
    exe.write_text(ECHO)
    exe.chmod(0o755)
    share = tmp_path / 'prefix' / 'share'
    (share / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (share / 'ament_index' / 'resource_index' / 'packages' / 'fakepkg').write_text('')
    (share / 'fakepkg' / 'launch').mkdir(parents=True)
    (share / 'fakepkg' / 'launch' / 'test.launch.py').write_text(LAUNCH)
    env = dict(os.environ)
    env['AMENT_PREFIX_PATH'] = str(tmp_path / 'prefix') + os.pathsep + sys.prefix
    return env


def echoes(text):
    return [json.loads(line.split('ECHO ', 1)[1]) for line in text.splitlines()
            if 'ECHO {' in line]


def test_arguments_parameters_conditions_and_missing_executables(spawn, fake_prefix):
    proc = spawn(*ros2_command(), 'launch', 'fakepkg', 'test.launch.py', 'mode:=fast',
                 'gain:=0.5', env=fake_prefix)
    assert proc.wait(60) == 0, proc.text
    out = echoes(proc.text)
    assert len(out) == 1, proc.text  # 'second' is skipped by its condition
    args, params = out[0]['args'], out[0]['params'][0]['/**']['ros__parameters']
    assert args[0] == 'fast' and '-r' in args and '__node:=first' in args
    assert '__ns:=/ns' in args and 'in:=/out' in args
    assert params == {'flag': False, 'gain': 0.5, 'text': '', 'nested': {'size': 3}}
    assert 'mode is fast' in proc.text
    assert "executable 'missing_exe' of package 'fakepkg' not found" in proc.text
    assert 'shutting down: first exited' in proc.text


def test_condition_true_starts_both(spawn, fake_prefix):
    proc = spawn(*ros2_command(), 'launch', 'fakepkg', 'test.launch.py', 'mode:=x', 'flag:=true',
                 env=fake_prefix)
    assert proc.wait(60) == 0, proc.text
    assert len(echoes(proc.text)) == 2


@pytest.mark.parametrize('args, message', [
    ([], "required launch argument 'mode' not given"),
    (['mode:=x', 'flag:=maybe'], "'flag' = 'maybe' is not one of"),
    (['mode'], "malformed launch argument 'mode'"),
])
def test_argument_errors(spawn, fake_prefix, args, message):
    proc = spawn(*ros2_command(), 'launch', 'fakepkg', 'test.launch.py', *args, env=fake_prefix)
    assert proc.wait(60) != 0
    assert message in proc.text, proc.text


def test_failing_process_makes_a_nonzero_exit(spawn, fake_prefix):
    proc = spawn(*ros2_command(), 'launch', 'fakepkg', 'test.launch.py', 'mode:=--fail',
                 env=fake_prefix)
    assert proc.wait(60) == 1
    assert 'process has died' in proc.text and 'exit code 3' in proc.text


def test_ctrl_c_reaches_the_processes_and_exits_zero(spawn, fake_prefix):
    proc = spawn(*ros2_command(), 'launch', 'fakepkg', 'test.launch.py', 'mode:=--wait',
                 env=fake_prefix)
    assert proc.says('ECHO {', timeout=30), proc.text
    assert proc.interrupt(30) == 0, proc.text
    assert 'ECHO interrupted' in proc.text


def test_show_args_and_run(spawn, fake_prefix):
    proc = spawn(*ros2_command(), 'launch', 'fakepkg', 'test.launch.py', '--show-args',
                 env=fake_prefix)
    assert proc.wait(30) == 0
    assert "'flag'" in proc.text and "Valid choices are: ['true', 'false']" in proc.text
    run = spawn(*ros2_command(), 'run', 'fakepkg', 'echo', 'a', 'b', env=fake_prefix)
    assert run.wait(30) == 0
    assert echoes(run.text)[0]['args'] == ['a', 'b']
    bad = spawn(*ros2_command(), 'run', 'fakepkg', 'nope', env=fake_prefix)
    assert bad.wait(30) == 1 and "no executable 'nope'" in bad.text
