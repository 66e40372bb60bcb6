"""Meshes of the default pipeline drawn on real footage: PNG contact sheets to look at.

    python benchmarks/overlay_real.py media/sample_sports2d.mp4 other.mp4 photo.jpg \
        --frames 40 80 --out out/overlays [--variant NAME:param=value,...]

Each video runs through the full pipeline (front-end, DPMesh, DiffMesh per track) from its
first frame, so the temporal model has its history; the listed frames are saved as
`<video>_<frame>.png`: per variant one row with the per-frame meshes (`~/persons`), the
smoothed meshes (`~/persons_smoothed`) and the front-end's 2D skeletons side by side. Variants
are parameter sets as in eval_real.py (default: the defaults only; e.g. `--variant
today:refine_iterations=0 --variant default:` for before/after rows). An image is one frame.
Also prints people found and the per-stage median times.
"""
import argparse
from pathlib import Path
import statistics
import sys

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, Path(__file__).resolve().parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from eval_real import make_pipeline, parse_variant  # noqa: E402
from hmr_models.frontend import draw_people  # noqa: E402
from hmr_models.render import OverlayRenderer  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402

IMAGES = ('.png', '.jpg', '.jpeg', '.bmp')


def read(path, last, max_width):
    """(index, rgb) of the frames 0..last of a video, or the one image."""
    if Path(path).suffix.lower() in IMAGES:
        bgr = cv2.imread(str(path))
        if bgr is None:
            raise SystemExit(f'cannot open {path}')
        frames = [bgr]
    else:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise SystemExit(f'cannot open {path}')
        frames = (cap.read()[1] for _ in range(last + 1))
    for i, bgr in enumerate(frames):
        if bgr is None:
            print(f'{path}: ends at frame {i}', file=sys.stderr)
            return
        if max_width and bgr.shape[1] > max_width:
            s = max_width / bgr.shape[1]
            bgr = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def label(image, text):
    image = np.ascontiguousarray(image).copy()
    for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(image, text, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, width,
                    cv2.LINE_AA)
    return image


def row(rgb, result, camera, renderer, name):
    cells = []
    for stream, bodies in (('per-frame', result.bodies), ('smoothed', result.smoothed)):
        mesh = rgb
        if bodies is not None and len(bodies) and bodies.vertices is not None:
            mesh = renderer.render(rgb, bodies.vertices, camera, result.people.track_ids)
        cells.append(label(mesh, f'{name}: {stream}'))
    cells.append(label(draw_people(rgb.copy(), result.people), f'{name}: keypoints'))
    return np.concatenate(cells, axis=1)


def run_video(path, frames, pipelines, renderer, out_dir, max_width, fps=None):
    if fps is None:
        fps = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) or 30.0
    times, found = {}, []
    for pipeline in pipelines.values():
        pipeline.reset_stream()
    rows = {}
    for i, rgb in read(path, max(frames), max_width):
        camera = CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
        for name, pipeline in pipelines.items():
            result = pipeline.process(rgb, i / fps, camera)
            found.append(len(result.people))
            for k, v in result.timings_ms.items():
                times.setdefault((name, k), []).append(v)
            if i in frames or Path(path).suffix.lower() in IMAGES:
                rows.setdefault(i, []).append(row(rgb, result, camera, renderer, name))
    for i, sheet_rows in rows.items():
        out = out_dir / f'{Path(path).stem}_{i:04d}.png'
        cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(sheet_rows, 0), cv2.COLOR_RGB2BGR))
        print(f'wrote {out}')
    med = {k: statistics.median(v) for k, v in times.items()
           if k[1] in ('frontend', 'mesh', 'temporal', 'total')}
    print(f'{Path(path).name}: people per frame median '
          f'{statistics.median(found) if found else 0}, median ms ' +
          ', '.join(f'{n}/{k} {v:.0f}' for (n, k), v in med.items()))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('videos', nargs='+')
    p.add_argument('--frames', nargs='+', type=int, default=[30, 60])
    p.add_argument('--out', type=Path, default=Path('out/overlays'))
    p.add_argument('--variant', action='append', default=[], metavar='NAME:K=V,...')
    p.add_argument('--max-width', type=int, default=1280)
    p.add_argument('--threads', type=int, default=0)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    variants = [parse_variant(v) for v in (args.variant or ['default:'])]
    renderer = None
    for video in args.videos:
        # Fresh pipelines per video: tracks and their temporal history start empty.
        pipelines = {name: make_pipeline(values, args.threads) for name, values in variants}
        renderer = renderer or OverlayRenderer(next(iter(pipelines.values())).mesh.body.faces)
        run_video(video, set(args.frames), pipelines, renderer, args.out, args.max_width)
        for pipeline in pipelines.values():
            pipeline.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
