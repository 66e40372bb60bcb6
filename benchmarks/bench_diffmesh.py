"""DiffMesh benchmark: smoothness and accuracy on held-out motion, and latency per tick.

    python benchmarks/bench_diffmesh.py --weights out/diffmesh/run1/final \
        --corpus ~/.cache/hmr_ros/mocap_corpus/hmr_open_body_a3f5c5fa

Held-out clips (the corpus' test split; One-Euro is tuned on its val split) are placed in
front of random cameras and turned into per-frame estimates by the same error model the
training uses (bias, jitter, occlusion spikes, dropped frames, identity switches), with a
fixed seed. Eight sequences at a time are streamed as eight tracks of one camera, frame by
frame, through
  (a) nothing (the per-frame input),
  (b) the One-Euro filter with parameters tuned on the validation clips,
  (c) DiffMesh's StreamingSmoother (newest frame: no delay) and its delayed output.
Printed: MPJPE (root-aligned, mm), ACC-ERR (mm/frame^2, hmr_models.eval.metrics), root
translation error, and the median latency of one tick with 8 tracks; ratios to the per-frame
input. Goals (issue 7): DiffMesh ACC-ERR <= 40 % of per-frame and below One-Euro, MPJPE no
worse than per-frame, <= 30 ms per tick for 8 tracks on 2 CPU cores.
"""
import argparse
import itertools
from pathlib import Path
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hmr_models.diffmesh import (DiffMesh, OneEuroConfig, OneEuroSmoother,  # noqa: E402
                                 StreamingConfig, StreamingSmoother)
from hmr_models.data.synth.estimator_noise import EstimatorNoiseConfig  # noqa: E402
from hmr_models.data.synth.sequences import simulate_sequences  # noqa: E402
from hmr_models.eval.metrics import sequence_error_sums  # noqa: E402
from hmr_models.train.diffmesh_data import smooth_random_motion  # noqa: E402
from hmr_models.types import BodyEstimate, People  # noqa: E402

TRACKS = 8


def load_clips(corpus, split, length, count, synthetic):
    """(pose (N, L, 72), trans (N, L, 3)) world motions of `length` frames at 30 fps."""
    if synthetic:
        rng = np.random.default_rng({'val': 11, 'test': 12}[split])
        ms = [smooth_random_motion(length, rng) for _ in range(count)]
        return np.stack([m.pose for m in ms]), np.stack([m.trans for m in ms])
    from hmr_models.data.mocap.corpus import PoseCorpus
    c = PoseCorpus(Path(corpus).expanduser())
    clips = [cl for cl in c.clips(split) if cl.frames >= length and abs(cl.fps - 30) < 1e-3]
    # A deterministic spread over the split (sorted ids, evenly spaced).
    clips = sorted(clips, key=lambda cl: cl.clip_id)
    pick = np.linspace(0, len(clips) - 1, min(count, len(clips))).round().astype(int)
    poses, trans = [], []
    for i in pick:
        m = c.load(clips[i])
        start = (len(m) - length) // 2
        poses.append(m.pose[start:start + length])
        trans.append(m.trans[start:start + length])
    return np.stack(poses).astype(np.float32), np.stack(trans).astype(np.float32)


def simulate(pose_w, trans_w, joint_model, seed, stride=1):
    """Ground truth and per-frame estimates for every sequence (groups of TRACKS)."""
    rng = np.random.default_rng(seed)
    n = len(pose_w)
    betas = np.clip(rng.normal(0, 1, (n, joint_model.num_betas)), -2.5, 2.5).astype(np.float32)
    gts, ests = [], []
    for g in range(0, n, TRACKS):
        sl = slice(g, g + TRACKS)
        gt, est = simulate_sequences(pose_w[sl, ::stride], trans_w[sl, ::stride], betas[sl],
                                     joint_model, 30.0 / stride, rng, errors=EstimatorNoiseConfig())
        gts.append(gt)
        ests.append(est)
    return gts, ests


def joints_of(joint_model, pose, betas, trans):
    with torch.no_grad():
        return joint_model.from_axis_angle(
            *(torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in (pose, betas, trans))
        ).numpy()


def frame_inputs(est, joint_model, seen, k):
    """(BodyEstimate, People) of the sequences `seen` at frame k: what a tick receives."""
    pose, betas, trans = (est[n][seen, k] for n in ('pose', 'betas', 'translation'))
    estimate = BodyEstimate(pose=pose.copy(), betas=betas.copy(), translation=trans.copy(),
                            joints=joints_of(joint_model, pose, betas, trans),
                            joint_confidence=np.ones((len(seen), 24), np.float32))
    people = People(boxes=est['boxes'][seen, k], scores=np.ones(len(seen), np.float32),
                    keypoints=est['keypoints'][seen, k],
                    keypoint_scores=est['keypoint_scores'][seen, k],
                    track_ids=seen.astype(np.int64))
    return estimate, people


def ticks(est, joint_model):
    """(frame k, observed sequences, BodyEstimate, People) for every frame someone is seen."""
    for k in range(est['pose'].shape[1]):
        seen = np.flatnonzero(est['observed'][:, k])
        if len(seen):
            yield (k, seen) + frame_inputs(est, joint_model, seen, k)


def empty_predictions(est):
    """NaN-filled joints (B, T, 24, 3) and translations (B, T, 3): unobserved stays NaN."""
    b, t = est['pose'].shape[:2]
    return (np.full((b, t, 24, 3), np.nan, np.float32), np.full((b, t, 3), np.nan, np.float32))


def stream(method, gt, est, joint_model, fps, timings=None):
    """Run one group of sequences through `method` (None = per-frame) as tracks of one camera.

    Returns predicted joints and translations (B, T, ...) with NaN where the frame was not
    observed.
    """
    pred_j, pred_t = empty_predictions(est)
    b = est['pose'].shape[0]
    for k, seen, estimate, people in ticks(est, joint_model):
        if method is None:
            out = estimate
        else:
            t0 = time.perf_counter()
            out = method.update(k / fps, people.track_ids, estimate, people)
            if timings is not None and len(seen) == b:
                timings.append(time.perf_counter() - t0)
        pred_j[seen, k] = out.joints
        pred_t[seen, k] = out.translation
    return pred_j, pred_t


def evaluate(make_method, gts, ests, joint_model, fps, timings=None, progress=None):
    total = np.zeros(5)
    for gt, est in zip(gts, ests):
        method = make_method() if make_method else None
        pj, pt = stream(method, gt, est, joint_model, fps, timings)
        total += sequence_error_sums(pj, pt, gt['joints'], gt['trans'])
        if progress is not None:
            progress.update(1)
    return {'mpjpe': total[0] / total[1], 'acc_err': total[2] / total[3],
            'trans': total[4] / total[1]}


def tune_one_euro(gts, ests, joint_model, fps, base):
    """Grid search of One-Euro parameters on validation sequences.

    Picks the lowest ACC-ERR whose MPJPE is no worse than the per-frame input's (else the
    lowest MPJPE).
    """
    grid = list(itertools.product([0.1, 0.3, 0.6, 1.0, 2.0, 4.0], [0.0, 0.05, 0.2, 0.7, 2.0]))
    results = []
    with tqdm(total=len(grid), desc='tune One-Euro (val)') as bar:
        for mc, beta in grid:
            cfg = OneEuroConfig(one_euro_min_cutoff=mc, one_euro_beta=beta)
            r = evaluate(lambda: OneEuroSmoother(cfg, joint_model=joint_model), gts, ests,
                         joint_model, fps)
            results.append(((mc, beta), r))
            bar.update(1)
    ok = [x for x in results if x[1]['mpjpe'] <= base['mpjpe']]
    best = min(ok, key=lambda x: x[1]['acc_err']) if ok else \
        min(results, key=lambda x: x[1]['mpjpe'])
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--weights', required=True, help='DiffMesh folder (config.json + '
                    'diffmesh.pt) or training checkpoint')
    ap.add_argument('--corpus', help='pose corpus folder (hmr_models.data.mocap)')
    ap.add_argument('--synthetic', action='store_true',
                    help='smooth random motion instead of a corpus (smoke runs only)')
    ap.add_argument('--test-sequences', type=int, default=64)
    ap.add_argument('--val-sequences', type=int, default=32)
    ap.add_argument('--length', type=int, default=120, help='frames per sequence at 30 fps')
    ap.add_argument('--stride', type=int, default=1, help='2: a 15 fps camera')
    ap.add_argument('--delay', type=int, default=8, help='frames of the delayed output')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    if not args.corpus and not args.synthetic:
        ap.error('give --corpus (or --synthetic for a smoke run)')
    torch.set_num_threads(args.threads)
    model = DiffMesh.from_pretrained(args.weights)
    jm = model.joint_model
    fps = 30.0 / args.stride
    print(f'DiffMesh {args.weights}: {sum(p.numel() for p in model.parameters())} params, '
          f'f={model.config.num_frames}, N={model.config.num_steps}, '
          f'width={model.config.width}x{model.config.num_tokens}, depth={model.config.depth}; '
          f'camera {fps:g} fps, torch threads {args.threads}')

    val = simulate(*load_clips(args.corpus, 'val', args.length, args.val_sequences,
                               args.synthetic), jm, args.seed + 1, args.stride)
    test = simulate(*load_clips(args.corpus, 'test', args.length, args.test_sequences,
                                args.synthetic), jm, args.seed, args.stride)
    base_val = evaluate(None, *val, jm, fps)
    (mc, beta), _ = tune_one_euro(*val, jm, fps, base_val)
    n_seq = sum(len(g['pose']) for g in test[0])
    print(f'One-Euro tuned on {sum(len(g["pose"]) for g in val[0])} val sequences: '
          f'min_cutoff={mc} Hz, beta={beta}')
    print(f'test: {n_seq} sequences x {test[0][0]["pose"].shape[1]} frames, '
          f'{TRACKS} tracks per tick')

    rows = []
    rows.append(('per-frame input', evaluate(None, *test, jm, fps), None))
    oe_t = []
    oe_cfg = OneEuroConfig(one_euro_min_cutoff=mc, one_euro_beta=beta)
    rows.append((f'One-Euro ({mc} Hz, beta {beta})',
                 evaluate(lambda: OneEuroSmoother(oe_cfg, joint_model=jm), *test, jm, fps,
                          oe_t), oe_t))
    for name, delay in (('DiffMesh streaming (newest frame)', 0),
                        (f'DiffMesh delayed by {args.delay} frames', args.delay)):
        dm_t = []
        cfg = StreamingConfig(temporal_delay_frames=delay)
        if delay == 0:
            with tqdm(total=len(test[0]), desc=name) as bar:
                r = evaluate(lambda: StreamingSmoother(model, cfg), *test, jm, fps, dm_t, bar)
        else:
            r = evaluate_delayed(model, cfg, *test, jm, fps)
        rows.append((name, r, dm_t if delay == 0 else None))

    base = rows[0][1]
    print(f"\n{'method':42s} {'MPJPE mm':>9s} {'ratio':>6s} {'ACC-ERR':>8s} {'ratio':>6s} "
          f"{'transl mm':>9s} {'tick ms (8 tracks)':>19s}")
    for name, r, t in rows:
        lat = f'{np.median(t) * 1000:.1f} (median)' if t else '-'
        print(f"{name:42s} {r['mpjpe']:9.1f} {r['mpjpe'] / base['mpjpe']:6.2f} "
              f"{r['acc_err']:8.2f} {r['acc_err'] / base['acc_err']:6.2f} {r['trans']:9.1f} "
              f"{lat:>19s}")
    dm = rows[2][1]
    oe = rows[1][1]
    dm_lat = np.median(rows[2][2]) * 1000
    print('\ngoals: ACC-ERR <= 40% of per-frame: {} ({:.0f}%); below One-Euro: {}; MPJPE no '
          'worse than per-frame: {}; <= 30 ms per tick: {} ({:.1f} ms)'.format(
              _yes(dm['acc_err'] <= 0.4 * base['acc_err']),
              100 * dm['acc_err'] / base['acc_err'], _yes(dm['acc_err'] < oe['acc_err']),
              _yes(dm['mpjpe'] <= base['mpjpe']), _yes(dm_lat <= 30.0), dm_lat))
    return 0


def _yes(flag):
    return 'yes' if flag else 'NO'


def evaluate_delayed(model, cfg, gts, ests, jm, fps):
    """Metrics of the delayed output.

    Every frame is scored from the tick `delay` frames later (the last `delay` frames of a
    sequence never get one and are left out).
    """
    total = np.zeros(5)
    for gt, est in zip(gts, ests):
        sm = StreamingSmoother(model, cfg)
        pj, pt = empty_predictions(est)
        for k, seen, estimate, people in ticks(est, jm):
            d = sm.step(k / fps, people.track_ids, estimate, people).delayed
            if d is None:
                continue
            frames = np.round(d.stamps * fps).astype(int)
            for row, (tid, f) in enumerate(zip(d.track_ids, frames)):
                if est['observed'][tid, f]:
                    pj[tid, f] = d.estimate.joints[row]
                    pt[tid, f] = d.estimate.translation[row]
        total += sequence_error_sums(pj, pt, gt['joints'], gt['trans'])
    return {'mpjpe': total[0] / total[1], 'acc_err': total[2] / total[3],
            'trans': total[4] / total[1]}


if __name__ == '__main__':
    sys.exit(main())
