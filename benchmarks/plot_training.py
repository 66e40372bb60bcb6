"""Loss curves of training runs (the trainer's train_log.csv / epochs.csv) as one PNG per run.

    python benchmarks/plot_training.py runs/vqvae_compact runs/dpmesh_compact_teacher \
        runs/dpmesh_compact_student runs/diffmesh_compact --out out/training

Per run: the total training loss per logged step (and a moving median), the validation loss per
epoch, and the validation metrics the run reports (MPJPE / PA-MPJPE in mm, angle error...).
"""
import argparse
import csv
from pathlib import Path
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_csv(path):
    if not path.is_file():
        return {}
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    cols = {}
    for r in rows:
        for k, v in r.items():
            try:
                cols.setdefault(k, []).append(float(v))
            except (TypeError, ValueError):
                cols.setdefault(k, []).append(np.nan)
    return {k: np.asarray(v) for k, v in cols.items()}


def moving_median(x, k=15):
    if len(x) < k:
        return x
    pad = np.pad(x, (k // 2, k - 1 - k // 2), mode='edge')
    return np.median(np.lib.stride_tricks.sliding_window_view(pad, k), axis=1)


def plot_run(run, out_dir):
    steps, epochs = read_csv(run / 'train_log.csv'), read_csv(run / 'epochs.csv')
    if not steps and not epochs:
        print(f'{run}: no train_log.csv / epochs.csv, skipped', file=sys.stderr)
        return None
    metrics = [k for k in epochs if k.startswith('val_') and k != 'val_loss'
               and any(m in k for m in ('mpjpe', 'angle', '_mm', 'acc_err'))]
    fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(11 if metrics else 6, 4),
                             squeeze=False)
    ax = axes[0, 0]
    if steps:
        ax.plot(steps['step'], steps['loss'], color='0.75', lw=0.8, label='train (logged steps)')
        ax.plot(steps['step'], moving_median(steps['loss']), color='C0', label='train, median')
    if 'val_loss' in epochs:
        ax.plot(epochs['step'], epochs['val_loss'], 'o-', color='C3', label='validation')
    ax.set_xlabel('step')
    ax.set_ylabel('loss')
    ax.set_yscale('log')
    ax.set_title(run.name)
    ax.legend()
    if metrics:
        ax = axes[0, 1]
        for k in metrics:
            ax.plot(epochs['step'], epochs[k], 'o-', label=k[4:])
        ax.set_xlabel('step')
        ax.set_title('validation metrics')
        ax.legend()
    fig.tight_layout()
    out = out_dir / f'{run.name}_loss.png'
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('runs', nargs='+', type=Path)
    p.add_argument('--out', type=Path, default=Path('out/training'))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        out = plot_run(run, args.out)
        if out:
            print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
