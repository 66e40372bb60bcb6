"""The keypoint lifter alone on validation scenes of chosen camera tilts (no image, no refinement).

    .venv/bin/hmr-synth --out data/synth/pitch/val_18-25 --split val --scenes 100 --samples \
        --sample-every 3 --seed 23 --corpus $C --motion-classes training --detector movenet \
        --camera-pitch 18,25
    python benchmarks/eval_lifter.py --samples data/synth/pitch/val_18-25/samples \
        [--lifter bundled | runs/lifter_pitch10/final] [--tilt-up 15] [--threads 2]

Prints MPJPE / PA-MPJPE (mm, 24 joints) per samples folder, over everyone and over the people
whose whole body is in the frame. `--tilt-up D` also lifts every view as a camera at the same
place tilted D degrees further up would see it (hmr_models.eval.lifter.rotate_view): what
knowing and undoing the camera's tilt would buy. The bundled lifter has flip test on, as the
pipeline runs it.
"""
import argparse
from pathlib import Path
import sys
import tempfile

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hmr_models.eval.lifter import evaluate_lifter  # noqa: E402


def load(spec):
    """A train_lifter folder, or 'bundled': the shipped DPMesh's lifter."""
    from hmr_models.train.train_lifter import load_lifter
    if spec != 'bundled':
        return load_lifter(spec)
    from hmr_models.paths import ASSETS_DIR
    from hmr_models.train.export_defaults import extract_lifter
    with tempfile.TemporaryDirectory() as tmp:
        return load_lifter(extract_lifter(ASSETS_DIR / 'weights' / 'dpmesh_compact',
                                          Path(tmp) / 'lifter'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--samples', nargs='+', required=True, help='hmr-synth samples folders')
    p.add_argument('--lifter', default='bundled', help="a train_lifter folder or 'bundled'")
    p.add_argument('--tilt-up', type=float, default=0.0,
                   help='also lift the views turned this many degrees up')
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    lifter = load(args.lifter).eval()
    lifter.config.flip_test = True                     # as the pipeline runs it
    tilts = [0.0] + ([-args.tilt_up] if args.tilt_up else [])
    print('samples  view  people  MPJPE  PA-MPJPE  |  whole body: people  MPJPE  PA-MPJPE')
    for folder in args.samples:
        for tilt in tilts:
            r = evaluate_lifter(lifter, [folder], tilt_degrees=tilt)
            view = 'as filmed' if not tilt else f'{-tilt:+.0f} deg up'
            print(f"{folder}  {view}  {r['people']}  {r['MPJPE']:.1f}  {r['PA-MPJPE']:.1f}  |  "
                  f"{r['whole body people']}  {r.get('whole body MPJPE', float('nan')):.1f}  "
                  f"{r.get('whole body PA-MPJPE', float('nan')):.1f}", flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
