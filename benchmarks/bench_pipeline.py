"""The whole pipeline on a clip, without ROS: frames arrive at camera rate, results come out.

    .venv/bin/python benchmarks/bench_pipeline.py                        # CPU, bundled clip
    .venv/bin/python benchmarks/bench_pipeline.py --canvas 2560x720 --tile 2x1   # 2 copies
    python benchmarks/bench_pipeline.py --device cuda --profile sd15 --random-weights ...

A source thread offers the clip's frames at `--rate` (the newest frame wins, as in hmr_node:
a frame not taken before the next one arrives is dropped and counted). With pipelining (the
node's default) one worker runs the front-end (detection, keypoints, tracking), a second the
per-frame mesh stage (DPMesh, refinement) on the frame before and a third the temporal stage
(DiffMesh) on the frame before that, the front-end paced to finish just when the mesh stage is
free (`unpaced`: as soon as it can); in lockstep one worker runs them all
(hmr_models/eval/realtime.py).
Prints FPS out, latency from a frame's arrival to its result (p50/p95/p99), drops, the median
of each stage and the mean number of people per processed frame.

`--random-weights` builds the profile's network with random weights (the 'sd15' profile's
paper-size network needs your trained checkpoint otherwise); latency does not depend on the
values, but then the meshes are meaningless and DiffMesh smooths nonsense: speed only.
`--canvas 2560x720 --tile 2x1` shows two full-size copies of the clip side by side (4 people
where the clip has 2).
"""
import argparse
import os
from pathlib import Path
import sys
import tempfile
import time

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hmr_models.eval.realtime import fit_to_canvas, replay_at_rate, summarise  # noqa: E402
from hmr_models.pipeline import PipelineConfig, StageConfigs, build_pipeline  # noqa: E402
from hmr_models.types import CameraIntrinsics  # noqa: E402

MODES = ('pipelined', 'unpaced', 'lockstep')
CLIP = Path(__file__).resolve().parents[1] / 'media' / 'sample_sports2d.mp4'


def read_frames(path, canvas, tile, limit):
    """Up to `limit` RGB frames of the clip, each shown (cols, rows) times in a canvas (w, h).

    Each copy is fitted into its cell with its aspect kept (black borders; fit_to_canvas, as
    bench_live.py fits a clip to the camera size).
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f'cannot open {path}')
    frames = []
    while len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frame = fit_to_canvas(bgr, canvas, tile)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise SystemExit(f'no frames in {path}')
    return frames


def _stage_classes():
    from hmr_models.diffmesh import OneEuroConfig, StreamingConfig, TemporalConfig
    from hmr_models.dpmesh.factory import MeshConfig
    from hmr_models.fitting import RefineConfig
    from hmr_models.frontend import FrontEndConfig
    return {'frontend': FrontEndConfig, 'mesh': MeshConfig, 'refine': RefineConfig,
            'temporal': TemporalConfig, 'streaming': StreamingConfig, 'one_euro': OneEuroConfig}


STAGES = ('frontend', 'mesh', 'refine', 'temporal', 'streaming', 'one_euro')


def stage_overrides(settings):
    """['mesh.image_correction_interval=3', ...] -> {stage: {name: value}} (YAML values)."""
    import yaml
    out = {stage: {} for stage in STAGES}
    for item in settings:
        key, sep, value = item.partition('=')
        stage, _, name = key.partition('.')
        if not sep or stage not in out or not name:
            raise SystemExit(f"--set takes STAGE.NAME=VALUE with STAGE in {STAGES}, got '{item}'")
        out[stage][name] = yaml.safe_load(value)
    return out


def stage_configs(overrides):
    """StageConfigs with every stage's defaults patched by `overrides` (strict names)."""
    return StageConfigs(**{stage: cls.from_dict(overrides[stage])
                           for stage, cls in _stage_classes().items()})


def random_checkpoint(profile, folder):
    """A checkpoint of the profile's network with random weights (speed measurements only)."""
    import torch

    from hmr_models.dpmesh import DPMesh, load_config
    torch.manual_seed(0)
    model = DPMesh(load_config(profile)).half()   # half the bytes to write and read back
    return str(model.save_pretrained(Path(folder) / f'{profile}_random', full=True))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clip', default=str(CLIP))
    parser.add_argument('--canvas', default='1280x720')
    parser.add_argument('--tile', default='1x1', help='COLSxROWS copies of the clip in the '
                        'canvas, e.g. --canvas 2560x720 --tile 2x1: two full-size copies')
    parser.add_argument('--frames', type=int, default=150, help='frames read (then looped)')
    parser.add_argument('--rate', type=float, default=30.0, help='camera rate (Hz)')
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--settle', type=int, default=5, help='results not counted')
    parser.add_argument('--profile', default='compact', choices=['compact', 'sd15'])
    parser.add_argument('--random-weights', action='store_true')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--dtype', default='auto')
    parser.add_argument('--threads', type=int, default=0)
    parser.add_argument('--backend', default='auto')
    parser.add_argument('--modes', nargs='+', default=['pipelined', 'lockstep'],
                        choices=MODES, help='pipelined: the node\'s default (paced front-end); '
                        'unpaced: pipelined with pace_frontend false; lockstep: one worker')
    parser.add_argument('--detector-size', type=int, default=0, help='front-end detector '
                        'input size (0 = default); a wide tiled canvas needs a larger one')
    parser.add_argument('--no-refine', action='store_true', help='keypoint refinement off')
    parser.add_argument('--set', action='append', default=[], metavar='STAGE.NAME=VALUE',
                        help='a stage setting, e.g. mesh.image_correction_interval=3 (stages: '
                        + ', '.join(STAGES) + ')')
    args = parser.parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    canvas = tuple(int(v) for v in args.canvas.lower().split('x'))
    tile = tuple(int(v) for v in args.tile.lower().split('x'))
    frames = read_frames(args.clip, canvas, tile, args.frames)
    camera = CameraIntrinsics.from_image_diagonal(*canvas)
    print(f'{Path(args.clip).name}: {len(frames)} frames, {canvas[0]}x{canvas[1]} ({args.tile} '
          f'copies), {args.rate:g} Hz for {args.seconds:g} s; profile '
          f'{args.profile}' + (' (random weights)' if args.random_weights else ''))
    overrides = stage_overrides(args.set)
    if args.detector_size:
        overrides['frontend']['detector_input_size'] = args.detector_size
    if args.no_refine:
        overrides['refine']['refine_iterations'] = 0
    with tempfile.TemporaryDirectory() as tmp:
        if args.random_weights:
            overrides['mesh']['dpmesh_checkpoint'] = random_checkpoint(args.profile, tmp)
        stages = stage_configs(overrides)
        for mode in args.modes:
            config = PipelineConfig(model_profile=args.profile, device=args.device,
                                    dtype=args.dtype, threads=args.threads,
                                    backend=args.backend, pipelining=mode != 'lockstep',
                                    pace_frontend=mode == 'pipelined')
            t0 = time.perf_counter()
            pipe = build_pipeline(config, stages)
            pipe.warm_up(*canvas)
            print(f'\n{mode}: built and warmed up in {time.perf_counter() - t0:.1f} s')
            replay = replay_at_rate(pipe, frames, camera, args.rate, args.seconds,
                                    pipelined=config.pipelining, pace=config.pace_frontend,
                                    temporal_worker=config.temporal_worker)
            print(f'\n== {mode}, {args.profile} on {pipe.mesh.device if pipe.mesh else "cpu"}')
            print(summarise(replay, args.settle))
            pipe.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
