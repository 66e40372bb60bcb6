"""Build the SMPL pose corpus from the mocap collections, once, into the cache.

    python -m hmr_models.data.mocap.build_corpus [--datasets cmu,cmu_more,deepmimic,bandai,postures]
        [--mocap-dir DIR] [--cache-dir DIR] [--body open|none|PATH.npz] [--workers 2]
        [--limit N] [--preview OUT_DIR] [--force]

Prints the split table and the retargeting figures; ``--preview`` writes skeleton strips
(source vs SMPL) of a few clips as PNGs.
"""
import argparse
import logging
import os
from pathlib import Path
import sys

from .corpus import DEFAULT_COLLECTIONS, build_corpus, default_cache_dir
from .sources import COLLECTIONS, default_mocap_dir

log = logging.getLogger('hmr_models.data.mocap.build_corpus')


def load_target_body(spec):
    """Target body from a command-line spec.

    'none' -> None (default proportions); 'open' -> the bundled open body (None with a
    warning if it is not installed); else a path to an SMPL-format .npz.
    """
    if spec == 'none':
        return None
    from hmr_models.body.model import load_body_model
    from hmr_models.paths import MissingModelFile
    if spec == 'open':
        try:
            return load_body_model(None)
        except MissingModelFile as e:
            log.warning('open body not available (%s): using SMPL-like default proportions', e)
            return None
    return load_body_model(spec)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='python -m hmr_models.data.mocap.build_corpus',
                                description=__doc__.split('\n')[0])
    p.add_argument('--datasets', default=','.join(DEFAULT_COLLECTIONS),
                   help=f'comma-separated subset of {",".join(COLLECTIONS)}')
    p.add_argument('--mocap-dir', default=None,
                   help=f'mocap folder (default $HMR_MOCAP_DIR or {default_mocap_dir()})')
    p.add_argument('--cache-dir', default=None,
                   help=f'cache folder (default $HMR_CACHE or {default_cache_dir()})')
    p.add_argument('--body', default='open',
                   help="target body: 'open' (bundled), 'none' (SMPL-like proportions) or an "
                   'SMPL-format .npz path')
    p.add_argument('--fps', type=float, default=30.0)
    p.add_argument('--seed', type=int, default=0, help='seed of the split by clip')
    p.add_argument('--val-fraction', type=float, default=0.1)
    p.add_argument('--test-fraction', type=float, default=0.1)
    p.add_argument('--limit', type=int, default=None, help='at most N clips per dataset')
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--postures-per-kind', type=int, default=40,
                   help="generated clips per posture kind ('postures' dataset)")
    p.add_argument('--preview', default=None, help='folder for skeleton-strip PNGs')
    p.add_argument('--force', action='store_true', help='rebuild even if cached')
    return p.parse_args(argv)


def main(argv=None):
    """Console entry point; returns the process exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    datasets = [d.strip() for d in args.datasets.split(',') if d.strip()]
    unknown = [d for d in datasets if d not in COLLECTIONS]
    if unknown:
        print(f'error: unknown dataset(s) {unknown}; choose from {list(COLLECTIONS)}',
              file=sys.stderr)
        return 2
    body = load_target_body(args.body)
    try:
        corpus = build_corpus(cache_dir=args.cache_dir, mocap_dir=args.mocap_dir,
                              collections=datasets, body=body, fps=args.fps, seed=args.seed,
                              val_fraction=args.val_fraction,
                              test_fraction=args.test_fraction, limit=args.limit,
                              workers=args.workers, force=args.force,
                              postures_per_kind=args.postures_per_kind)
    except FileNotFoundError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'pose corpus: {corpus.root}')
    print(f"{'dataset':<10} {'licence':<8} {'train':>14} {'val':>12} {'test':>12}")
    for coll, row in corpus.summary().items():
        lic = 'free' if corpus.index['collections'][coll]['free'] else 'NC'
        cells = ' '.join(f'{row[s][0]:>5}/{row[s][1]:>7}' for s in ('train', 'val', 'test'))
        print(f'{coll:<10} {lic:<8} {cells}   (clips/frames)')
    for coll, s in corpus.index['summary'].items():
        print(f"{coll}: {s['hours']:.2f} h, bone-direction error (mapped bones) mean "
              f"{s['bone_err_mean_deg']:.2f} deg, p95 {s['bone_err_p95_deg']:.2f} deg")
    if corpus.index.get('failed'):
        print(f"{len(corpus.index['failed'])} clips failed (see index.json 'failed')")
    if args.preview:
        _preview(corpus, Path(args.preview), datasets, args.mocap_dir, args.cache_dir)
    return 0


def _preview(corpus, out, datasets, mocap_dir, cache_dir):
    """Skeleton strips of the first clip of each dataset (source vs retargeted)."""
    from .retarget import retarget
    from .sources import list_clips
    from .viz import save_retarget_strip
    out.mkdir(parents=True, exist_ok=True)
    clips = list_clips(datasets, mocap_dir, cache_dir or default_cache_dir())
    for coll in datasets:
        for clip in [c for c in clips if c.collection == coll][:2]:
            source, rig = clip.load()
            calib = corpus.calibration(rig.name)
            smpl = retarget(source, rig, calib, corpus.rest_joints)
            path = out / f"retarget_{clip.clip_id.replace('/', '_')}.png"
            save_retarget_strip(path, source, smpl, corpus.rest_joints)
            print(f'wrote {path}')


if __name__ == '__main__':
    sys.exit(main())
