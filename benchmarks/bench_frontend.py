#!/usr/bin/env python3
"""Front-end benchmark: people found vs people visible, id switches and latency per frame.

Runs `PersonFrontEnd.process` (detection + keypoints + tracking) over every frame of the bundled
sample clip and of OpenCV's `vtest.avi` for each keypoint backend; the MediaPipe backend is the
baseline of the same run. Prints a table and writes, under --out:
- results.json: every figure in the table;
- <clip>_<backend>_<frame>.png: annotated frames for counting by eye (hand-counted points drawn
  as crosses: green = found, red = missed).

Recall uses hand counts: `../shared/data/vtest_people.json` (94 people over every 50th frame of
vtest.avi) and `benchmarks/bench_frontend_sample_people.json` (26 people over every 25th frame
of the bundled clip, counted by eye; 9 of them are a ~24 px bystander half hidden by a fence at
(1073, 445), the rest the two main people, one backlit and doing a flip, one cut by the border in
frame 200). A hand-counted point is found when it lies inside a returned box (10 % margin), one
point per box (optimal assignment on the distance to the box centre); 'extra' counts returned
boxes matched to no counted person.

Id switches have no ground truth here; two proxies are counted per clip:
- jumps: a track's box centre moves more than half the box height between two observations
  less than 0.25 s apart (the id went to someone else);
- fragments: a new id is born within one box height of where another id was last seen less than
  2 s before (the same person probably got a new id).

Latency is wall-clock time of `process()` per frame (median, p95, and median over frames with at
most 7 people), plus the process CPU time per frame; on a busy machine only the ratio to the
baseline of the same run means much.

Usage: .venv/bin/python benchmarks/bench_frontend.py [--backends movenet_lightning,mediapipe]
       [--max-frames N] [--threads 2] [--out out/bench_frontend]
"""
import argparse
import json
import logging
import os
from pathlib import Path
import sys
import time

import cv2
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hmr_models.eval.frontend import id_switch_proxies, match_points  # noqa: E402
from hmr_models.eval.variants import typed_value  # noqa: E402
from hmr_models.frontend import FrontEndConfig, PersonFrontEnd, draw_people  # noqa: E402
from hmr_models.runtime import resolve_runtime  # noqa: E402

CLIPS = {
    'sample': (REPO / 'media' / 'sample_sports2d.mp4',
               REPO / 'benchmarks' / 'bench_frontend_sample_people.json'),
    # opencv-doc's copy, else the one scripts/fetch_eval_data.sh puts in data/real
    'vtest': (next((p for p in (Path('/usr/share/doc/opencv-doc/examples/data/vtest.avi'),
                                REPO / 'data' / 'real' / 'opencv' / 'vtest.avi') if p.exists()),
                   Path('/usr/share/doc/opencv-doc/examples/data/vtest.avi')),
              REPO.parent / 'shared' / 'data' / 'vtest_people.json'),
}
BASELINE = 'mediapipe'
LATENCY_TARGET_MS = 80.0
RECALL_TARGET = 0.90


def draw_counts(image, points, found):
    for (x, y), ok in zip(np.asarray(points, int).reshape(-1, 2), found):
        cv2.drawMarker(image, (int(x), int(y)), (0, 255, 0) if ok else (255, 0, 0),
                       cv2.MARKER_CROSS, 14, 2)
    return image


def make_config(variant):
    """FrontEndConfig for 'backend[@workers][+name=value...]'.

    @workers: MoveNet people in parallel; +name=value: any other FrontEndConfig field, e.g.
    'movenet_lightning@1+detector_input_size=320+detector_interval=2'.
    """
    head, *overrides = variant.split('+')
    backend, _, workers = head.partition('@')
    values = {}
    for item in overrides:
        name, _, value = item.partition('=')
        values[name] = typed_value(type(getattr(FrontEndConfig, name)), value)
    return FrontEndConfig(keypoint_backend=backend, keypoint_workers=int(workers or 1),
                          **values)


def run_clip(clip, video, counts, backend, args, runtime, out_dir):
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    n_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if args.max_frames:
        n_frames = min(n_frames, args.max_frames)
    front = PersonFrontEnd(make_config(backend), runtime)
    latency, stage, people_n, small_latency, per_person, cpu_ms = [], {}, [], [], [], []
    observations, found_total, visible_total, unmatched_total = {}, 0, 0, 0
    size = '?'

    png_every = args.png_every
    for i in tqdm(range(n_frames), desc=f'{clip}/{backend}', unit='frame', leave=False):
        ok, frame = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        size = f'{rgb.shape[1]}x{rgb.shape[0]}'
        stamp = i / fps
        t0, c0 = time.perf_counter(), time.process_time()
        people = front.process(rgb, stamp)
        ms = (time.perf_counter() - t0) * 1e3
        cpu_ms.append((time.process_time() - c0) * 1e3)
        latency.append(ms)
        if len(people) <= 7:
            small_latency.append(ms)
        for k, v in front.last_stats.timings_ms.items():
            stage.setdefault(k, []).append(v)
        people_n.append(len(people))
        looked_at = front.last_stats.people + front.last_stats.low_score_dropped \
            + front.last_stats.duplicates_dropped
        if looked_at:
            per_person.append(front.last_stats.timings_ms['keypoints'] / looked_at)
        for tid, box in zip(people.track_ids, people.boxes):
            if tid >= 0:
                observations.setdefault(int(tid), []).append((stamp, box.copy()))
        points = counts.get(str(i))
        if points is not None:
            found, used = match_points(points, people.boxes)
            found_total += int(found.sum())
            visible_total += len(found)
            unmatched_total += int((~used).sum())
        if points is not None or (png_every and i % png_every == 0 and clip != 'vtest'):
            image = draw_people(rgb, people)
            if points is not None:
                draw_counts(image, points, found)
            name = backend.replace('@', '_w')
            cv2.imwrite(str(out_dir / f'{clip}_{name}_{i:04d}.png'), image[..., ::-1])
    front.close()
    jumps, fragments, ids = id_switch_proxies(observations)
    lat = np.array(latency)
    return {
        'clip': clip, 'backend': backend, 'frames': len(latency),
        'size': size,
        'people_per_frame': float(np.mean(people_n)),
        'counted_frames': len([k for k in counts if int(k) < len(latency)]),
        'visible': visible_total, 'found': found_total,
        'recall': found_total / visible_total if visible_total else float('nan'),
        'unmatched_boxes': unmatched_total,
        'ids': ids, 'jumps': jumps, 'fragments': fragments, 'id_switches': jumps + fragments,
        'median_ms': float(np.median(lat)), 'p95_ms': float(np.percentile(lat, 95)),
        'median_ms_le7': float(np.median(small_latency)) if small_latency else float('nan'),
        # CPU time of this process (all threads) per frame: on a busy machine the wall-clock
        # figures above include waiting for a core; on idle cores wall time <= CPU time.
        'median_cpu_ms': float(np.median(cpu_ms)),
        'stage_median_ms': {k: float(np.median(v)) for k, v in stage.items()},
        'keypoints_ms_per_person': float(np.median(per_person)) if per_person else float('nan'),
        'totals': {k: v for k, v in vars(front.totals).items() if k != 'timings_ms'},
    }


def print_table(results):
    cols = ('clip', 'backend', 'frames', 'people/f', 'recall', 'found/vis', 'extra', 'ids',
            'jumps', 'frags', 'fallbacks', 'med ms', 'p95 ms', 'med<=7', 'cpu ms', 'x base')
    print(' | '.join(f'{c:>10}' if i > 1 else f'{c:<18}' for i, c in enumerate(cols)))
    base = {r['clip']: r['median_ms'] for r in results if r['backend'] == BASELINE}
    for r in results:
        ratio = r['median_ms'] / base[r['clip']] if r['clip'] in base else float('nan')
        row = (r['clip'], r['backend'], r['frames'], f"{r['people_per_frame']:.2f}",
               f"{100 * r['recall']:.1f}%", f"{r['found']}/{r['visible']}", r['unmatched_boxes'],
               r['ids'], r['jumps'], r['fragments'], r['totals']['detector_fallbacks'],
               f"{r['median_ms']:.1f}",
               f"{r['p95_ms']:.1f}", f"{r['median_ms_le7']:.1f}", f"{r['median_cpu_ms']:.1f}",
               f'{ratio:.2f}')
        print(' | '.join(f'{v:>10}' if i > 1 else f'{v:<18}' for i, v in enumerate(row)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backends', default=f'movenet_lightning,movenet_lightning@2,'
                        f'movenet_thunder,{BASELINE}',
                        help="comma-separated keypoint backends; 'name@N' runs MoveNet people "
                             'on N threads (keypoint_workers)')
    parser.add_argument('--clips', default='sample,vtest')
    parser.add_argument('--max-frames', type=int, default=0, help='0 = whole clips')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--png-every', type=int, default=25,
                        help='also save every Nth frame of clips without hand counts per frame')
    parser.add_argument('--out', default=str(REPO / 'out' / 'bench_frontend'))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    runtime = resolve_runtime('cpu', 'float32', threads=args.threads, backend='onnxruntime')
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'threads {args.threads}, cpu cores {os.cpu_count()}, load average {load:.1f} '
          f'(wall-clock latency is only meaningful on an otherwise idle machine), out {out_dir}')

    results = []
    for clip in args.clips.split(','):
        video, count_file = CLIPS[clip]
        if not video.is_file():
            print(f'SKIP {clip}: {video} not found (Debian package opencv-doc provides vtest.avi)')
            continue
        counts = json.loads(count_file.read_text()) if count_file.is_file() else {}
        if not counts:
            print(f'note: no hand count for {clip} ({count_file}); recall not measured')
        for backend in args.backends.split(','):
            results.append(run_clip(clip, video, counts, backend, args, runtime, out_dir))
    print_table(results)
    for r in results:
        if r['clip'] == 'vtest':
            print(f"{r['backend']}: vtest recall {100 * r['recall']:.1f}% (target >= "
                  f"{100 * RECALL_TARGET:.0f}%), median {r['median_ms_le7']:.1f} ms on frames "
                  f"with <= 7 people (target <= {LATENCY_TARGET_MS:.0f} ms), stages "
                  f"{ {k: round(v, 1) for k, v in r['stage_median_ms'].items()} }, keypoints "
                  f"{r['keypoints_ms_per_person']:.1f} ms/person")
    (out_dir / 'results.json').write_text(json.dumps(results, indent=1))
    print(f'wrote {out_dir / "results.json"} and annotated PNGs')


if __name__ == '__main__':
    main()
