"""Contact sheet of the generated sitting, kneeling, crouching and lying clips.

    python benchmarks/posture_sheet.py [--out docs/results/postures_contact_sheet.png] [--seed 0]

Generates a few clips per posture (hmr_models.data.mocap.postures) on the bundled open body
and draws, for each, frames across the clip (standing, going down, holding, getting up) with
the body's mesh from a side-ish view, the floor line and, for chairs, the seat, so that a
person can check that the poses look human and the contacts hold (no feet under the floor,
buttocks on the seat, knees on the floor). A second sheet per class (`*_<class>.png`) shows
the hold of every variant from the side and the front. Also prints, per clip, the lowest mesh
vertex over the whole clip and the gap between the mesh and its support (floor or seat)
during the hold.
"""
import argparse
from pathlib import Path
import sys
import time

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import matplotlib  # noqa: E402
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
import torch  # noqa: E402

from hmr_models.body import load_body_model  # noqa: E402
from hmr_models.data.mocap.postures import POSTURE_CLASS, VARIANTS, posture_clips  # noqa: E402
from hmr_models.data.mocap.retarget import target_rest_joints  # noqa: E402
from hmr_models.skeleton import SMPL24_NAMES  # noqa: E402

J = {n: i for i, n in enumerate(SMPL24_NAMES)}
SKIN = np.array([0.85, 0.68, 0.55])
# Vertices that sit on a chair: skinned mostly to the pelvis or the hips (thighs, buttocks).
SEAT_JOINTS = ('pelvis', 'left_hip', 'right_hip')


def posed_vertices(body, motion, frames):
    """Mesh vertices (F, V, 3) in the world frame for some frames of a motion."""
    with torch.no_grad():
        out = body(torch.as_tensor(motion.pose[frames]), transl=torch.as_tensor(
            motion.trans[frames]))
    return out.vertices.numpy().astype(np.float64)


def camera_axes(azimuth, elevation=0.0):
    """Screen right, screen up and toward-camera unit vectors of an orthographic view."""
    toward = np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation),
                       np.cos(azimuth) * np.cos(elevation)])
    right = np.array([np.cos(azimuth), 0.0, -np.sin(azimuth)])
    return right, np.cross(toward, right), toward


def draw_mesh(ax, verts, faces, azimuth, centre_x, half_width=1.0, elevation=0.0):
    """Lambert-shaded mesh drawn back to front, orthographic, the floor line at y = 0."""
    right, up, toward = camera_axes(azimuth, elevation)
    tri = verts[faces]                                           # (F, 3, 3)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    light = toward + np.array([0.0, 0.6, 0.0]) + 0.3 * right
    light /= np.linalg.norm(light)
    facing = normal @ toward > 0
    shade = 0.3 + 0.7 * np.clip(normal @ light, 0.0, 1.0)
    depth = (tri @ toward).mean(1)
    order = np.argsort(depth)
    order = order[facing[order]]
    xy = np.stack([tri[order] @ right - centre_x, tri[order] @ up], -1)
    colors = np.clip(shade[order, None] * SKIN, 0, 1)
    ax.add_collection(PolyCollection(xy, facecolors=colors, edgecolors='none',
                                     antialiased=False))
    if elevation == 0.0:
        ax.axhline(0.0, color='0.25', lw=1.2)
        ax.set_ylim(-0.12, 1.95)
    else:
        mid = float(np.median(xy[..., 1]))
        ax.set_ylim(mid - 1.0, mid + 1.0)
    ax.set_xlim(-half_width, half_width)
    ax.set_aspect('equal')
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def draw_chair(ax, seat_xz, forward_xz, height, azimuth, centre_x):
    """Seat (a plank at the seat height) and legs under the buttocks.

    The seat reaches 15 cm behind the pelvis and 25 cm ahead of it (toward `forward_xz`, the
    direction the sitter faces), where the thighs leave it.
    """
    right = camera_axes(azimuth)[0]
    x = np.asarray(seat_xz) @ right[[0, 2]] - centre_x
    ahead = float(np.sign(np.asarray(forward_xz) @ right[[0, 2]]) or 1.0)
    ends = sorted((x - 0.15 * ahead, x + 0.25 * ahead))
    ax.plot(ends, [height, height], color='tab:blue', lw=3, alpha=0.6)
    for end in ends:
        ax.plot([end, end], [0, height], color='tab:blue', lw=1.5, alpha=0.4)


def key_frames(motion, count=5):
    """Frames across a clip: standing, going down, start and end of the hold, getting up."""
    ph = motion.meta['phases']
    frames = [(ph['stand'][1] // 2, 'stand'), ((ph['down'][0] + ph['down'][1]) // 2, 'down'),
              (ph['hold'][0] + 2, 'hold start'), ((ph['hold'][0] + ph['hold'][1]) // 2, 'hold')]
    if 'up' in ph:
        frames.append(((ph['up'][0] + ph['up'][1]) // 2, 'getting up'))
    else:
        frames.append((ph['hold'][1] - 1, 'hold end'))
    return frames[:count]


def heading(motion):
    """Yaw of the clip (the generator turned it by meta['yaw'] from facing +z)."""
    return float(motion.meta['yaw'])


def clip_checks(body, motion, seat_mask):
    """Lowest vertex over the clip (every 5th frame) and the hold's support gap (metres).

    The gap is the lowest vertex above the floor, or for chairs the lowest buttock vertex
    (skinned to the pelvis or hips, within 15 cm of the pelvis horizontally) above the seat.
    """
    frames = np.arange(0, len(motion), 5)
    v = posed_vertices(body, motion, frames)
    lowest = float(v[..., 1].min())
    h0, h1 = motion.meta['phases']['hold']
    hold = np.arange(h0, h1, 10)
    with torch.no_grad():
        out = body(torch.as_tensor(motion.pose[hold]), transl=torch.as_tensor(motion.trans[hold]))
    vh, pelvis = out.vertices.numpy(), out.joints[:, 0].numpy()
    if 'seat_height' in motion.meta:
        near = np.hypot(vh[..., 0] - pelvis[:, None, 0], vh[..., 2] - pelvis[:, None, 2]) < 0.15
        y = np.where(near & seat_mask, vh[..., 1], np.inf)
        gap = y.min(1) - motion.meta['seat_height']
    else:
        gap = vh[..., 1].min(1)
    return lowest, float(gap.min()), float(gap.max())


def contact_sheet(body, clips, out, title):
    rows = len(clips)
    cols = max(len(key_frames(c)) for c in clips)
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 2.3 * rows), squeeze=False)
    faces = np.asarray(body.faces)
    for r, motion in enumerate(clips):
        frames = key_frames(motion)
        verts = posed_vertices(body, motion, [f for f, _ in frames])
        az = heading(motion) + np.deg2rad(70)
        right = camera_axes(az)[0]
        hold_mid = (motion.meta['phases']['hold'][0] + motion.meta['phases']['hold'][1]) // 2
        pelvis = posed_vertices(body, motion, [hold_mid])[0].mean(0)
        centre = float(pelvis @ right)
        for c in range(cols):
            ax = axes[r, c]
            if c >= len(frames):
                ax.axis('off')
                continue
            draw_mesh(ax, verts[c], faces, az, centre)
            if 'seat_height' in motion.meta:
                draw_chair(ax, *chair_place(body, motion), motion.meta['seat_height'], az,
                           centre)
            low = verts[c][:, 1].min()
            color = 'red' if low < -0.015 else 'black'
            ax.set_title(f'{frames[c][1]} f{frames[c][0]}  low {100 * low:+.1f}cm', fontsize=7,
                         color=color)
        axes[r, 0].set_ylabel(f"{motion.name.split('/')[-1]}\n{motion.meta['variant']}",
                              fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(out, dpi=90)
    plt.close(fig)


def chair_place(body, motion):
    """Where the chair stands and which way the sitter faces (horizontal x, z vectors).

    The chair is under the pelvis in the middle of the hold.
    """
    h0, h1 = motion.meta['phases']['hold']
    f = (h0 + h1) // 2
    with torch.no_grad():
        j = body(torch.as_tensor(motion.pose[[f]]), transl=torch.as_tensor(
            motion.trans[[f]])).joints[0].numpy()
    knees = 0.5 * (j[J['left_knee']] + j[J['right_knee']])
    return j[J['pelvis'], [0, 2]], (knees - j[J['pelvis']])[[0, 2]]


def class_sheet(body, clips, out, title, per_row=6):
    """The middle of the hold of each clip from the side (upper row) and the front (lower)."""
    faces = np.asarray(body.faces)
    groups = (len(clips) + per_row - 1) // per_row
    fig, axes = plt.subplots(2 * groups, per_row, figsize=(2.0 * per_row, 2.4 * 2 * groups),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis('off')
    for c, motion in enumerate(clips):
        h0, h1 = motion.meta['phases']['hold']
        v = posed_vertices(body, motion, [(h0 + h1) // 2])[0]
        for r, extra in enumerate((70, 0)):
            ax = axes[2 * (c // per_row) + r, c % per_row]
            ax.axis('on')
            az = heading(motion) + np.deg2rad(extra)
            right = camera_axes(az)[0]
            centre = float(v.mean(0) @ right)
            draw_mesh(ax, v, faces, az, centre)
            if 'seat_height' in motion.meta:
                draw_chair(ax, *chair_place(body, motion), motion.meta['seat_height'], az,
                           centre)
        axes[2 * (c // per_row), c % per_row].set_title(
            f"{motion.name.split('/')[-1]} {motion.meta['variant']}\n"
            f"arms: {motion.meta.get('arms', '')}", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=REPO / 'docs' / 'results' /
                   'postures_contact_sheet.png')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--per-posture', type=int, default=2,
                   help='clips per posture on the main sheet (different variants)')
    p.add_argument('--no-class-sheets', action='store_true')
    p.add_argument('--donors', default=None, metavar='GLOB',
                   help='SMPLMotion .npz clips whose upper body drives the holds (e.g. corpus '
                   'clips); default: procedural gestures')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    body = load_body_model()
    rest = target_rest_joints(body)
    n = max(len(v) for v in VARIANTS.values())
    donors = None
    if args.donors:
        import glob
        from hmr_models.data.mocap.motion import SMPLMotion
        donors = [SMPLMotion.load(f) for f in sorted(glob.glob(args.donors))]
        print(f'{len(donors)} donor clips')
    clips = posture_clips(rest, clips_per_posture=n, seed=args.seed, donors=donors)
    print(f'{len(clips)} clips generated in {time.time() - t0:.1f} s')
    weights = body.smpl.lbs_weights.numpy()
    seat_mask = np.isin(weights.argmax(1), [J[j] for j in SEAT_JOINTS])
    print(f"{'clip':22s} {'variant':18s} {'lowest':>8s} {'hold gap min/max (cm)':>22s}")
    for m in clips:
        low, g0, g1 = clip_checks(body, m, seat_mask)
        print(f"{m.name:22s} {m.meta['variant']:18s} {100 * low:+7.1f}  {100 * g0:+6.1f} "
              f"{100 * g1:+6.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    main_clips = []
    for posture, variants in VARIANTS.items():
        chosen = [m for m in clips if m.meta['posture'] == posture]
        step = max(len(variants) // args.per_posture, 1)
        main_clips += chosen[::step][:args.per_posture]
    contact_sheet(body, main_clips, args.out, f'generated postures, seed {args.seed}')
    print(f'wrote {args.out}')
    if not args.no_class_sheets:
        for cls in sorted(set(POSTURE_CLASS.values())):
            chosen = [m for m in clips if m.meta['class'] == cls]
            out = args.out.with_name(f'{args.out.stem}_{cls}.png')
            class_sheet(body, chosen, out, f'{cls}: the hold of each variant, side and front')
            print(f'wrote {out}')
    print(f'done in {time.time() - t0:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
