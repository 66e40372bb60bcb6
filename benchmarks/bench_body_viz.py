#!/usr/bin/env python3
"""Body-model and visual-output speed: forward pass, RViz mesh markers, overlay rendering.

Targets (issue 4): mesh marker build <= 2 ms for a ~14k-triangle mesh; overlay >= 15 FPS at
640x480 with 3 people on CPU. Prints medians and the ratio to the slow baseline in the same run.

    python benchmarks/bench_body_viz.py [--frames 60] [--body PATH]
"""
import argparse
from pathlib import Path
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hmr_models.body import load_body_model  # noqa: E402
from hmr_models.render import OverlayRenderer  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402


def median_ms(fn, repeats, warmup=2):
    """Median wall-clock milliseconds of fn()."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


def cpu_ms(fn, repeats):
    """Mean process CPU milliseconds per call (all threads, llvmpipe's included).

    On a shared machine the wall clock mostly measures the other processes; CPU time is what
    the work costs: on an idle machine the wall time lies between cpu_ms / cores and cpu_ms.
    """
    fn()
    t = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - t) * 1000.0 / repeats


def scene(body, people, seed=0):
    """`people` bodies standing 3-5 m in front of a 640x480 camera (optical frame)."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(0.0, 0.15, (people, 72)).astype(np.float32)
    pose[:, :3] = [np.pi, 0.0, 0.0]                      # upright in the optical frame
    transl = np.stack([np.linspace(-1.0, 1.0, people), np.full(people, -0.2),
                       np.linspace(3.0, 5.0, people)], axis=1).astype(np.float32)
    return pose, transl


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--body', default=None, help='body model file (default: open body)')
    args = parser.parse_args(argv)

    body = load_body_model(args.body)
    print(f'body: {body.name}, {body.num_vertices} vertices, {len(body.faces)} triangles')
    camera = CameraIntrinsics.from_image_diagonal(640, 480)
    pose, transl = scene(body, 3)
    import torch
    with torch.no_grad():
        for threads in sorted({1, torch.get_num_threads()}):
            torch.set_num_threads(threads)
            fwd1 = median_ms(lambda: body(pose[:1], transl=transl[:1]), args.frames)
            fwd3 = median_ms(lambda: body(pose, transl=transl), args.frames)
            print(f'forward (torch CPU, {threads} thread(s)): batch 1 {fwd1:.2f} ms, batch 3 '
                  f'{fwd3:.2f} ms')
            if not body.pose_correctives:
                # Baseline: smplx's forward, which also multiplies the all-zero correctives.
                pose_t, transl_t = torch.as_tensor(pose), torch.as_tensor(transl)
                betas_t = torch.zeros(len(pose), body.num_betas)

                def smplx_forward(n):
                    return body.smpl(betas=betas_t[:n], global_orient=pose_t[:n, :3],
                                     body_pose=pose_t[:n, 3:], transl=transl_t[:n])
                ref1 = median_ms(lambda: smplx_forward(1), args.frames)
                ref3 = median_ms(lambda: smplx_forward(3), args.frames)
                print(f'  smplx forward with the zero pose correctives: batch 1 {ref1:.2f} ms '
                      f'(x{ref1 / fwd1:.2f}), batch 3 {ref3:.2f} ms (x{ref3 / fwd3:.2f})')
        verts, joints = body(pose, transl=transl).numpy()

    try:
        from hmr_ros.markers import body_markers, body_markers_cdr
    except ImportError as exc:
        print(f'markers: skipped ({exc})')
    else:
        ids = [1, 2, 3]
        fast1 = median_ms(lambda: body_markers_cdr(0.0, 'cam', verts[:1], body.faces, ids[:1],
                                                   joints[:1]), args.frames)
        fast3 = median_ms(lambda: body_markers_cdr(0.0, 'cam', verts, body.faces, ids, joints),
                          args.frames)
        slow1 = median_ms(lambda: body_markers(0.0, 'cam', verts[:1], body.faces, ids[:1],
                                               joints[:1]), 5, warmup=1)
        cpu3 = cpu_ms(lambda: body_markers_cdr(0.0, 'cam', verts, body.faces, ids, joints),
                      args.frames)
        size = len(body_markers_cdr(0.0, 'cam', verts[:1], body.faces, ids[:1], joints[:1]))
        print(f'markers, 1 person ({len(body.faces)} triangles, {size / 1e6:.2f} MB): CDR from '
              f'numpy {fast1:.2f} ms (target <= 2 ms) vs message objects {slow1:.1f} ms '
              f'-> {slow1 / fast1:.0f}x faster; 3 people {fast3:.2f} ms wall, {cpu3:.2f} ms CPU')

    renderer = OverlayRenderer(body.faces)
    image = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    ids = np.array([1, 2, 3])
    empty = median_ms(lambda: renderer.render(image, verts[:0], camera), args.frames)
    ms3 = median_ms(lambda: renderer.render(image, verts, camera, track_ids=ids), args.frames)
    ms1 = median_ms(lambda: renderer.render(image, verts[:1], camera, track_ids=ids[:1]),
                    args.frames)
    cpu3 = cpu_ms(lambda: renderer.render(image, verts, camera, track_ids=ids), args.frames)
    print(f'overlay 640x480 on {renderer.gl_renderer}: 3 people {ms3:.1f} ms wall = '
          f'{1000.0 / ms3:.0f} FPS (target >= 15), CPU {cpu3:.1f} ms/frame = '
          f'{1000.0 / cpu3:.0f} FPS on one free core; 1 person {ms1:.1f} ms, no people '
          f'{empty:.2f} ms')
    renderer.release()
    return 0


if __name__ == '__main__':
    sys.exit(main())
