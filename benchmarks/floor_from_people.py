"""When and how well a fixed camera finds its floor from people (PipelineConfig floor_from_people).

    .venv/bin/python benchmarks/floor_from_people.py data/real/opencv/vtest.avi --png out/f.png
    .venv/bin/python benchmarks/floor_from_people.py --pose2sim      # every Pose2Sim view

Runs the node's pipeline with `floor_from_people` on a video and prints, at every refit, the
floor it holds (the camera's height and how far it looks down), how well the latest fit knows
the tilt, or why there is none. Two checks that do not use the meshes:

- a plain video: the horizon from the people's boxes alone (single-view metrology: a standing
  person's box height grows linearly with how far below the horizon their feet are; Hoiem,
  Efros and Hebert, "Putting objects in perspective", 2006), which gives the camera's pitch
  for the same focal length guess (the image diagonal). That model holds for a level camera:
  it reads about 1 degree high at 20 degrees down and 8 at 30 (test/eval/test_floor_check.py);
- `--pose2sim`: each view's calibration (the floor is its z = 0), for the up direction's error.

--png draws the tilt's standard error and the pitch over the frames. --positions (a plain
video) then runs the clip twice more, without a floor and with the floor found given from the
first frame, and compares where the people are: the hip's acceleration along each track (how
much the position shakes: pedestrians walk smoothly, so less is better) and a bird's-eye view
of the tracks on the found floor (--positions-png).
"""
import argparse
import math
from pathlib import Path
import sys

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / 'benchmarks'))

from eval_real import MULTIVIEW, make_pipeline, read_frames  # noqa: E402
from hmr_models.eval.multiview import read_qualisys_calibration  # noqa: E402
from hmr_models.fitting.floor_estimate import look_down_deg  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402


def watch(pipeline, frames, camera=None):
    """The pipeline's floor_from_people over `frames`: rows, boxes and the last floor.

    rows: (frame, found, look-down deg, roll deg, height m, tilt sd deg, reason) per refit;
    boxes: (bottom y, height) of the people whose head and both ankles were seen.
    """
    finder = pipeline.floor_estimate
    pipeline.reset_stream()
    rows, boxes, frame = [], [], [0]
    refit = finder.refit

    def refit_and_note():                   # a row at every refit the pipeline makes
        changed = refit()
        if finder.floor is None:
            rows.append((frame[0], False, np.nan, np.nan, np.nan, finder.tilt_sd,
                         finder.last_reason))
        else:
            up, height = finder.floor
            roll = math.degrees(math.atan2(-up[0], -up[1]))
            rows.append((frame[0], True, look_down_deg(up), roll, height, finder.tilt_sd, ''))
        return changed
    finder.refit = refit_and_note
    for frame[0], (stamp, rgb) in enumerate(frames):
        cam = camera or CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
        people = pipeline.process(rgb, stamp, cam).people
        for box, scores in zip(people.boxes, people.keypoint_scores):
            if scores[[0, 15, 16]].min() > 0.5 and box[3] < rgb.shape[0] - 5:
                boxes.append((box[3], box[3] - box[1]))
    finder.refit = refit
    return rows, np.array(boxes).reshape(-1, 2), finder.floor


def horizon_pitch(boxes, camera):
    """The camera's pitch (deg) from box heights against foot rows: h = a (y - y_horizon)."""
    if len(boxes) < 20:
        return float('nan')
    y, h = boxes[:, 0], boxes[:, 1]
    a = np.column_stack([y, np.ones_like(y)])
    w = np.ones_like(y)
    for _ in range(10):                     # robust (Cauchy) line fit
        coef = np.linalg.lstsq(a * w[:, None], h * w, rcond=None)[0]
        r = h - a @ coef
        s = 1.4826 * np.median(np.abs(r)) + 1e-9
        w = 1.0 / np.sqrt(1.0 + (r / (2.0 * s)) ** 2)
    y_horizon = -coef[1] / coef[0]
    return math.degrees(math.atan2(camera.cy - y_horizon, camera.fy))


def hip_tracks(pipeline, frames, camera_with=None):
    """{track id: [(frame, hip xyz per-frame, hip xyz smoothed)]}, camera frame, metres."""
    pipeline.reset_stream()
    tracks = {}
    for i, (stamp, rgb) in enumerate(frames):
        cam = CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
        res = pipeline.process(rgb, stamp, camera_with(cam) if camera_with else cam)
        if res.bodies is None:
            continue
        for k, t in enumerate(res.people.track_ids):
            if t >= 0:
                tracks.setdefault(int(t), []).append(
                    (i, res.bodies.joints[k, 0], res.smoothed.joints[k, 0]))
    return tracks


def hip_acceleration(tracks, stream):
    """Median |second difference| of the hip over consecutive frames (mm / frame^2)."""
    acc = []
    for rows in tracks.values():
        f = np.array([r[0] for r in rows])
        x = np.array([r[1 + stream] for r in rows], np.float64)
        ok = (f[2:] - f[:-2]) == 2
        acc += list(1e3 * np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=1)[ok])
    return float(np.median(acc)) if acc else float('nan')


def plot_positions(runs, up, path):
    """Bird's-eye view of each run's per-frame hip tracks on the floor (up: the found up)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    up = np.asarray(up, np.float64)
    right = np.array([1.0, 0.0, 0.0]) - up[0] * up
    right /= np.linalg.norm(right)
    ahead = np.cross(up, right)                # along the floor, away from the camera
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 6), sharex=True, sharey=True)
    for ax, (name, tracks) in zip(np.atleast_1d(axes), runs):
        for rows in tracks.values():
            if len(rows) < 10:
                continue
            x = np.array([r[1] for r in rows], np.float64)
            ax.plot(x @ right, x @ ahead, '.-', ms=2, lw=0.5)
        ax.set_title(name)
        ax.set_xlabel('across the image (m)')
        ax.set_aspect('equal')
    np.atleast_1d(axes)[0].set_ylabel('away from the camera, along the floor (m)')
    fig.suptitle("people's hips seen from above, per-frame meshes, one colour per track")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f'wrote {path}')


def report(name, rows, found):
    first = next((r[0] for r in rows if r[1]), None)
    print(f'\n{name}: ' + (f'found at frame {first}' if first is not None else 'no floor')
          + (f'; last: the camera {found[1]:.2f} m above it, looking '
             f'{look_down_deg(found[0]):.1f} deg down' if found is not None else ''))
    for r in rows:
        sd = f'{r[5]:.2f}' if np.isfinite(r[5]) else '-'
        held = (f'looking {r[2]:5.1f} deg down, roll {r[3]:5.1f}, camera {r[4]:.2f} m, '
                f'tilt sd {sd} deg')
        print(f'  frame {r[0]:5d}: ' + (held if r[1] else f'none (tilt sd {sd} deg): {r[6]}'))


def plot(series, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for name, rows, check, source in series:
        f = [r[0] for r in rows]
        line, = ax1.plot(f, [r[5] for r in rows], label=name)
        ax2.plot(f, [r[2] for r in rows], color=line.get_color(), label=f'{name}: found')
        if np.isfinite(check):
            ax2.axhline(check, color=line.get_color(), ls='--',
                        label=f'{name}: {source}, {check:.1f}')
    ax1.axhline(1.0, color='k', ls=':', label='accepted below')
    ax1.set_ylabel("tilt's standard error (deg)")
    ax1.set_yscale('log')
    ax1.legend(fontsize=8)
    ax2.set_ylabel('camera looks down (deg)')
    ax2.set_xlabel('frame')
    ax2.legend(fontsize=8)
    fig.suptitle('floor_from_people: the floor found from people walking about')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f'wrote {path}')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('video', nargs='?', help='a video of a fixed camera')
    p.add_argument('--max-frames', type=int, default=0)
    p.add_argument('--pose2sim', action='store_true',
                   help="every Pose2Sim view (data/real, scripts/fetch_eval_data.sh), against "
                   'its calibration')
    p.add_argument('--data', type=Path, default=REPO / 'data' / 'real')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--png', type=Path)
    p.add_argument('--positions', action='store_true',
                   help='a plain video: compare where people are without and with the floor')
    p.add_argument('--positions-png', type=Path)
    args = p.parse_args(argv)
    if not args.video and not args.pose2sim:
        p.error('give a video or --pose2sim')
    torch.set_num_threads(args.threads)
    pipeline = make_pipeline({'floor_from_people': True}, args.threads)
    series = []
    if args.video:
        cap = cv2.VideoCapture(args.video)
        w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        cap.release()
        if not w:
            raise SystemExit(f'cannot open {args.video}')
        s = min(1.0, 1280 / w)                              # read_frames' own resize
        camera = CameraIntrinsics.from_image_diagonal(round(w * s), round(h * s))
        rows, boxes, found = watch(pipeline, read_frames(args.video, args.max_frames))
        report(args.video, rows, found)
        check = horizon_pitch(boxes, camera)
        print(f'  from the boxes alone ({len(boxes)} people seen whole): looking '
              f'{check:.1f} deg down')
        series.append((Path(args.video).name, rows, check, 'from the boxes alone'))
        if args.positions and found is not None:
            plain = make_pipeline({}, args.threads)
            runs = [('no floor', hip_tracks(plain, read_frames(args.video, args.max_frames))),
                    ('the floor found, from the first frame', hip_tracks(
                        plain, read_frames(args.video, args.max_frames),
                        lambda cam: cam.with_floor(*found)))]
            print('\nhip acceleration along the tracks, median (mm/frame^2), per-frame / '
                  'smoothed:')
            for name, tracks in runs:
                print(f'  {name:40s} {hip_acceleration(tracks, 0):6.1f} / '
                      f'{hip_acceleration(tracks, 1):6.1f}  ({len(tracks)} tracks)')
            if args.positions_png:
                plot_positions(runs, found[0], args.positions_png)
    for clip in ('pose2sim_multi', 'pose2sim_single') if args.pose2sim else ():
        folder = args.data / MULTIVIEW[clip]
        for cam in read_qualisys_calibration(folder / 'calibration' / 'Calib.qca.txt'):
            up = cam.rotation @ (0.0, 0.0, 1.0)
            rows, _, found = watch(pipeline, read_frames(folder / 'videos' / f'{cam.name}.mp4',
                                                         args.max_frames), cam.intrinsics())
            report(f'{clip} {cam.name} (the calibration: looking {look_down_deg(up):.1f} deg '
                   f'down, the camera {-(cam.rotation.T @ cam.translation)[2]:.2f} m high)',
                   rows, found)
            if found is not None:
                err = math.degrees(math.acos(np.clip(np.dot(found[0], up), -1.0, 1.0)))
                print(f'  up off by {err:.1f} deg')
            series.append((f'{clip} {cam.name}', rows, look_down_deg(up), 'calibration'))
    if args.png:
        plot(series, args.png)


if __name__ == '__main__':
    main()
