"""Inference backends of the mesh stages: torch vs onnxruntime (vs int8), same run, same inputs.

For the bundled compact DPMesh (the predictor's whole step: crops, network, body) and DiffMesh
(one streaming tick over M tracks), prints per-call medians of wall time and of the process's
CPU time (the CPU time barely moves when other jobs share the machine, the wall time does), the
ratio to torch, and the largest output difference to torch.

    .venv/bin/python benchmarks/bench_backends.py [--threads 1 2] [--people 1 3 7]
"""
import argparse
import os
import time

import numpy as np
import torch

from hmr_models.pipeline import PipelineConfig, build_pipeline
from hmr_models.types import CameraIntrinsics, People

REPEATS = 15
WARMUP = 4


def people_in_a_row(n, width=1280, height=720):
    """n upright people side by side (the pipeline's synthetic warm-up person, repeated)."""
    from hmr_models.pipeline import _standing_person
    one = _standing_person(width, height)
    shift = np.linspace(-0.35, 0.35, n) * width if n > 1 else np.zeros(1)
    boxes = np.repeat(one.boxes, n, 0) + np.stack([shift, 0 * shift] * 2, 1)
    keypoints = np.repeat(one.keypoints, n, 0) + np.stack([shift, 0 * shift], 1)[:, None]
    return People(boxes=boxes.astype(np.float32), scores=np.ones(n, np.float32),
                  keypoints=keypoints.astype(np.float32),
                  keypoint_scores=np.repeat(one.keypoint_scores, n, 0),
                  track_ids=np.arange(n, dtype=np.int64))


def timed(fn):
    """(median wall ms, median CPU ms) of fn over REPEATS calls after WARMUP calls."""
    for _ in range(WARMUP):
        fn()
    wall, cpu = [], []
    for _ in range(REPEATS):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return 1e3 * float(np.median(wall)), 1e3 * float(np.median(cpu))


def measure(backend, threads, counts):
    pipeline = build_pipeline(PipelineConfig(threads=threads, backend=backend,
                                             pipelining=False))
    image = np.full((720, 1280, 3), 127, np.uint8)
    camera = CameraIntrinsics.from_image_diagonal(1280, 720)
    rows = {}
    for n in counts:
        people = people_in_a_row(n)
        mesh = pipeline.mesh
        bodies = mesh.predict(image, people, camera)
        rows[('dpmesh', n)] = (*timed(lambda: mesh.predict(image, people, camera)),
                               bodies.pose)
        smoother = pipeline.temporal
        smoother.reset()
        clock = iter(range(10 ** 6))
        smoothed = None
        for _ in range(20):   # a full window, then the timed ticks
            smoothed = smoother.update(next(clock) / 30, people.track_ids, bodies, people)
        rows[('diffmesh', n)] = (*timed(lambda: smoother.update(next(clock) / 30,
                                                                people.track_ids, bodies,
                                                                people)),
                                 smoothed.pose)
    used = (pipeline.mesh.backend, pipeline.temporal.backend)
    pipeline.close()
    return rows, used


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--people', type=int, nargs='+', default=[1, 3, 7])
    parser.add_argument('--backends', nargs='+', default=['torch', 'onnxruntime'])
    args = parser.parse_args()
    print(f'{time.strftime("%Y-%m-%d %H:%M")}, {os.cpu_count()} cores, torch '
          f'{torch.__version__}; medians of {REPEATS} calls')
    print(f"{'threads':>7} {'model':9} {'people':>6} {'backend':12} {'wall ms':>8} "
          f"{'cpu ms':>8} {'x torch (cpu)':>13} {'max diff':>9}")
    for threads in args.threads:
        results = {b: measure(b, threads, args.people) for b in args.backends}
        for (model, n) in results[args.backends[0]][0]:
            base = results['torch'][0][(model, n)] if 'torch' in results else None
            for backend, (rows, used) in results.items():
                wall, cpu, out = rows[(model, n)]
                actual = used[0] if model == 'dpmesh' else used[1]
                ratio = cpu / base[1] if base else float('nan')
                diff = float(np.abs(out - base[2]).max()) if base else float('nan')
                print(f'{threads:>7} {model:9} {n:>6} {actual:12} {wall:8.1f} {cpu:8.1f} '
                      f'{ratio:13.2f} {diff:9.1e}')


if __name__ == '__main__':
    main()
