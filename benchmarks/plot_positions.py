"""Where people are, per variant: position errors from eval_real.py and SynthOcc CSVs as a PNG.

    python benchmarks/plot_positions.py --real out/s39/real_floor6.csv \
        --synthocc out/s39/cls_floor.csv --out docs/results/floor_positions.png

Left: eval_real.py's mean hip position error (mm, camera frame, all-view reference) per clip,
person and stream, one bar per variant. Right: eval_synthocc_sequences.py's POS-ERR (pelvis
position error, mm) per motion class (a --by-class CSV) or per method, one bar per variant.
Variants are the CSVs' own (`--variant` / `--refine` names).
"""
import argparse
import csv
from pathlib import Path
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

POSITION = 'hip position error mm'


def real_groups(path):
    """{variant: {label: error}} of the all-view reference's clip/person/stream rows."""
    out = {}
    with open(path, newline='') as f:
        for r in csv.DictReader(f):
            if r.get('table') != '3d' or r.get('reference') != 'all views' \
                    or not r.get(POSITION):
                continue
            group = r['group']
            if group != 'all' and not group.startswith('person'):
                continue
            clip = r['clip'].replace('pose2sim_', '')
            label = f"{clip} {group if group != 'all' else 'all'}\n{r['stream']}"
            out.setdefault(r['variant'], {})[label] = float(r[POSITION])
    return out


def synthocc_groups(path):
    """{variant: {label: POS-ERR}}: per class ('name: stream [class]') or per method."""
    out = {}
    with open(path, newline='') as f:
        for r in csv.DictReader(f):
            if r.get('frames') != 'all' or not r.get('POS-ERR'):
                continue
            variant, _, rest = r['method'].partition(': ')
            stream, _, cls = rest.partition(' [')
            label = f"{cls.rstrip(']') or 'all'}\n{stream}"
            out.setdefault(variant, {})[label] = float(r['POS-ERR'])
    return out


def bars(ax, groups, title):
    variants = list(groups)
    labels = list(dict.fromkeys(k for g in groups.values() for k in g))
    width = 0.8 / max(len(variants), 1)
    x = np.arange(len(labels))
    for i, v in enumerate(variants):
        ax.bar(x + (i - (len(variants) - 1) / 2) * width,
               [groups[v].get(k, np.nan) for k in labels], width, label=v)
    ax.set_xticks(x, labels, fontsize=7, rotation=60, ha='right')
    ax.set_ylabel('position error (mm)')
    ax.set_title(title, fontsize=10)
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=8)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--real', type=Path, help="eval_real.py --csv output")
    p.add_argument('--synthocc', type=Path, help='eval_synthocc_sequences.py --csv output')
    p.add_argument('--out', type=Path, default=Path('out/positions.png'))
    args = p.parse_args(argv)
    panels = []
    if args.real:
        panels.append((real_groups(args.real), f'real footage: hip position error\n'
                       f'({args.real.name})'))
    if args.synthocc:
        panels.append((synthocc_groups(args.synthocc), f'SynthOcc: pelvis position error\n'
                       f'({args.synthocc.name})'))
    panels = [(g, t) for g, t in panels if g]
    if not panels:
        p.error('no position rows in the given CSVs (--real and/or --synthocc)')
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.8), squeeze=False)
    for ax, (groups, title) in zip(axes[0], panels):
        bars(ax, groups, title)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
