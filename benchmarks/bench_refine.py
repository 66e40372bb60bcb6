"""Keypoint refinement speed: ms per person on the CPU, with the DPMesh step as the baseline.

    python benchmarks/bench_refine.py [--threads 2] [--people 1 2 4 8] [--repeats 30] \
        [--backend auto]

Real inputs: the people of the bundled sample clip (front-end keypoints), their DPMesh
estimates, then the refinement (hmr_models.fitting, default RefineConfig) timed alone, per
frame, for N copies of those people (batched as the predictor batches a frame). Prints medians
of ms per frame and per person, and the bundled DPMesh forward of the same N people in the same
run (baseline), and the refinement again with a known floor (--floor-height). Budget: <= 10 ms
per person.
"""
import argparse
from pathlib import Path
import statistics
import sys
import time

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hmr_models.dpmesh.factory import MeshConfig, create_mesh_predictor  # noqa: E402
from hmr_models.fitting import KeypointRefiner, RefineConfig  # noqa: E402
from hmr_models.frontend import FrontEndConfig, PersonFrontEnd  # noqa: E402
from hmr_models.runtime import resolve_runtime  # noqa: E402
from hmr_models.types import CameraIntrinsics, People  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--video', default=str(REPO / 'media' / 'sample_sports2d.mp4'))
    p.add_argument('--frame', type=int, default=60)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--people', type=int, nargs='+', default=[1, 2, 4, 8])
    p.add_argument('--repeats', type=int, default=30)
    p.add_argument('--floor-height', type=float, default=1.6,
                   help='also time the refinement with a known floor this many metres under a '
                   'level camera (refine_floor_sigma; 0 = not)')
    p.add_argument('--backend', default='auto',
                   help="DPMesh baseline's backend ('auto': onnxruntime on the CPU, the default)")
    args = p.parse_args(argv)
    runtime = resolve_runtime('cpu', 'auto', args.threads, args.backend)
    cap = cv2.VideoCapture(args.video)
    for _ in range(args.frame + 1):
        ok, bgr = cap.read()
    if not ok:
        raise SystemExit(f'cannot read frame {args.frame} of {args.video}')
    s = 1280 / bgr.shape[1]
    rgb = cv2.cvtColor(cv2.resize(bgr, None, fx=s, fy=s), cv2.COLOR_BGR2RGB)
    camera = CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
    people = PersonFrontEnd(FrontEndConfig(), runtime).detect(rgb)
    if not len(people):
        raise SystemExit('no people found in that frame')
    predictor = create_mesh_predictor('compact', MeshConfig(), runtime)
    refiner = KeypointRefiner(predictor.body, RefineConfig())
    print(f'{len(people)} people in frame {args.frame}; {torch.get_num_threads()} torch threads; '
          f'DPMesh on {predictor.backend}')
    floor = camera.with_floor((0.0, -1.0, 0.0), args.floor_height) if args.floor_height > 0 \
        else None
    print(f"{'people':>6s} {'refine ms':>10s} {'ms/person':>10s} {'DPMesh ms':>10s} "
          f"{'ms/person':>10s}" + (f" {'floor ms':>10s} {'ms/person':>10s}" if floor else ''))
    for n in args.people:
        idx = np.arange(n) % len(people)
        batch = People(**{k: getattr(people, k)[idx] for k in
                          ('boxes', 'scores', 'keypoints', 'keypoint_scores', 'track_ids')})
        est = predictor.predict(rgb, batch, camera)
        refine, network, floored = [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            refiner.refine(est.pose, est.betas, est.translation, batch.keypoints,
                           batch.keypoint_scores, batch.boxes, camera)
            refine.append(1e3 * (time.perf_counter() - t0))
            if floor is not None:      # interleaved, so both see the same machine load
                t0 = time.perf_counter()
                refiner.refine(est.pose, est.betas, est.translation, batch.keypoints,
                               batch.keypoint_scores, batch.boxes, floor)
                floored.append(1e3 * (time.perf_counter() - t0))
            predictor.predict(rgb, batch, camera)
            network.append(predictor.last_timings_ms['dpmesh'])
        r, d = statistics.median(refine), statistics.median(network)
        line = f'{n:6d} {r:10.1f} {r / n:10.1f} {d:10.1f} {d / n:10.1f}'
        if floored:
            f = statistics.median(floored)
            line += f' {f:10.1f} {f / n:10.1f}'
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
