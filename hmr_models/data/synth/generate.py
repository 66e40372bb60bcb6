"""Generate synthetic training/evaluation data from the pose corpus.

    python -m hmr_models.data.synth.generate --out DIR [--scenes 200] [--frames 60]
        [--split train|val|test] [--free-only] [--samples] [--sequences] [--bags 3]
        [--render] [--sample-every 10] [--seed 0] [--body open|PATH.npz] [--corpus DIR]

Writes DIR/samples/shard_NNNN.npz (per-person samples, DPMesh), DIR/sequences/
scene_NNNNN.npz (per-track sequences with simulated estimates, DiffMesh) and, through
`hmr-synth` (hmr_ros.ground_truth_bags: the ROS messages), DIR/bags/scene_NNNNN/ (rosbag2 MCAP with
images and ground truth; needs the renderer). Scene k uses seed (seed * 1_000_003 + k): any
scene can be regenerated alone.
"""
import argparse
import logging
from pathlib import Path
import sys

import numpy as np
from tqdm import tqdm

from hmr_models.data.mocap.build_corpus import load_target_body
from hmr_models.data.mocap.classes import parse_class_weights
from hmr_models.data.mocap.corpus import PoseCorpus, build_corpus

from .estimator_noise import simulate_scene
from .scene import MotionPool, SceneConfig, SceneGenerator
from .writers import concat_samples, detect_scene, person_samples, write_samples, write_sequence

log = logging.getLogger('hmr_models.data.synth.generate')


def scene_seed(seed, k):
    return seed * 1_000_003 + k


DETECTORS = ('simulated', 'movenet')


def detector_config(name):
    """DetectorNoiseConfig of `--detector`: the hand-set simulation, or MoveNet-calibrated."""
    from .detector_noise import DetectorNoiseConfig, calibrated_config
    if name not in DETECTORS:
        raise ValueError(f'detector must be one of {DETECTORS}, got {name!r}')
    return calibrated_config() if name == 'movenet' else DetectorNoiseConfig()


def scene_with_detections(gen, seed, k, detector=None):
    """Scene k of a split seeded `seed`, its simulated detections and the scene's generator.

    The generator continues (render style, estimator noise) from where the detections left it,
    so a scene regenerated here is the very scene `main` wrote. `detector`: a
    DetectorNoiseConfig (None: the default simulation, as the SynthOcc test split).
    """
    s = scene_seed(seed, k)
    rng = np.random.default_rng(s + 1)
    scene = gen.generate(seed=s)
    return scene, detect_scene(scene, rng, detector), rng


def parse_args(argv=None, prog=None):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n')[0])
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--scenes', type=int, default=100)
    p.add_argument('--frames', type=int, default=60, help='frames per scene')
    p.add_argument('--split', default='train', choices=('train', 'val', 'test'))
    p.add_argument('--free-only', action='store_true',
                   help='only freely licensed mocap (CMU + DeepMimic)')
    p.add_argument('--samples', action='store_true', help='write per-person samples')
    p.add_argument('--sequences', action='store_true', help='write per-track sequences')
    p.add_argument('--bags', type=int, default=0,
                   help='write this many scenes as rosbags (hmr-synth only: it has the ROS '
                   'messages)')
    p.add_argument('--render', action='store_true', help='render images (crops in samples)')
    p.add_argument('--sample-every', type=int, default=10, help='frame stride of samples')
    p.add_argument('--shard-size', type=int, default=2000, help='samples per shard')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--body', default='open', help="'open' or an SMPL-format .npz")
    p.add_argument('--corpus', default=None,
                   help='a built corpus folder (default: build/reuse it in the cache)')
    p.add_argument('--motion-classes', default='',
                   help="share of people per motion class: 'training' (the trained models' "
                   "mix: sitting, kneeling, lying ... sampled often), 'balanced', "
                   "'standing_walking=0.5,sitting=0.5,...', or '' (clips by length, as "
                   'the collections hold them)')
    p.add_argument('--detector', default='simulated', choices=DETECTORS,
                   help="keypoint errors: the hand-set simulation ('simulated', SynthOcc's) or "
                   "MoveNet's measured errors ('movenet', detector_noise.calibrated_config)")
    p.add_argument('--camera-pitch', type=degree_range, default=None, metavar='LO,HI',
                   help='camera tilt range in degrees, positive looking down (default '
                   'CameraConfig.pitch_deg, i.e. --camera-pitch=-5,20; write it with = when LO '
                   'is negative); e.g. 10,40 for cameras mounted high')
    return p.parse_args(argv)


def degree_range(text):
    """argparse type of --camera-pitch: 'LO,HI' degrees -> (lo, hi)."""
    try:
        lo, hi = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'LO,HI' in degrees, got {text!r}")
    if not -89.0 <= lo <= hi <= 89.0:
        raise argparse.ArgumentTypeError(f'need -89 <= LO <= HI <= 89, got {text!r}')
    return (lo, hi)


def scene_config(frames, camera_pitch=None):
    """SceneConfig of `frames` per scene and a camera tilt range (None: CameraConfig's)."""
    from .camera import CameraConfig
    camera = CameraConfig() if camera_pitch is None else CameraConfig(pitch_deg=camera_pitch)
    return SceneConfig(num_frames=frames, camera=camera)


def main(argv=None, write_bag=None, prog='python -m hmr_models.data.synth.generate'):
    """Console entry point; returns the process exit code.

    write_bag(path, scene, images, detections): writes `--bags` (hmr_ros.ground_truth_bags, which
    calls this as `hmr-synth`); without it `--bags` is refused.
    """
    args = parse_args(argv, prog)
    if args.bags and write_bag is None:
        print('error: --bags writes ROS messages: run it as `hmr-synth` (hmr_ros)',
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    if not (args.samples or args.sequences or args.bags):
        print('error: choose at least one of --samples, --sequences, --bags', file=sys.stderr)
        return 2
    if args.samples and not args.render:
        log.warning('samples without --render carry no image crops: DPMesh\'s image model '
                    'cannot train on them (keypoint/pose-only uses can)')
    body = load_target_body(args.body)
    if body is None:
        print('error: scenes need a body model (--body open once the open body is installed, '
              'or an SMPL-format .npz)', file=sys.stderr)
        return 1
    corpus = PoseCorpus(args.corpus) if args.corpus else build_corpus(body=body)
    try:
        class_weights = parse_class_weights(args.motion_classes)
        pool = MotionPool.from_corpus(corpus, args.split, free_only=args.free_only,
                                      class_weights=class_weights)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    gen = SceneGenerator(body, pool, scene_config(args.frames, args.camera_pitch),
                         keep_vertices=args.render or args.bags > 0)
    renderer = None
    if args.render or args.bags:
        from .render import SceneRenderer
        renderer = SceneRenderer(body)
    out = Path(args.out)
    shard, parts, count = 0, [], 0
    detector = detector_config(args.detector)
    for k in tqdm(range(args.scenes), desc='scenes', unit='scene'):
        scene, detections, rng = scene_with_detections(gen, args.seed, k, detector)
        images = None
        if renderer is not None:
            style = renderer.scene_style(scene, rng)
            frames = range(scene.num_frames) if k < args.bags else \
                range(0, scene.num_frames, args.sample_every)
            images = {f: renderer.render(scene, f, style) for f in frames}
        if args.samples:
            part = person_samples(scene, detections,
                                  frames=range(0, scene.num_frames, args.sample_every),
                                  images=images)
            parts.append(part)
            count += len(part.get('pose', ()))
            if count >= args.shard_size:
                write_samples(out / 'samples' / f'shard_{shard:04d}.npz', concat_samples(parts))
                shard, parts, count = shard + 1, [], 0
        if args.sequences:
            write_sequence(out / 'sequences' / f'scene_{k:05d}.npz', scene,
                           simulate_scene(scene, rng), detections)
        if k < args.bags:
            write_bag(out / 'bags' / f'scene_{k:05d}', scene,
                      (images[f] for f in range(scene.num_frames)), detections)
    if parts:
        write_samples(out / 'samples' / f'shard_{shard:04d}.npz', concat_samples(parts))
    print(f'wrote {args.scenes} scenes to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
