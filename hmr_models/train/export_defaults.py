"""Copy trained runs into the package as its bundled default weights (hmr_models/assets/weights).

    python -m hmr_models.train.export_defaults --dpmesh runs/dpmesh_compact_student/final \
        --diffmesh runs/diffmesh_compact/final
    python -m hmr_models.train.export_defaults --extract-lifter runs/lifter_bundled
    python -m hmr_models.train.export_defaults --lifter runs/lifter_more/final

`--extract-lifter` writes the bundled DPMesh's keypoint lifter as a train_lifter checkpoint
(to fine-tune it: `train_lifter --set init=...`); `--lifter` puts a trained lifter into a DPMesh
checkpoint (`--dpmesh`, default the bundled one) before the export, the rest unchanged.

DPMesh's floating-point tensors are stored in float16 (half the size; the model is loaded back
in float32, and the measured difference is printed); DiffMesh is copied as is (5 MB). Prints
the sizes against the 50 MB budget of the repository.
"""
import argparse
import logging
from pathlib import Path
import shutil
import sys

import torch

from hmr_models.paths import ASSETS_DIR

log = logging.getLogger(__name__)
BUDGET_MB = 50.0


def export_dpmesh(src, dst):
    """Write `src` (a DPMesh checkpoint) to `dst` with float16 weights; return the max error."""
    from hmr_models.checkpoints import read_config, read_meta, read_weights, save_checkpoint
    from hmr_models.dpmesh import DPMesh, load_config
    src, dst = Path(src), Path(dst)
    half = {k: v.half() if v.is_floating_point() else v for k, v in read_weights(src).items()}
    # The weights of the prior and the lifter travel inside the checkpoint: no training paths.
    cfg = load_config(read_config(src))
    cfg.pose_head.prior_weights = cfg.keypoint_lifter.weights = ''
    meta = {k: v for k, v in read_meta(src).items() if k not in ('format', 'version', 'tensors')}
    # exported again (a new lifter in the bundled DPMesh): the new source replaces the old one
    save_checkpoint(dst, cfg.to_dict(), half, 'dpmesh', **dict(meta, exported_from=str(src)))
    # How much float16 storage changes the outputs, on random inputs.
    full, exported = DPMesh.from_pretrained(src).eval(), DPMesh.from_pretrained(dst).eval()
    cfg = full.config
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, cfg.crop_size, cfg.crop_size, generator=g) * 2 - 1
    k = full.num_keypoints
    kp, ok = torch.rand(2, k, 2, generator=g), torch.ones(2, k, dtype=torch.bool)
    with torch.no_grad():
        a, b = full(images, kp, ok), exported(images, kp, ok)
    return float((a.pose - b.pose).abs().max())


LIFTER_PREFIX = 'keypoint_lifter.'


def extract_lifter(dpmesh, dst):
    """Write the keypoint lifter inside a DPMesh checkpoint as a train_lifter checkpoint."""
    from hmr_models.checkpoints import read_config, read_weights, save_checkpoint
    cfg = read_config(dpmesh)
    state = {k[len(LIFTER_PREFIX):]: v.float() for k, v in read_weights(dpmesh).items()
             if k.startswith(LIFTER_PREFIX)}
    if not state:
        raise ValueError(f'{dpmesh} has no keypoint lifter (pose_head type is not lifted)')
    lifter_cfg = {k: v for k, v in cfg['keypoint_lifter'].items()
                  if k not in ('enabled', 'weights')}
    return save_checkpoint(dst, {'num_keypoints': cfg['num_keypoints'], **lifter_cfg}, state,
                           'keypoint_lifter', extracted_from=str(dpmesh))


def with_lifter(dpmesh, lifter, dst, share=1.0):
    """A copy of the DPMesh checkpoint `dpmesh` at `dst` whose lifter is `lifter`'s.

    share < 1 blends the weights: share * lifter + (1 - share) * the lifter inside `dpmesh`
    (both fine-tuned from the same start, so the average is itself a good model: it keeps most
    of a fine-tune's gains with less of what the fine-tune unlearnt).
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f'the lifter share must be in (0, 1], got {share}')
    from hmr_models.checkpoints import read_config, read_meta, read_weights, save_checkpoint
    state = dict(read_weights(dpmesh))
    new = read_weights(lifter)
    old = {k for k in state if k.startswith(LIFTER_PREFIX)}
    cfg = read_config(dpmesh)
    lifter_cfg = read_config(lifter)
    if old != {LIFTER_PREFIX + k for k in new}:
        # Another architecture (e.g. grown by train_lifter's grow_blocks) replaces the old one
        # whole; only lifters of the same shape can be blended.
        if share != 1.0:
            raise ValueError(f'the lifter {lifter} does not match the one inside {dpmesh}: '
                             'it can only replace it (share 1), not be blended')
        for k in old:
            del state[k]
        state.update({LIFTER_PREFIX + k: v.float() for k, v in new.items()})
        for k in ('hidden', 'blocks'):
            cfg['keypoint_lifter'][k] = int(lifter_cfg[k])
    else:
        state.update({LIFTER_PREFIX + k: share * v.float() + (1.0 - share)
                      * state[LIFTER_PREFIX + k].float() for k, v in new.items()})
    cfg['keypoint_lifter']['scores'] = bool(lifter_cfg.get('scores', False))
    meta = {k: v for k, v in read_meta(dpmesh).items() if k not in ('format', 'version', 'tensors')}
    return save_checkpoint(dst, cfg, state, 'dpmesh',
                           **dict(meta, lifter_from=str(lifter), lifter_share=share))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--dpmesh', help='DPMesh checkpoint folder (the trained compact model)')
    p.add_argument('--diffmesh', help='DiffMesh weights folder')
    p.add_argument('--lifter', help='keypoint lifter folder (train_lifter) to put into --dpmesh '
                   '(default: the bundled DPMesh)')
    p.add_argument('--lifter-share', type=float, default=1.0,
                   help="blend: this share of --lifter's weights, the rest the current lifter's")
    p.add_argument('--extract-lifter', metavar='DIR',
                   help="write the bundled DPMesh's lifter here and stop")
    p.add_argument('--out', default=str(ASSETS_DIR / 'weights'))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    out = Path(args.out)
    bundled = ASSETS_DIR / 'weights' / 'dpmesh_compact'
    if args.extract_lifter:
        print(f'lifter -> {extract_lifter(args.dpmesh or bundled, args.extract_lifter)}')
        return 0
    if args.lifter:
        import tempfile
        tmp = Path(tempfile.mkdtemp(prefix='dpmesh_lifter_'))
        args.dpmesh = with_lifter(args.dpmesh or bundled, args.lifter, tmp / 'dpmesh',
                                  args.lifter_share)
    if args.dpmesh:
        err = export_dpmesh(args.dpmesh, out / 'dpmesh_compact')
        print(f'DPMesh -> {out / "dpmesh_compact"} (float16; max pose difference {err:.2e} rad)')
    if args.diffmesh:
        dst = out / 'diffmesh_compact'
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(args.diffmesh, dst)
        print(f'DiffMesh -> {dst}')
    total = sum(f.stat().st_size for f in out.rglob('*') if f.is_file()) / 2 ** 20
    print(f'bundled weights: {total:.1f} MB of the {BUDGET_MB:.0f} MB budget')
    return 0 if total <= BUDGET_MB else 1


if __name__ == '__main__':
    sys.exit(main())
