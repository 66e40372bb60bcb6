#!/usr/bin/env python3
"""An edited video (hard cuts between shots) through the pipeline: what a cut does to the tracks.

    python benchmarks/edited_video.py [--variant NAME:param=value,...] [--out edited.mp4]

Builds one 30 FPS 1280x720 clip from four shots of the real clips (scripts/fetch_eval_data.sh),
letterboxed where the aspect differs: the Pose2Sim multi-person demo from camera 1, the same
moment from camera 3 (a cut between two cameras on the same people, as in broadcast sport),
then the bundled sample clip and OpenCV's vtest.avi (cuts to other places). Each variant's
pipeline runs every frame in order, as hmr_node does for `source:=edited.mp4 loop:=false`.
Default variants: `file:scene_cut=true` (what live.launch.py gives a video file) and
`no_cut:scene_cut=false` (a camera's setting, and the node before 2026-12-06).

Printed per variant and shot: the track ids carried over from the shot before (a cut cannot
keep who is who, so an id seen on both sides of a cut is a person of one shot given to someone
of the next), images where the detector fell back, and the 2D agreement (median distance of the
meshes' projected COCO joints to the confident keypoints, % of box height) of the per-frame and
the smoothed meshes over the first 15 images after the cut and over the rest of the shot: a
smoothed stream that blends the shot before shows as a worse start.

`--cut-check` instead tests the cut detector alone on every real clip here: no cut may be seen
within a clip (every image, every 2nd, 3rd and 5th: a node dropping images; and on one image
per clip, fast pans of a half-size window, a zoom, flashes and someone passing close to the
lens), and how many of the cuts
between two different places (one image of each clip, every ordered pair) are seen.
"""
import argparse
import itertools
from pathlib import Path
import sys

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, Path(__file__).resolve().parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from eval_real import make_pipeline, parse_variant  # noqa: E402
from hmr_models.eval.real import keypoint_agreement  # noqa: E402
from hmr_models.frontend.scene_cut import SceneCutDetector  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402

MULTI = 'data/real/pose2sim/Demo_MultiPerson/videos'
# (name, clip under the repository, first frame, frames)
SHOTS = (
    ('lab, camera 1', f'{MULTI}/cam01.mp4', 0, 50),
    ('lab, camera 3', f'{MULTI}/cam03.mp4', 50, 50),
    ('beach (sample)', 'media/sample_sports2d.mp4', 0, 80),
    ('mall (vtest)', 'data/real/opencv/vtest.avi', 0, 80),
)
SIZE = (1280, 720)
FPS = 30.0
AFTER_CUT = 15      # images after a cut that count as its start
DEFAULT_VARIANTS = ('file:scene_cut=true', 'no_cut:scene_cut=false')


def letterbox(bgr):
    s = min(SIZE[0] / bgr.shape[1], SIZE[1] / bgr.shape[0])
    small = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    y, x = (SIZE[1] - small.shape[0]) // 2, (SIZE[0] - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas


def edited_frames():
    """[(shot index, RGB image)] of the cut-together clip."""
    frames = []
    for k, (_, clip, first, count) in enumerate(SHOTS):
        cap = cv2.VideoCapture(str(REPO / clip))
        if not cap.isOpened():
            raise SystemExit(f'cannot open {clip} (run scripts/fetch_eval_data.sh)')
        for i in range(first + count):          # read on (seeking is inexact in some codecs)
            ok, bgr = cap.read()
            if not ok:
                raise SystemExit(f'{clip} ends at frame {i}, {first + count} needed')
            if i >= first:
                frames.append((k, cv2.cvtColor(letterbox(bgr), cv2.COLOR_BGR2RGB)))
        cap.release()
    return frames


def agreement(bodies, people, camera, body):
    """Median 2D agreement of one stream's meshes (% of box height); NaN without any."""
    if bodies is None or len(bodies) == 0 or bodies.vertices is None:
        return np.nan
    px = camera.project(body.regress(bodies.vertices, 'coco17'))
    err = keypoint_agreement(px, people.keypoints, people.keypoint_scores, people.boxes)
    return float(100.0 * np.nanmedian(err)) if np.isfinite(err).any() else np.nan


def run(pipeline, frames):
    """Rows per image: shot, index in it, track ids, fallback, 2D % x 2, scene cut seen."""
    body = pipeline.mesh.body
    camera = CameraIntrinsics.from_image_diagonal(*SIZE)
    rows, index, shot_before, fallbacks, cuts = [], 0, None, 0, 0
    for i, (shot, rgb) in enumerate(frames):
        index = 0 if shot != shot_before else index + 1
        shot_before = shot
        res = pipeline.process(rgb, i / FPS, camera)
        totals = pipeline.frontend.totals
        rows.append((shot, index, set(res.people.track_ids[res.people.track_ids >= 0].tolist()),
                     totals.detector_fallbacks > fallbacks,
                     agreement(res.bodies, res.people, camera, body),
                     agreement(res.smoothed, res.people, camera, body),
                     totals.scene_cuts > cuts))
        fallbacks, cuts = totals.detector_fallbacks, totals.scene_cuts
    return rows


def report(name, rows):
    print(f'\n{name}:')
    print(f"{'shot':16s}{'images':>8s}{'cuts seen':>11s}{'ids from shot before':>22s}"
          f"{'fallbacks':>11s}"
          f"{'2D % first 15, per-frame / smoothed':>38s}{'rest':>16s}")
    for k, (title, *_rest) in enumerate(SHOTS):
        mine = [r for r in rows if r[0] == k]
        before = set().union(*[r[2] for r in rows if r[0] == k - 1]) if k else set()
        carried = sorted(set().union(*[r[2] for r in mine]) & before)
        first = [r for r in mine if r[1] < AFTER_CUT]
        rest = [r for r in mine if r[1] >= AFTER_CUT]

        def med(part, col):
            v = [r[col] for r in part if np.isfinite(r[col])]
            return f'{np.median(v):5.2f}' if v else '    -'
        print(f'{title:16s}{len(mine):8d}{sum(r[6] for r in mine):11d}'
              f'{str(carried) if carried else "-":>22s}'
              f'{sum(r[3] for r in mine):11d}'
              f'{med(first, 4) + " / " + med(first, 5):>38s}'
              f'{med(rest, 4) + " / " + med(rest, 5):>16s}')


def real_clips():
    """{name: RGB images} of every real clip here (scripts/fetch_eval_data.sh)."""
    paths = [REPO / 'media' / 'sample_sports2d.mp4', REPO / 'data/real/opencv/vtest.avi',
             REPO / 'data/real/sports2d/demo.mp4',
             *sorted((REPO / 'data/real/pose2sim').glob('*/videos/*.mp4'))]
    clips = {}
    for path in paths:
        cap = cv2.VideoCapture(str(path))
        images = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if images:
            clips[f'{path.parent.parent.name}/{path.name}' if 'pose2sim' in str(path)
                  else path.name] = images
    return clips


def count_cuts(images):
    detector = SceneCutDetector()
    return sum(detector.is_cut(image) for image in images)


def camera_moves(image):
    """Image sequences of one shot, by what the camera does.

    A fast pan (a half-size window moving 5 / 10 / 20 % of its width per image), a zoom (8 %
    per image), flashes (brightness x1.8, x0.5) and someone passing close to the lens, all
    shown at the image's size.
    """
    h, w = image.shape[:2]
    out = {}
    for share in (0.05, 0.1, 0.2):
        step = max(1, int(share * w / 2))
        out[f'pan {share:.0%}'] = [
            cv2.resize(image[h // 4:h // 4 + h // 2, x:x + w // 2], (w, h))
            for x in range(0, w - w // 2, step)]
    zoom = []
    for k in range(20):
        s = 0.92 ** k
        zw, zh = int(w * s), int(h * s)
        x, y = (w - zw) // 2, (h - zh) // 2
        zoom.append(cv2.resize(image[y:y + zh, x:x + zw], (w, h)))
    out['zoom'] = zoom
    out['flashes'] = [np.clip(image * g, 0, 255).astype(np.uint8)
                      for g in (1.0, 1.8, 1.0, 0.5, 1.0)]
    # someone passing close to the lens: a dark, textured body over 15 / 30 % more of the
    # width per image, up to 95 %, and away again
    rng = np.random.default_rng(0)
    body = (np.array([30, 25, 40]) * (0.7 + 0.6 * rng.random((h, w, 1)))).astype(np.uint8)
    for share in (0.15, 0.3):
        covers = [*np.arange(share, 0.95, share), 0.95, 0.95, *np.arange(0.95, 0.0, -share), 0]
        seq = []
        for c in covers:
            seq.append(image.copy())
            seq[-1][:, :int(w * c)] = body[:, :int(w * c)]
        out[f'passer-by {share:.0%}'] = seq
    return out


def cut_check():
    clips = real_clips()
    print(f"{'clip':32s}{'images':>8s}   cuts seen at image steps 1 / 2 / 3 / 5;  "
          'pans, zoom, flashes, passers-by')
    for name, images in clips.items():
        steps = ' / '.join(str(count_cuts(images[::k])) for k in (1, 2, 3, 5))
        moves = ', '.join(f'{what} {count_cuts(seq)}'
                          for what, seq in camera_moves(images[len(images) // 2]).items())
        print(f'{name:32s}{len(images):8d}   {steps:22s}  {moves}')
    lab = {n for n in clips if '/' in n}      # Pose2Sim's two demos: cameras of one room
    seen = {True: [0, 0], False: [0, 0]}
    for a, b in itertools.permutations(clips, 2):
        one = cv2.resize(clips[a][50], SIZE), cv2.resize(clips[b][50], SIZE)
        between_places = not (a in lab and b in lab)
        seen[between_places][0] += count_cuts(one)
        seen[between_places][1] += 1
    print(f'cuts between different places seen: {seen[True][0]} of {seen[True][1]}; between '
          f'cameras of one lab (same room): {seen[False][0]} of {seen[False][1]}')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--variant', action='append', default=[], metavar='NAME:K=V,...')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--out', type=Path, help='also write the edited clip here (MP4)')
    p.add_argument('--cut-check', action='store_true',
                   help='test the cut detector alone on every real clip (see above)')
    args = p.parse_args(argv)
    if args.cut_check:
        cut_check()
        return 0
    frames = edited_frames()
    print(f'edited clip: {len(frames)} images at {FPS:g} FPS, {len(SHOTS)} shots, cuts at '
          + ', '.join(str(sum(s[3] for s in SHOTS[:k])) for k in range(1, len(SHOTS))))
    if args.out:
        out = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*'mp4v'), FPS, SIZE)
        for _, rgb in frames:
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        out.release()
        print(f'wrote {args.out}')
    for name, values in (parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)):
        pipeline = make_pipeline(values, args.threads)
        try:
            report(name, run(pipeline, frames))
        finally:
            pipeline.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
