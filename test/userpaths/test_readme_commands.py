"""Every shell command in the README (and docs/) must match the command line it calls.

The commands are taken from the fenced code blocks as a user would copy them. Each is checked
without doing its work: launch arguments against the launch file's declared arguments (and
their choices), hmr-bag against its own parser, every other entry point's --options against its
--help. A README command can then no longer drift from the CLI (`hmr-bag record out_bag ...`
once failed for a missing -o).
"""
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ros.conftest import ros2_command

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
VENV_BIN = '.venv/bin/'
SEPARATORS = re.compile(r'&&|\|\||;|(?<![<>])&(?!&)|\|')


def code_blocks(text):
    """The contents of fenced code blocks (any language)."""
    return re.findall(r'^```[^\n]*\n(.*?)^```', text, flags=re.M | re.S)


def logical_lines(block):
    """Lines with backslash continuations joined and comments removed."""
    joined = re.sub(r'\\\n\s*', ' ', block)
    for line in joined.splitlines():
        line = re.sub(r'(^|\s)#.*$', '', line).strip()
        if line:
            yield line


def commands(block):
    """(program, args) of each project command in a block, with shell variables expanded."""
    variables = {}
    for line in logical_lines(block):
        assignment = re.fullmatch(r'([A-Za-z_]\w*)=(.*)', line)
        if assignment:
            value = expand(assignment.group(2), variables)
            variables[assignment.group(1)] = ' '.join(shlex.split(value)) if value else ''
            continue
        for part in SEPARATORS.split(line):
            part = re.sub(r'^\s*(for .*?;\s*)?(do|then|else)\s+', '', part).strip()
            if part.startswith(('for ', 'done', 'wait', 'mkdir', 'cp ', 'set ', 'prev=')):
                continue
            if part.startswith((VENV_BIN, './scripts/')):
                tokens = shlex.split(expand(part, variables))
                yield tokens[0], tokens[1:]


def expand(text, variables):
    return re.sub(r'\$\{?([A-Za-z_]\w*)\}?', lambda m: variables.get(m.group(1), 'X'), text)


def all_commands():
    found = []
    for doc in DOCS:
        for block in code_blocks(doc.read_text()):
            for program, args in commands(block):
                found.append((doc.name, program, args))
    return found


COMMANDS = all_commands()


def test_the_two_commands_are_in_the_readme():
    readme = [(p, a) for d, p, a in COMMANDS if d == 'README.md']
    assert ('./scripts/setup.sh', []) in readme
    assert (VENV_BIN + 'ros2', ['launch', 'hmr_ros', 'live.launch.py']) in readme
    assert ('./scripts/setup.sh', ['--dev']) in readme
    assert (VENV_BIN + 'python', ['-m', 'pytest']) in readme


def help_command(program, args):
    """The --help call that documents `program args` (None: checked another way)."""
    name = Path(program).name
    if name in ('ros2', 'hmr-bag') or (name == 'python' and args[:2] == ['-m', 'pytest']):
        return None
    if name == 'setup.sh':
        return ('bash', 'scripts/setup.sh')
    if name == 'python':
        return (sys.executable, *(args[:2] if args[0] == '-m' else args[:1]))
    executable = REPO / program if program.startswith('./') else \
        Path(sys.executable).with_name(name)
    return (str(executable),) if executable.exists() else None


def _run_help(program):
    out = subprocess.run([*program, '--help'], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    return out.returncode, out.stdout + out.stderr


@lru_cache(maxsize=None)
def all_help_texts():
    """Every --help the documented commands need, run side by side (each spends seconds
    importing torch and friends; one after the other they took minutes)."""
    wanted = {help_command(p, a) for _, p, a in COMMANDS} - {None}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(wanted, pool.map(_run_help, wanted)))


def help_text(*program):
    code, text = all_help_texts().get(program) or _run_help(program)
    assert code == 0, f'{program} --help failed:\n{text}'
    return text


@lru_cache(maxsize=None)
def launch_arguments(launch_file):
    """{name: choices or None} of a launch file, from `ros2 launch hmr_ros FILE --show-args`."""
    out = subprocess.run([*ros2_command(), 'launch', 'hmr_ros', launch_file, '--show-args'],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    declared = {}
    for block in re.split(r"\n    '", '\n' + out.stdout)[1:]:
        name = block.split("'", 1)[0]
        choices = re.search(r'Valid choices are: \[(.*?)\]', block)
        declared[name] = None if choices is None else re.findall(r"'([^']*)'", choices.group(1))
    return declared


def check_options(args, text, where):
    for arg in args:
        if arg.startswith('--'):
            option = arg.split('=', 1)[0]
            assert re.search(rf'(^|[\s,\[]){re.escape(option)}\b', text), \
                f'{where}: option {option} is not in the command\'s --help'


@pytest.mark.parametrize('doc, program, args', COMMANDS,
                         ids=[f'{d}:{Path(p).name} {" ".join(a)[:60]}' for d, p, a in COMMANDS])
def test_command_matches_its_command_line(doc, program, args):
    where = f'{doc}: {program} {" ".join(args)}'
    name = Path(program).name
    if name == 'ros2':
        assert args[:2] == ['launch', 'hmr_ros'], f'{where}: only ros2 launch hmr_ros is used'
        declared = launch_arguments(args[2])
        for arg in args[3:]:
            key, _, value = arg.partition(':=')
            assert key in declared, f'{where}: {args[2]} declares no argument {key!r}'
            if declared[key] is not None:
                assert value in declared[key], f'{where}: {key}:={value} not in {declared[key]}'
    elif name == 'hmr-bag':
        from hmr_ros.bag_tool import build_parser
        try:
            build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f'{where}: hmr-bag rejects these arguments')
    elif name == 'python' and args[:2] == ['-m', 'pytest']:
        return  # the test command itself: running now
    else:
        command = help_command(program, args)
        assert command is not None, f'{where}: {program} is not installed'
        check_options(args, help_text(*command), where)
