"""YAML run configs for the training entry points: read, override from the command line."""
import argparse
import copy
import logging
from pathlib import Path

import yaml


def load_run_config(path):
    """The dict of a YAML run config; FileNotFoundError / ValueError name the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f'training config not found: {p}')
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f'{p}: a training config must be a YAML mapping')
    return data


def apply_overrides(config, assignments):
    """Apply `section.key=value` strings (values parsed as YAML) to a nested dict copy."""
    out = copy.deepcopy(config)
    for item in assignments or ():
        if '=' not in item:
            raise ValueError(f"override '{item}' must look like section.key=value")
        dotted, raw = item.split('=', 1)
        keys = dotted.strip().split('.')
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ValueError(f"override '{item}': '{k}' is not a section")
        node[keys[-1]] = yaml.safe_load(raw)
    return out


def add_common_arguments(parser):
    parser.add_argument('--config', required=True, help='YAML run config')
    parser.add_argument('--out-dir', help='output folder (overrides train.out_dir)')
    parser.add_argument('--set', action='append', default=[], metavar='SECTION.KEY=VALUE',
                        help='override a config value (repeatable), e.g. --set train.epochs=2')
    return parser


def staged_main(run, description, stages, argv=None):
    """Command line of an entry point with stages (teacher -> student); returns the exit code.

    --stage, --config, --out-dir, --set; calls run(config, stage, out_dir).
    """
    parser = add_common_arguments(argparse.ArgumentParser(description=description))
    parser.add_argument('--stage', choices=stages, help='overrides the config stage')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    run(apply_overrides(load_run_config(args.config), args.set), args.stage, args.out_dir)
    return 0
