"""SynthOcc: DPMesh checkpoints on the held-out synthetic crowd/occlusion split.

    python -m hmr_models.data.synth.generate --out data/synth/test --split test --scenes 40 \
        --samples --render --sample-every 10 --seed 0          # the fixed, seeded test split
    python benchmarks/eval_synthocc.py data/synth/test/samples \
        --model student=hmr_models/assets/weights/dpmesh_compact \
        --model no_nkr=runs/dpmesh_compact_nonkr/final [--csv out/synthocc.csv]

Every model sees the same inputs: the rendered crop and the keypoints of the simulated detector
(jitter, misses under occlusion, swaps, neighbour grabs), as in the running pipeline. Two
tables: the people the simulated front-end detects (the mesh stage only ever runs on those; the
figures the goals are judged on) and all people (a missed person has no keypoints: the model
sees only the crop of its true box). Metrics
(mm, hmr_models.eval.metrics): MPJPE (pelvis-aligned, SMPL-24 joints), PA-MPJPE, MPVE (pelvis-
aligned vertices), OCC-MPJPE (pelvis-aligned error of the joints the scene marks occluded by
the person itself, another person or an object, and inside the image). Goals for the shipped
default: MPJPE <= 80, PA-MPJPE <= 55; the NKR student below the model without NKR on
OCC-MPJPE. A constant baseline (the mean training pose at the true depth) is in the same table.
"""
import argparse
from pathlib import Path
import sys

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hmr_models.body import load_body_model  # noqa: E402
from hmr_models.data.datasets import SyntheticSamples  # noqa: E402
from hmr_models.dpmesh import DPMesh  # noqa: E402
from hmr_models.eval.synthocc import (errors_mm, ground_truth, occlusion_masks,  # noqa: E402
                                      paired_comparison, per_person)
from hmr_models.eval.tables import write_csv  # noqa: E402
from hmr_models.eval.variants import parse_refine  # noqa: E402
from hmr_models.train.train_dpmesh import DPMeshTraining  # noqa: E402


@torch.no_grad()
def predict(checkpoint, dataset, body, batch_size):
    """(joints (N, 24, 3), vertices (N, V, 3), parameters) in metres, camera frame.

    parameters: {'pose' (N, 72), 'betas' (N, 10), 'translation' (N, 3)}.
    """
    model = DPMesh.from_pretrained(checkpoint).eval()
    # The 'teacher' stage feeds the batch keypoints as they are: here the detector's.
    module = DPMeshTraining(model, body, 'teacher').eval()
    joints, verts, params = [], [], {'pose': [], 'betas': [], 'translation': []}
    for batch in tqdm(DataLoader(dataset, batch_size=batch_size), desc=Path(checkpoint).name,
                      unit='batch', leave=False):
        _, _, out = module.run(batch)
        joints.append(out.joints.float().numpy())
        verts.append(out.vertices.float().numpy())
        for k in params:
            params[k].append(getattr(out, k).float().numpy())
    return np.concatenate(joints), np.concatenate(verts), \
        {k: np.concatenate(v) for k, v in params.items()}


@torch.no_grad()
def refine(params, dataset, body, config):
    """Joints and vertices after keypoint refinement with the detected keypoints.

    What the node's ~/persons gets with refine_* parameters `config`; undetected people keep
    the network's estimate.
    """
    from hmr_models.fitting import KeypointRefiner
    from hmr_models.types import CameraIntrinsics
    refiner = KeypointRefiner(body, config)
    kp = per_person(dataset, 'det_keypoints2d').astype(np.float64)
    scores = per_person(dataset, 'det_scores') * per_person(dataset, 'detected')[:, None]
    boxes = per_person(dataset, 'det_box')
    cams = per_person(dataset, 'K')
    sizes = per_person(dataset, 'image_size')
    pose, betas, transl = (params[k].copy() for k in ('pose', 'betas', 'translation'))
    keys = np.concatenate([cams.reshape(len(cams), -1), sizes], 1)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    for g in tqdm(np.unique(group), desc='refine', unit='camera', leave=False):
        i = np.flatnonzero(group == g)
        k = cams[i[0]]
        cam = CameraIntrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], *map(int, sizes[i[0]]))
        for chunk in np.array_split(i, max(1, len(i) // 8)):
            fit = refiner.refine(pose[chunk], betas[chunk], transl[chunk], kp[chunk],
                                 scores[chunk], boxes[chunk], cam)
            pose[chunk], betas[chunk], transl[chunk] = fit.pose, fit.betas, fit.translation
    out = body(torch.as_tensor(pose), torch.as_tensor(betas), torch.as_tensor(transl))
    return out.joints.numpy(), out.vertices.numpy()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('samples', nargs='+', help='synthetic sample shards or folders (test split)')
    p.add_argument('--model', action='append', default=[], metavar='NAME=CHECKPOINT')
    p.add_argument('--body', default='', help="SMPL-format .npz ('' = bundled open body)")
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--csv', help='also write the table here')
    p.add_argument('--refine', action='append', default=[], metavar='NAME[:refine_k=v,...]',
                   help='also score every model after keypoint refinement with these refine_* '
                   "parameters (hmr_models.fitting.RefineConfig; 'default' = its defaults)")
    p.add_argument('--compare-to', metavar='NAME',
                   help='also print every other model minus this one (MPJPE, OCC-MPJPE on the '
                   'detected people) with a 95%% bootstrap interval over scenes')
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    body = load_body_model(args.body or None)
    data = SyntheticSamples(args.samples, input_keypoints='detected')
    occluded = occlusion_masks(data)
    gt_j, gt_v, gt_vj = ground_truth(data, body)
    print(f'SynthOcc: {len(data)} people, {occluded.sum()} occluded joints '
          f'({100 * occluded.mean():.1f} %)')
    detected = per_person(data, 'detected').astype(bool)
    subsets = {'detected': detected, 'all': np.ones(len(data), bool)}
    print(f'the simulated front-end detects {detected.sum()} of {len(data)} people: the mesh '
          'stage only ever runs on those (first table); missed people have no keypoints and '
          'get the image-only guess (second table)')
    results = []                       # (model name, joints, vertices, pelvis for MPVE)
    # Baseline: the mean pose of the split, placed at the true pelvis (errors of a model that
    # outputs one posture for everybody).
    results.append(('mean pose (baseline)', np.broadcast_to(gt_j.mean(0), gt_j.shape),
                    np.broadcast_to(gt_v.mean(0), gt_v.shape),
                    np.broadcast_to(gt_vj[:, 0].mean(0), gt_vj[:, 0].shape)))
    for spec in args.model:
        name, _, path = spec.partition('=')
        if not path:
            p.error(f'--model wants NAME=CHECKPOINT, got {spec!r}')
        pred_j, pred_v, params = predict(path, data, body, args.batch_size)
        results.append((name, pred_j, pred_v, None))
        for spec in args.refine:
            rname, values = parse_refine(spec)
            ref_j, ref_v = refine(params, data, body, values)
            results.append((f'{name} + refine {rname}', ref_j, ref_v, None))
    keys = ['MPJPE', 'PA-MPJPE', 'MPVE', 'OCC-MPJPE']
    rows = []
    for subset, m in subsets.items():
        print(f'\n{subset} people ({m.sum()}):')
        print(f"{'model':36s}" + ''.join(f'{k:>12s}' for k in keys) + '   (mm)')
        for name, pj, pv, root in results:
            r = {'model': name, 'people': subset, **errors_mm(
                pj[m], pv[m], gt_j[m], gt_v[m], gt_vj[m], occluded[m],
                None if root is None else root[m])}
            rows.append(r)
            print(f'{name:36s}' + ''.join(f'{r[k]:12.1f}' for k in keys))
    if args.compare_to:
        compare(results, args.compare_to, gt_j, occluded, detected,
                per_person(data, 'scene_seed'))
    if args.csv:
        print(f"wrote {write_csv(args.csv, rows, ['model', 'people'] + keys)}")
    return 0


def compare(results, baseline, gt_j, occluded, subset, scenes):
    """Print every other model minus `baseline` (mm, 95 % interval over scenes)."""
    try:
        rows = paired_comparison(results, baseline, gt_j, occluded, subset, scenes)
    except ValueError as e:
        raise SystemExit(f'--compare-to {e}')
    print(f'\nminus {baseline!r} (detected people; mm, 95 % interval over '
          f'{len(np.unique(scenes[subset]))} scenes):')
    for name, cells in rows.items():
        print(f'{name:36s}' + ''.join(f'  {k} {d:+.2f} [{lo:+.2f}, {hi:+.2f}]'
                                      for k, (d, lo, hi) in cells.items()))


if __name__ == '__main__':
    sys.exit(main())
