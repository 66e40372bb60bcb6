#!/usr/bin/env python3
"""A folder of photos as hmr_node gets it from live.launch.py: people found in each photo.

    python benchmarks/photo_folder.py PHOTOS/ [--variant NAME:param=value,...] [--sheet F.png]
    python benchmarks/photo_folder.py --demo DIR    # six stills cut from the real clips
                                                    # (scripts/fetch_eval_data.sh), then as above

The photos play in camera_source's order (natural number order), stamped 0.1 s apart (its
image-folder rate), through one pipeline per variant, as the node runs them one after another.
Each photo is also run alone through a fresh pipeline: the people it has on its own. The table
gives, per photo, the people each variant found and how many of them lie where a person of the
photo alone is (box centres within a fifth of the box height), so a variant that carries people
over from the photo before, or misses people, shows. Default variants: `no_fallback`
(detector_fallback false: the node before 2026-12-06), `default:` and `stills:stills=true`
(what `stills:=auto` gives a folder of photos). `--sheet` writes a contact sheet: per photo, the
per-frame meshes of each variant side by side.
"""
import argparse
from pathlib import Path
import sys

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, Path(__file__).resolve().parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from eval_real import make_pipeline, parse_variant  # noqa: E402
from hmr_ros.frame_sources import image_files  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402

# --demo: (name, clip under the repository, frame): unrelated scenes, two pairs of one place.
DEMO_STILLS = (
    ('beach.jpg', 'media/sample_sports2d.mp4', 60),
    ('mall.jpg', 'data/real/opencv/vtest.avi', 300),
    ('lab_two.jpg', 'data/real/pose2sim/Demo_MultiPerson/videos/cam02.mp4', 90),
    ('park_crouch.jpg', 'data/real/sports2d/demo.mp4', 200),
    ('lab_one.jpg', 'data/real/pose2sim/Demo_SinglePerson/videos/cam01.mp4', 60),
    ('mall2.jpg', 'data/real/opencv/vtest.avi', 600),
)
DEFAULT_VARIANTS = ('no_fallback:detector_fallback=false', 'default:', 'stills:stills=true')
FOLDER_FPS = 10.0     # camera_source's image-folder rate


def write_demo(folder):
    """The DEMO_STILLS as JPEG photos in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, clip, frame in DEMO_STILLS:
        cap = cv2.VideoCapture(str(REPO / clip))
        for _ in range(frame + 1):            # read on (seeking is inexact in some codecs)
            ok, bgr = cap.read()
        cap.release()
        if not ok:
            raise SystemExit(f'cannot read frame {frame} of {clip} '
                             '(run scripts/fetch_eval_data.sh)')
        cv2.imwrite(str(folder / name), bgr)
    return folder


def read_photos(folder, max_width):
    files = image_files(folder)
    if not files:
        raise SystemExit(f'no images in {folder}')
    photos = []
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            print(f'skipping unreadable {path}', file=sys.stderr)
            continue
        if max_width and bgr.shape[1] > max_width:       # camera_source's max_width
            s = max_width / bgr.shape[1]
            bgr = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        photos.append((path.name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return photos


def same_people(found, alone):
    """How many of `found`'s people lie where one of `alone`'s people is (one to one)."""
    if not len(found) or not len(alone):
        return 0
    ca = (alone.boxes[:, :2] + alone.boxes[:, 2:]) / 2
    cf = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
    reach = 0.2 * (alone.boxes[:, 3] - alone.boxes[:, 1])
    near = np.linalg.norm(cf[:, None] - ca[None], axis=-1) <= reach[None]
    matched, used = 0, set()
    for i in range(len(found)):
        j = next((j for j in np.nonzero(near[i])[0] if j not in used), None)
        if j is not None:
            used.add(j)
            matched += 1
    return matched


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('folder')
    p.add_argument('--demo', action='store_true',
                   help='first write the six DEMO_STILLS into the folder')
    p.add_argument('--variant', action='append', default=[], metavar='NAME:K=V,...')
    p.add_argument('--max-width', type=int, default=1280)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--sheet', type=Path, help='PNG contact sheet of the per-frame meshes')
    args = p.parse_args(argv)
    if args.demo:
        write_demo(args.folder)
    photos = read_photos(args.folder, args.max_width)
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]

    alone = []
    single = make_pipeline({}, args.threads)
    for _, rgb in photos:
        single.reset_stream()
        camera = CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
        alone.append(single.process(rgb, 0.0, camera).people)
    single.close()
    results = {}
    for name, values in variants:
        pipeline = make_pipeline(values, args.threads)
        results[name] = []
        for i, (_, rgb) in enumerate(photos):
            camera = CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
            results[name].append((pipeline.process(rgb, i / FOLDER_FPS, camera), camera))
        pipeline.close()

    width = max(len(n) for n, _ in photos)
    print(f"{'photo':<{width}}  alone  " + '  '.join(f'{n:>16}' for n, _ in variants)
          + '   (people found / of them where the photo alone has a person)')
    totals = {name: [0, 0] for name, _ in variants}
    for k, (photo, _) in enumerate(photos):
        cells = []
        for name, _ in variants:
            people = results[name][k][0].people
            same = same_people(people, alone[k])
            totals[name][0] += same
            totals[name][1] += len(people)
            cells.append(f'{len(people):>8} / {same:<5}')
        print(f'{photo:<{width}}  {len(alone[k]):>5}  ' + '  '.join(f'{c:>16}' for c in cells))
    n_alone = sum(len(a) for a in alone)
    print(f"{'all':<{width}}  {n_alone:>5}  " + '  '.join(
        f'{totals[n][1]:>8} / {totals[n][0]:<5}' for n, _ in variants))
    for name, _ in variants:
        print(f'{name}: {totals[name][0]} of the {n_alone} people of the photos alone found '
              f'({100 * totals[name][0] / max(n_alone, 1):.0f} %), {totals[name][1]} in all')
    if args.sheet:
        write_sheet(args.sheet, photos, variants, results)
    return 0


def write_sheet(path, photos, variants, results):
    from hmr_models.frontend import draw_people
    from hmr_models.render import OverlayRenderer
    from overlay_real import label
    renderer, rows = None, []
    for k, (photo, rgb) in enumerate(photos):
        cells = []
        for name, _ in variants:
            result, camera = results[name][k]
            image = draw_people(rgb.copy(), result.people)
            if result.bodies is not None and len(result.bodies):
                if renderer is None:
                    from hmr_models.body import load_body_model
                    renderer = OverlayRenderer(load_body_model().faces)
                image = renderer.render(image, result.bodies.vertices, camera,
                                        result.people.track_ids)
            cell = label(cv2.resize(image, (360, round(360 * rgb.shape[0] / rgb.shape[1])),
                                    interpolation=cv2.INTER_AREA),
                         f'{name}: {len(result.people)}')
            cells.append(cell)
        height = max(c.shape[0] for c in cells)
        cells = [np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0))) for c in cells]
        rows.append(np.concatenate(cells, 1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f'wrote {path}')


if __name__ == '__main__':
    sys.exit(main())
