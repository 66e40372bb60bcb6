"""The per-frame model's own estimates over synthetic scenes: DiffMesh trained on its real errors.

    python -m hmr_models.data.synth.estimates --out DIR --split train --scenes 600 --seed 11 \
        --corpus C [--dpmesh CHECKPOINT] [--render] [--shard-scenes 100]

`hmr-synth --sequences` simulates a per-frame model's errors (estimator_noise.py). This writes
what the shipped per-frame model really outputs instead: each scene (the same generator and
simulated detector as hmr-synth) goes through DPMeshPredictor frame by frame with the detector's
people, and every person becomes one track of the scene's frames. By default only the model's
keypoint lifter runs (`DPMeshPredictor.lift`: no rendering, ~100x faster; a lifted DPMesh's
image corrections move its output by < 1 mm on SynthOcc); `--render` renders every frame and
runs the whole model. `--refine default:` (or 'name:refine_k=v,...') adds the keypoint fit as
the node runs it on a CPU: the lifter, then the fit with each frame's stamp, so the frame
before's pose holds (refine_motion_sigma); that is the `~/persons` stream DiffMesh receives.

DIR/tracks_NNNN.npz, arrays over N tracks and T frames (camera frame, metres, radians):
gt_pose (N, T, 72), gt_transl (N, T, 3), gt_betas (N, B); est_pose (N, T, 72), est_betas
(N, T, 10), est_transl (N, T, 3); keypoints (N, T, 17, 2) detector pixels (NaN missing),
keypoint_scores (N, T, 17), boxes (N, T, 4) detector xyxy; observed (N, T) bool (the
detector found the person; estimates of unobserved frames are NaN); joint_codes (N, T, 24)
visibility; fps (N,).
"""
import argparse
import logging
from pathlib import Path
import sys

import numpy as np
from tqdm import tqdm

from hmr_models.data.mocap.classes import parse_class_weights

from .generate import DETECTORS, detector_config, scene_with_detections

log = logging.getLogger('hmr_models.data.synth.estimates')

TRACK_KEYS = ('gt_pose', 'gt_transl', 'gt_betas', 'est_pose', 'est_betas', 'est_transl',
              'keypoints', 'keypoint_scores', 'boxes', 'observed', 'joint_codes', 'fps')


def scene_tracks(scene, detections, estimate):
    """Dict of arrays (TRACK_KEYS) for the people of one scene.

    estimate(frame, people) -> BodyEstimate of the detected `people` of that frame.
    """
    n, t = len(scene.people), scene.num_frames
    row = {p.track_id: i for i, p in enumerate(scene.people)}
    nan = lambda *s: np.full((n, t) + s, np.nan, np.float32)  # noqa: E731
    out = {'est_pose': nan(72), 'est_betas': nan(10), 'est_transl': nan(3),
           'keypoints': nan(17, 2), 'keypoint_scores': np.zeros((n, t, 17), np.float32),
           'boxes': nan(4), 'observed': np.zeros((n, t), bool)}
    for f in range(t):
        people = detections[f][0]
        if len(people) == 0:
            continue
        est = estimate(f, people)
        for i, tid in enumerate(people.track_ids):
            r = row[int(tid)]
            out['est_pose'][r, f] = est.pose[i]
            out['est_betas'][r, f] = est.betas[i, :10]
            out['est_transl'][r, f] = est.translation[i]
            out['keypoints'][r, f] = people.keypoints[i]
            out['keypoint_scores'][r, f] = np.nan_to_num(people.keypoint_scores[i])
            out['boxes'][r, f] = people.boxes[i]
            out['observed'][r, f] = True
    out.update(gt_pose=np.stack([p.pose for p in scene.people]).astype(np.float32),
               gt_transl=np.stack([p.transl for p in scene.people]).astype(np.float32),
               gt_betas=np.stack([p.betas for p in scene.people]).astype(np.float32),
               joint_codes=np.stack([p.joint_codes for p in scene.people]),
               fps=np.full(n, scene.fps, np.float32))
    return out


def load_tracks(paths):
    """Concatenated TRACK_KEYS arrays of track files or folders of them."""
    files = []
    for p in paths:
        p = Path(p).expanduser()
        files += sorted(p.glob('tracks_*.npz')) if p.is_dir() else [p] if p.is_file() else []
    if not files:
        raise FileNotFoundError(f'no tracks_*.npz under {[str(p) for p in paths]}: build them '
                                'with `python -m hmr_models.data.synth.estimates`')
    parts = []
    for f in files:
        with np.load(f) as d:
            missing = [k for k in TRACK_KEYS if k not in d.files]
            if missing:
                raise ValueError(f'{f} is not a tracks file (missing {missing})')
            parts.append({k: d[k] for k in TRACK_KEYS})
    return {k: np.concatenate([p[k] for p in parts]) for k in TRACK_KEYS}


def write_tracks(path, parts):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{k: np.concatenate([p[k] for p in parts]) for k in TRACK_KEYS})


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='python -m hmr_models.data.synth.estimates',
                                description=__doc__.split('\n')[0])
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--corpus', required=True, help='a built pose corpus folder')
    p.add_argument('--split', default='train', choices=('train', 'val', 'test'))
    p.add_argument('--scenes', type=int, default=100)
    p.add_argument('--frames', type=int, default=60, help='frames per scene')
    p.add_argument('--seed', type=int, default=11)
    p.add_argument('--dpmesh', default='', help="DPMesh checkpoint ('' = the bundled compact)")
    p.add_argument('--render', action='store_true',
                   help='render every frame and run the whole model (slow)')
    p.add_argument('--shard-scenes', type=int, default=100, help='scenes per output file')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0 = default)')
    p.add_argument('--motion-classes', default='',
                   help="people per motion class (as hmr-synth's option: 'training', "
                   "'balanced', 'name=w,...'; '' = clips by length)")
    p.add_argument('--detector', default='simulated', choices=DETECTORS,
                   help="keypoint errors: hand-set ('simulated') or MoveNet's measured ones")
    p.add_argument('--refine', default='', metavar='NAME:refine_k=v,...',
                   help="also fit each estimate to its keypoints, frame by frame with stamps, "
                   "as the node does ('default:' = RefineConfig's defaults; '' = the network "
                   'alone)')
    args = p.parse_args(argv)
    if args.refine and args.render:
        p.error('--refine goes with the keypoint lifter, not --render')
    return args


def refine_config(spec):
    """--refine's 'name:refine_k=v,...' -> RefineConfig (None for '')."""
    from hmr_models.eval.variants import parse_refine
    return parse_refine(spec)[1] if spec else None


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    import torch
    from hmr_models.body import load_body_model
    from hmr_models.data.mocap.corpus import PoseCorpus
    from hmr_models.dpmesh.factory import MeshConfig, create_mesh_predictor
    from .scene import MotionPool, SceneConfig, SceneGenerator
    if args.threads:
        torch.set_num_threads(args.threads)
    body = load_body_model(None)
    refine = refine_config(args.refine)
    # with the fit: the lifter alone (image_correction_interval 0), as the node on a CPU
    predictor = create_mesh_predictor(
        'compact', MeshConfig(dpmesh_checkpoint=args.dpmesh,
                              image_correction_interval=0 if refine else -1),
        body=body, refine=refine)
    pool = MotionPool.from_corpus(PoseCorpus(Path(args.corpus).expanduser()), args.split,
                                  class_weights=parse_class_weights(args.motion_classes))
    detector = detector_config(args.detector)
    gen = SceneGenerator(body, pool, SceneConfig(num_frames=args.frames),
                         keep_vertices=args.render)
    renderer = None
    if args.render:
        from .render import SceneRenderer
        renderer = SceneRenderer(body)
    out = Path(args.out)
    parts, shard, tracks, seen = [], 0, 0, 0
    for k in tqdm(range(args.scenes), desc='scenes', unit='scene'):
        scene, detections, rng = scene_with_detections(gen, args.seed, k, detector)
        cam = scene.camera.intrinsics
        predictor.reset()                # track ids start again in every scene
        if refine is not None:
            estimate = lambda f, people: predictor.predict(  # noqa: E731
                None, people, cam, stamp=f / scene.fps)
        elif renderer is None:
            estimate = lambda f, people: predictor.lift(people, cam)  # noqa: E731
        else:
            style = renderer.scene_style(scene, rng)
            estimate = lambda f, people: predictor.predict(  # noqa: E731
                renderer.render(scene, f, style), people, cam)
        part = scene_tracks(scene, detections, estimate)
        parts.append(part)
        tracks += len(part['fps'])
        seen += int(part['observed'].sum())
        if len(parts) == args.shard_scenes:
            write_tracks(out / f'tracks_{shard:04d}.npz', parts)
            shard, parts = shard + 1, []
    if parts:
        write_tracks(out / f'tracks_{shard:04d}.npz', parts)
    print(f'wrote {tracks} tracks of {args.scenes} scenes ({seen} detected person-frames, '
          f"{'whole model' if args.render else 'keypoint lifter'}"
          f"{' + keypoint fit' if refine else ''}) to {out}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
