"""Seated, crouching, kneeling and lying people in rendered scenes: per-frame vs smoothed meshes.

    python benchmarks/overlay_poses.py [--out docs/results] [--frames 24] [--threads 1]
        [--dpmesh DIR]

No real footage reachable here shows these poses, so each one is rendered: the bundled open
body in a hand-set pose (with a little motion over `--frames` frames at 10 fps) over a plain
room, its COCO-17 keypoints through the MoveNet-calibrated detector simulation
(`detector_noise.calibrated_config`), then the pipeline's mesh stages: the DPMesh predictor and
the DiffMesh smoother per track, once as shipped before the refinement (top row) and with
the keypoint refinement (default, and a close fit). Each PNG (`pose_<name>.png`) shows, per row, the
rendered person with the simulated keypoints, the per-frame mesh (`~/persons`) and the smoothed
mesh (`~/persons_smoothed`) of the last frame. Also prints MPJPE / PA-MPJPE (mm, SMPL joints)
of the last frame for each.
"""
import argparse
from pathlib import Path
import sys

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, Path(__file__).resolve().parent):     # the package, and sibling benchmarks
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from hmr_models.body import load_body_model  # noqa: E402
from hmr_models.data.synth.detector_noise import calibrated_config, simulate_detections  # noqa
from hmr_models.diffmesh import create_smoother  # noqa: E402
from hmr_models.dpmesh.factory import MeshConfig, create_mesh_predictor  # noqa: E402
from hmr_models.eval.metrics import mpjpe, pa_mpjpe  # noqa: E402
from hmr_models.frontend import draw_people  # noqa: E402
from hmr_models.render import OverlayRenderer  # noqa: E402
from hmr_models.runtime import Runtime  # noqa: E402
from hmr_models.skeleton import SMPL24_NAMES  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402
from hmr_models.eval.variants import parse_refine  # noqa: E402

J = {n: i for i, n in enumerate(SMPL24_NAMES)}
W, H = 640, 480
# name: (joint angles {joint: (x, y, z)}, root (axis-angle, y-up world), root height m, yaw)
POSES = {
    'seated': ({'left_hip': (-1.5, 0, 0.1), 'right_hip': (-1.5, 0, -0.1),
                'left_knee': (1.55, 0, 0), 'right_knee': (1.45, 0, 0),
                'left_shoulder': (0, 0, -1.1), 'right_shoulder': (0, 0, 1.1),
                'left_elbow': (0, -1.2, 0), 'right_elbow': (0, 1.2, 0), 'spine1': (0.1, 0, 0)},
               (0, 0, 0), 0.50, 0.5),
    'crouching': ({'left_hip': (-2.1, 0, 0.3), 'right_hip': (-2.1, 0, -0.3),
                   'left_knee': (2.3, 0, 0), 'right_knee': (2.3, 0, 0),
                   'left_ankle': (-0.4, 0, 0), 'right_ankle': (-0.4, 0, 0),
                   'spine1': (0.5, 0, 0), 'spine2': (0.2, 0, 0),
                   'left_shoulder': (0, -0.6, -0.9), 'right_shoulder': (0, 0.6, 0.9),
                   'left_elbow': (0, -1.4, 0), 'right_elbow': (0, 1.4, 0)},
                  (0, 0, 0), 0.45, -0.6),
    'kneeling': ({'left_hip': (-0.1, 0, 0), 'right_hip': (-1.6, 0, 0),
                  'left_knee': (1.6, 0, 0), 'right_knee': (1.6, 0, 0),
                  'left_shoulder': (0, 0, -1.2), 'right_shoulder': (0.3, 0, 1.0)},
                 (0, 0, 0), 0.55, 1.1),
    'lying': ({'left_hip': (-0.9, 0, 0), 'left_knee': (0.2, 0, 0),
               'left_shoulder': (0, 0, -0.3), 'right_shoulder': (0, 0, 0.4)},
              (-np.pi / 2, 0, 0), 0.12, 0.4),
}


def world_camera():
    """Camera 3.5 m in front of the origin at 1.6 m, looking at (0, 0.6, 0) (y-up world)."""
    centre = np.array([0.0, 1.6, 3.5])
    z = np.array([0.0, 0.6, 0.0]) - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])                       # world -> camera rows
    return rot, centre, CameraIntrinsics.from_image_diagonal(W, H)


def background(rot, centre, k):
    """A floor of tiles and a plain wall, as in the synthetic scenes."""
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rays = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], -1) @ rot
    s = -centre[1] / np.where(rays[..., 1] < -1e-6, rays[..., 1], -1e-6)
    floor = rays[..., 1] < -1e-3
    xs, zs = centre[0] + s * rays[..., 0], centre[2] + s * rays[..., 2]
    checker = ((np.floor(xs / 0.6) + np.floor(zs / 0.6)) % 2)[..., None]
    img = np.where(floor[..., None], 150 + 40 * checker, np.array([200.0, 195, 180]))
    return np.clip(img, 0, 255).astype(np.uint8)


def sequence(name, frames, rng):
    """Poses (F, 72) in the camera frame and translations (F, 3) of one pose with motion."""
    joints, root, height, yaw = POSES[name]
    rot, centre, _ = world_camera()
    pose = np.zeros((frames, 72))
    for joint, aa in joints.items():
        pose[:, 3 * J[joint]:3 * J[joint] + 3] = aa
    t = np.arange(frames) / 10.0
    pose[:, 3 * J['left_shoulder'] + 2] += 0.25 * np.sin(2 * np.pi * 0.4 * t)   # a waving arm
    pose[:, 3 * J['spine2']] += 0.1 * np.sin(2 * np.pi * 0.3 * t)
    from hmr_models.fitting import so3
    root_world = so3.exp(np.array([0.0, yaw, 0.0])) @ so3.exp(np.array(root, np.float64))
    root_cam = rot @ root_world
    pose[:, :3] = so3.log(np.broadcast_to(root_cam, (frames, 3, 3)))
    return pose, height, rot, centre


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=REPO / 'docs' / 'results')
    p.add_argument('--frames', type=int, default=24)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--poses', default=','.join(POSES))
    p.add_argument('--dpmesh', default='', help="DPMesh checkpoint ('' = bundled)")
    p.add_argument('--variant', action='append', default=[], metavar='NAME:refine_k=v,...',
                   help='rows: refinement settings (default: off, the defaults, and '
                   'refine_keypoint_sigma=0.03)')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    body = load_body_model()
    renderer = OverlayRenderer(body.faces)
    rot, centre, camera = world_camera()
    bg = background(rot, centre, camera)
    specs = args.variant or ['no refinement:refine_iterations=0', 'default refinement:',
                             'close fit:refine_keypoint_sigma=0.03']
    variants = dict(map(parse_refine, specs))
    for name in args.poses.split(','):
        rng = np.random.default_rng(args.seed)
        pose, height, rot, centre = sequence(name, args.frames, rng)
        with torch.no_grad():
            rest = body(torch.as_tensor(pose[:1], dtype=torch.float32))
        # place the body: its lowest vertex on the floor, pelvis at the origin (world)
        low = float((rest.vertices[0].numpy() @ rot)[:, 1].min())
        pelvis_world = np.array([0.0, -low, 0.0])
        transl = np.tile(rot @ (pelvis_world - centre), (args.frames, 1))
        transl -= rest.joints[0, 0].numpy()
        with torch.no_grad():
            truth = body(torch.as_tensor(pose, dtype=torch.float32),
                         transl=torch.as_tensor(transl, dtype=torch.float32))
        kp_true = body.regress(truth.vertices, 'coco17').numpy()
        rows, report = [], []
        det_rng = np.random.default_rng(args.seed + 1)
        detections = []
        images = []
        for f in range(args.frames):
            image = renderer.render(bg, truth.vertices[f:f + 1].numpy(), camera,
                                    colors=np.array([[0.8, 0.67, 0.55]]), alpha=1.0)
            z = np.maximum(kp_true[f, :, 2], 1e-3)
            kp2 = np.stack([camera.fx * kp_true[f, :, 0] / z + camera.cx,
                            camera.fy * kp_true[f, :, 1] / z + camera.cy], -1)[None]
            people, _, _ = simulate_detections(
                kp2, np.zeros((1, 17), np.uint8), np.full((1, 17), -1), (W, H), det_rng,
                calibrated_config(p_miss_person=0.0, min_visible=0.0))
            people.track_ids = np.zeros(len(people), np.int64)
            detections.append(people)
            images.append(image)
        for label, refine in variants.items():
            predictor = create_mesh_predictor('compact', MeshConfig(dpmesh_checkpoint=args.dpmesh),
                                              Runtime(), body, refine=refine)
            smoother = create_smoother(body=body, refiner=predictor.refiner)
            est = smoothed = None
            for f in range(args.frames):
                people = detections[f]
                if len(people) == 0:
                    continue
                est = predictor.predict(images[f], people, camera)
                smoothed = smoother.update(f / 10.0, people.track_ids, est, people, camera)
            gt_j = truth.joints[-1].numpy() * 1000.0
            cells = [draw_people(images[-1].copy(), detections[-1])]
            for stream, e in (('per-frame', est), ('smoothed', smoothed)):
                cells.append(renderer.render(images[-1], e.vertices, camera,
                                             track_ids=np.array([len(rows)]), alpha=0.7))
                j = e.joints[0] * 1000.0
                report.append(f'{name:10s} {label:24s} {stream:10s} MPJPE {mpjpe(j, gt_j):6.1f}'
                              f'  PA-MPJPE {pa_mpjpe(j, gt_j):6.1f}')
            cells = [np.ascontiguousarray(c).copy() for c in cells]
            for cell, text in zip(cells, ('keypoints (simulated MoveNet)', 'per-frame',
                                          'smoothed')):
                cv2.putText(cell, f'{label}: {text}', (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                            (0, 0, 0), 2, cv2.LINE_AA)
                cv2.putText(cell, f'{label}: {text}', (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                            (255, 255, 255), 1, cv2.LINE_AA)
            rows.append(np.concatenate(cells, 1))
        sheet = np.concatenate(rows, 0)
        out = args.out / f'pose_{name}.png'
        cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        print(f'wrote {out}')
        print('\n'.join(report))
    renderer.release()
    return 0


if __name__ == '__main__':
    sys.exit(main())
