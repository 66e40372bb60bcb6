"""SynthOcc over time: the shipped per-frame + temporal pipeline on every frame of the test scenes.

    python benchmarks/eval_synthocc_sequences.py --corpus $C [--scenes 40] [--seed 0]
        [--dpmesh DIR] [--diffmesh NAME=DIR ...] [--one-euro] [--delay 8] [--csv FILE]
        [--detector simulated|movenet] [--motion-classes balanced --by-class] [--refine ...]

eval_synthocc.py scores single frames (every 10th frame of the 40 test scenes). The default
pipeline does more: DiffMesh refines each track over a 16-frame window. This script regenerates
the same seeded test scenes (`hmr-synth --split test --seed 0`: identical scenes and simulated
detections), renders every frame, and runs what the node runs on each one: the DPMesh predictor
on the full image with the simulated front-end's people (boxes, COCO-17 keypoints and scores,
ground-truth track ids: a perfect tracker), then the streaming smoother (the newest frame, as
published; `--delay N` adds the N-frames-delayed output). Metrics on every detected person-frame
(mm): MPJPE, PA-MPJPE, MPVE, OCC-MPJPE as in eval_synthocc.py, and ACC-ERR (pelvis-aligned
joints, mm/frame^2, over runs of three consecutive detected frames); also on the every-10th-frame
subset, the frames eval_synthocc.py scores.
"""
import argparse
from pathlib import Path
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, Path(__file__).resolve().parent):     # the package, and sibling benchmarks
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from hmr_models.body import load_body_model  # noqa: E402
from hmr_models.data.mocap.classes import MOTION_CLASSES, parse_class_weights  # noqa: E402
from hmr_models.data.mocap.corpus import PoseCorpus  # noqa: E402
from hmr_models.data.synth.generate import (DETECTORS, degree_range,  # noqa: E402
                                            detector_config, scene_config,
                                            scene_with_detections)
from hmr_models.data.synth.render import SceneRenderer  # noqa: E402
from hmr_models.data.synth.scene import MotionPool, SceneGenerator  # noqa: E402
from hmr_models.data.synth.visibility import occluded_in_frame  # noqa: E402
from hmr_models.diffmesh.factory import TemporalConfig, create_smoother  # noqa: E402
from hmr_models.diffmesh.streaming import StreamingConfig  # noqa: E402
from hmr_models.dpmesh.factory import MeshConfig, create_mesh_predictor  # noqa: E402
from hmr_models.eval.synthocc import (error_anatomy, run_scene,  # noqa: E402
                                      score_person_frames, vertex_errors)
from hmr_models.eval.tables import write_csv  # noqa: E402
from hmr_models.runtime import Runtime  # noqa: E402
from eval_real import Cache  # noqa: E402
from hmr_models.eval.variants import parse_refine  # noqa: E402
from hmr_models.dpmesh.predictor import DPMeshPredictor  # noqa: E402
from hmr_models.fitting import KeypointRefiner  # noqa: E402
from hmr_models.fitting.floor_estimate import FloorFromPeople  # noqa: E402

SAMPLE_EVERY = 10          # eval_synthocc.py's frames


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--corpus', required=True, help='the pose corpus the test split was built from')
    p.add_argument('--scenes', type=int, default=40)
    p.add_argument('--frames', type=int, default=60)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--dpmesh', default='', help="DPMesh checkpoint ('' = bundled)")
    p.add_argument('--diffmesh', action='append', default=[], metavar='NAME=DIR',
                   help="DiffMesh weights to compare (default: DiffMesh= the bundled ones)")
    p.add_argument('--one-euro', action='store_true',
                   help="also score the One-Euro filter (temporal_method 'one_euro', defaults)")
    p.add_argument('--delay', type=int, default=0,
                   help='also score the output delayed by this many frames (0 = newest only)')
    p.add_argument('--body', default='', help="SMPL-format .npz ('' = bundled open body)")
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--image-correction-interval', type=int,
                   default=MeshConfig().image_correction_interval,
                   help='DPMesh image corrections of a tracked person reused for this many '
                        'frames (the node parameter of the same name: 0 never, -1 auto; at 30 '
                        'FPS here, so k frames here are k / 3 frames of a node running at 10 '
                        'FPS)')
    p.add_argument('--camera-pitch', type=degree_range, default=None, metavar='LO,HI',
                   help="the scenes' camera tilt range, degrees looking down (default: the "
                   "generator's, -5 to 20; a negative LO needs --camera-pitch=LO,HI)")
    p.add_argument('--camera-up', action='store_true',
                   help="give the pipeline the scenes' up direction in the camera (as a robot's "
                   '/tf_static would; refine_upright_sigma=0 in a --refine variant turns '
                   'its use off)')
    p.add_argument('--camera-floor', action='store_true',
                   help="also give the pipeline the scenes' floor (world y = 0: the camera's "
                   "height over it), as a robot's floor_frame on /tf_static would "
                   '(refine_floor_sigma=0 in a --refine variant turns its use off)')
    p.add_argument('--people', type=lambda v: tuple(int(x) for x in v.split(',')),
                   metavar='LO,HI', help="people per scene, each count alike (default: the "
                   "generator's 1-4; e.g. 6,8 with --frames 300 for a fixed camera's plaza)")
    p.add_argument('--floor-from-people', choices=('cold', 'warm'),
                   help="find each scene's floor from the meshes' ankles, as the pipeline's "
                   "floor_from_people does: 'cold' while the scene plays, 'warm' from a first "
                   'pass over the scene (a fixed camera that has watched a while)')
    p.add_argument('--csv', help='also write the table here')
    p.add_argument('--motion-classes', default='',
                   help="people per motion class: 'balanced' (each class alike, for "
                   "--by-class), 'training', 'name=w,...' or '' (by clip length: SynthOcc's "
                   'test scenes)')
    p.add_argument('--detector', default='simulated', choices=DETECTORS,
                   help="keypoint errors of the front-end: SynthOcc's hand-set simulation "
                   "('simulated', its published figures) or MoveNet's errors measured on real "
                   "footage ('movenet', detector_noise.calibrated_config); the scenes are the "
                   'same, only their detections differ')
    p.add_argument('--by-class', action='store_true',
                   help='also score each motion class (standing/walking, jumping/sports, '
                   'sitting, crouching/kneeling, lying) and its ratio to standing/walking')
    p.add_argument('--anatomy', action='store_true',
                   help='with --by-class: also where each class\'s MPJPE sits (median, p90, '
                   'the share of person-frames over 200 mm, the limbs\' part once the torso is '
                   'aligned, torsos turned more than 60 degrees)')
    p.add_argument('--refine', action='append', default=[], metavar='NAME[:refine_k=v,...]',
                   help='run the per-frame model and the smoothers with keypoint refinement '
                   '(hmr_models.fitting.RefineConfig; refine_iterations=0 = off); several: '
                   'compared in the same run (default: no refinement)')
    return p.parse_args(argv)


def _floor_error(floor_estimate, scene):
    """(up's angle in degrees, |height error| in %) of the floor found at the scene's end."""
    if floor_estimate.floor is None:
        return None
    up, height = floor_estimate.floor
    cos = float(np.clip(np.dot(up, scene.camera.rotation[:, 1]), -1.0, 1.0))
    truth = float(scene.camera.centre[1])
    return np.degrees(np.arccos(cos)), 100.0 * abs(height - truth) / truth


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    body = load_body_model(args.body or None)
    refines = [parse_refine(spec) for spec in args.refine] or [('', None)]
    base = create_mesh_predictor('compact', MeshConfig(dpmesh_checkpoint=args.dpmesh),
                                 Runtime(), body)
    model = base.model                 # the variants differ after the network only
    predictors = {name: DPMeshPredictor(
        model, body, base.runtime, base.keypoint_threshold,
        image_correction_interval=args.image_correction_interval,
        refiner=KeypointRefiner(body, config) if config is not None and config.enabled else None)
        for name, config in refines}
    network = Cache().memoize_network(base.network)
    for predictor in predictors.values():
        predictor.network = network
    diffmesh = [spec.partition('=')[::2] for spec in args.diffmesh] or [('DiffMesh', '')]
    pool = MotionPool.from_corpus(PoseCorpus(args.corpus), 'test',
                                  class_weights=parse_class_weights(args.motion_classes))
    clip_class = dict(zip(pool.names, pool.classes))
    detector = None if args.detector == 'simulated' else detector_config(args.detector)
    config = scene_config(args.frames, args.camera_pitch)
    if args.people:
        config.people = tuple(range(args.people[0], args.people[-1] + 1))
        config.people_weights = (1.0 / len(config.people),) * len(config.people)
    gen = SceneGenerator(body, pool, config, keep_vertices=True)
    renderer = SceneRenderer(body)
    floor_estimate, floor_found = None, []
    if args.floor_from_people:
        floor_estimate = FloorFromPeople.for_body(body)
    rows = {}
    started = time.perf_counter()
    for k in tqdm(range(args.scenes), desc='scenes', unit='scene'):
        scene, detections, rng = scene_with_detections(gen, args.seed, k, detector)
        for predictor in predictors.values():
            predictor.reset()    # track ids start again in every scene
        style = renderer.scene_style(scene, rng)
        rendered = {}

        def image(f):                  # each frame rendered once for every variant
            if f not in rendered:
                rendered[f] = renderer.render(scene, f, style)
            return rendered[f]
        preds = {}
        for rname, predictor in predictors.items():
            refiner = predictor.refiner
            if refiner is not None and not refiner.config.refine_smoothed:
                refiner = None
            smoothers = {name: create_smoother(TemporalConfig(temporal_weights=path),
                                               StreamingConfig(temporal_delay_frames=args.delay),
                                               body=body, refiner=refiner)
                         for name, path in diffmesh}
            if args.one_euro:
                smoothers['One-Euro'] = create_smoother(
                    TemporalConfig(temporal_method='one_euro'), body=body)
            preds.update(run_scene(scene, detections, image, predictor, smoothers,
                                   f'{rname}: ' if rname else '', camera_up=args.camera_up,
                                   camera_floor=args.camera_floor,
                                   floor_from_people=floor_estimate,
                                   floor_warm=args.floor_from_people == 'warm'))
            if floor_estimate is not None:
                floor_found.append(_floor_error(floor_estimate, scene))
        with torch.no_grad():
            for p in scene.people:
                betas = np.repeat(p.betas[None], scene.num_frames, 0)
                gt = body(torch.as_tensor(p.pose, dtype=torch.float32),
                          torch.as_tensor(betas, dtype=torch.float32))
                # vertices pelvis-relative like the joints: the metrics align both on the pelvis
                gt_v = gt.vertices.numpy() - gt.joints.numpy()[:, :1] + p.joints[:, :1]
                ok = np.array([p.track_id in set(detections[f][0].track_ids.tolist())
                               for f in range(scene.num_frames)])
                sampled = np.zeros(scene.num_frames, bool)
                sampled[::SAMPLE_EVERY] = True
                for m, tracks in preds.items():
                    t = tracks[p.track_id]
                    ok_m = ok & np.isfinite(t.joints).all(axis=(1, 2))
                    rows.setdefault(m, []).append({
                        'pred_j': t.joints, 'gt_j': p.joints,
                        've': vertex_errors(t.joints, t.vertices, p.joints, gt_v),
                        'occ': occluded_in_frame(p.joint_codes), 'ok': ok_m,
                        'class': clip_class[p.clip_id],
                        'all': ok_m, 'sampled': ok_m & sampled})
    print(f'{args.scenes} scenes in {time.perf_counter() - started:.0f} s')
    if floor_found:
        found = [f for f in floor_found if f is not None]
        print(f'floor from people ({args.floor_from_people}): found in {len(found)} of '
              f'{len(floor_found)} scene runs' + (
                  '; up off by {:.1f} deg, camera height off by {:.0f} % (medians)'.format(
                      *np.median(found, 0)) if found else ''))
    keys = ['MPJPE', 'PA-MPJPE', 'MPVE', 'OCC-MPJPE', 'ACC-ERR', 'POS-ERR']
    table = []
    for subset, title in (('all', 'every frame'), ('sampled', 'every 10th frame')):
        n = score_person_frames(next(iter(rows.values())), subset)['person-frames']
        print(f'\nSynthOcc sequences, detected people, {title} ({n} person-frames):')
        print(f"{'method':42s}" + ''.join(f'{k:>11s}' for k in keys) + '   (mm; ACC mm/f^2)')
        for m, r in rows.items():
            s = score_person_frames(r, subset)
            table.append({'method': m, 'frames': subset, **s})
            print(f'{m:42s}' + ''.join(f'{s[k]:11.1f}' for k in keys))
    if args.by_class:
        table += class_table(rows, keys)
        if args.anatomy:
            anatomy_table(rows)
    if args.csv:
        print(f"wrote {write_csv(args.csv, table, ['method', 'frames', 'person-frames'] + keys)}")
    return 0


def class_table(rows, keys):
    """Print and return the scores per motion class (every frame).

    The last column is the class's MPJPE over the standing/walking class's (goal: <= 1.25).
    """
    table = []
    for m, r in rows.items():
        print(f'\n{m}, by motion class (every frame):')
        print(f"{'class':22s}{'person-frames':>14s}" + ''.join(f'{k:>11s}' for k in keys)
              + f"{'MPJPE ratio':>13s}")
        scores = {c: score_person_frames([x for x in r if x['class'] == c], 'all')
                  for c in MOTION_CLASSES if any(x['class'] == c and x['all'].any() for x in r)}
        base = scores.get('standing_walking', {}).get('MPJPE', np.nan)
        for c, s in scores.items():
            ratio = s['MPJPE'] / base
            table.append({'method': f'{m} [{c}]', 'frames': 'all', **s})
            print(f"{c:22s}{s['person-frames']:14d}" + ''.join(f'{s[k]:11.1f}' for k in keys)
                  + f'{ratio:13.2f}')
    return table


def anatomy_table(rows):
    """Print where each class's per-frame MPJPE sits (hmr_models.eval.synthocc.error_anatomy)."""
    cols = ['MPJPE', 'median', 'p90', 'large %', 'torso-aligned', 'turned %', 'turned share %']
    for m, r in rows.items():
        print(f'\n{m}, where the error sits (mm; large: person-frames over 200 mm, turned: '
              'torsos turned over 60 degrees):')
        print(f"{'class':22s}" + ''.join(f'{k:>15s}' for k in cols))
        for c in MOTION_CLASSES:
            part = [x for x in r if x['class'] == c]
            if any(x['all'].any() for x in part):
                a = error_anatomy(part)
                print(f'{c:22s}' + ''.join(f'{a[k]:15.1f}' for k in cols))


if __name__ == '__main__':
    sys.exit(main())
