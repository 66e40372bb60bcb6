"""Meshes of the default pipeline drawn on real footage: PNG contact sheets to look at.

    python benchmarks/overlay_real.py media/sample_sports2d.mp4 other.mp4 --frames 40 80 \
        --out out/overlays [--dpmesh-checkpoint DIR] [--temporal-weights DIR]

Each video runs through the full pipeline (front-end, DPMesh, DiffMesh per track) from its
first frame, so the temporal model has its history; the listed frames are saved as
`<video>_<frame>.png`: the camera image with the smoothed meshes (left) and the front-end's 2D
skeletons (right). Also prints people found and the per-stage median times.
"""
import argparse
from pathlib import Path
import statistics
import sys

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hmr_models.diffmesh import TemporalConfig  # noqa: E402
from hmr_models.dpmesh.factory import MeshConfig  # noqa: E402
from hmr_models.frontend import draw_people  # noqa: E402
from hmr_models.pipeline import PipelineConfig, StageConfigs, build_pipeline  # noqa: E402
from hmr_models.render import OverlayRenderer  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402


def run_video(path, frames, pipeline, renderer, out_dir, max_width):
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f'cannot open {path}')
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    last = max(frames)
    times = {}
    found = []
    for i in range(last + 1):
        ok, bgr = cap.read()
        if not ok:
            print(f'{path}: ends at frame {i}', file=sys.stderr)
            break
        if max_width and bgr.shape[1] > max_width:
            s = max_width / bgr.shape[1]
            bgr = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        camera = CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
        result = pipeline.process(rgb, i / fps, camera)
        found.append(len(result.people))
        for k, v in result.timings_ms.items():
            times.setdefault(k, []).append(v)
        if i in frames:
            bodies = result.smoothed if result.smoothed is not None else result.bodies
            mesh = rgb
            if bodies is not None and len(bodies):
                mesh = renderer.render(rgb, bodies.vertices, camera, result.people.track_ids)
            skel = draw_people(rgb.copy(), result.people)
            sheet = np.concatenate([mesh, skel], axis=1)
            out = out_dir / f'{Path(path).stem}_{i:04d}.png'
            cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
            print(f'wrote {out} ({len(result.people)} people)')
    cap.release()
    med = {k: statistics.median(v) for k, v in times.items()
           if k in ('frontend', 'mesh', 'temporal', 'total')}
    print(f'{Path(path).name}: {len(found)} frames, people per frame median '
          f'{statistics.median(found) if found else 0}, median ms ' +
          ', '.join(f'{k} {v:.0f}' for k, v in med.items()))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('videos', nargs='+')
    p.add_argument('--frames', nargs='+', type=int, default=[30, 60])
    p.add_argument('--out', type=Path, default=Path('out/overlays'))
    p.add_argument('--dpmesh-checkpoint', default='')
    p.add_argument('--temporal-weights', default='')
    p.add_argument('--max-width', type=int, default=1280)
    p.add_argument('--threads', type=int, default=0)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    renderer = None
    for video in args.videos:
        # A fresh pipeline per video: tracks and their temporal history start empty.
        pipeline = build_pipeline(PipelineConfig(threads=args.threads), StageConfigs(
            mesh=MeshConfig(dpmesh_checkpoint=args.dpmesh_checkpoint),
            temporal=TemporalConfig(temporal_weights=args.temporal_weights)))
        renderer = renderer or OverlayRenderer(pipeline.mesh.body.faces)
        run_video(video, set(args.frames), pipeline, renderer, args.out, args.max_width)
    return 0


if __name__ == '__main__':
    sys.exit(main())
