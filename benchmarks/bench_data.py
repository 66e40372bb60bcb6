"""Data engine figures.

Parse/retarget speed, corpus retargeting quality, scene generation speed, visibility and
error-model statistics, and pictures to look at.

    python benchmarks/bench_data.py [--scenes 12] [--out out/data] [--body open|PATH]

Timings are medians (this machine is shared: re-measure in a quiet moment). Pictures go to
--out: retarget strips (source vs SMPL skeleton) and rendered scenes with keypoints
(green visible, magenta self-occluded, orange behind a person, red behind an object, blue out
of frame; white crosses: the simulated detector).
"""
import argparse
from pathlib import Path
import statistics
import sys
import time

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hmr_models.data.mocap.build_corpus import load_target_body  # noqa: E402
from hmr_models.data.mocap.bvh import read_bvh  # noqa: E402
from hmr_models.data.mocap.corpus import build_corpus  # noqa: E402
from hmr_models.data.mocap.deepmimic import read_deepmimic  # noqa: E402
from hmr_models.data.mocap.motion import resample  # noqa: E402
from hmr_models.data.mocap.retarget import retarget, target_rest_joints  # noqa: E402
from hmr_models.data.mocap.rigs import find_rig  # noqa: E402
from hmr_models.data.mocap.sources import default_mocap_dir  # noqa: E402
from hmr_models.data.synth import detector_noise as dn  # noqa: E402
from hmr_models.data.synth import visibility as vis  # noqa: E402
from hmr_models.data.synth.estimator_noise import simulate_scene  # noqa: E402
from hmr_models.data.synth.scene import MotionPool, SceneConfig, SceneGenerator  # noqa: E402
from hmr_models.data.synth.writers import detect_scene  # noqa: E402
from hmr_models.eval.metrics import acc_err, mpjpe  # noqa: E402


def median_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def body_joints(body, motion, chunk=400):
    """(T, 24, 3) joints of the body model (mean shape) driven by an SMPLMotion."""
    out = []
    with torch.no_grad():
        for s in range(0, len(motion), chunk):
            out.append(body(motion.pose[s:s + chunk], None,
                            motion.trans[s:s + chunk]).joints.numpy())
    return np.concatenate(out)


def bench_retarget(mocap, body, rest, out_dir):
    from hmr_models.data.mocap.retarget import bone_direction_errors
    from hmr_models.data.mocap.viz import save_retarget_strip
    print('\n== parse + retarget (median of 3); bone-direction error after FK with the body '
          'model ==')
    clips = [('cmu', lambda: read_bvh(mocap / 'cmu' / '01_01.bvh', units_to_m=0.0564)),
             ('deepmimic', lambda: read_deepmimic(mocap / 'deepmimic' / 'humanoid3d_run.txt',
                                                  mocap / 'deepmimic' / 'humanoid.urdf'))]
    bandai = sorted((Path.home() / '.cache' / 'hmr_ros' / 'bandai').rglob('*walk_normal*.bvh'))
    if bandai:
        clips.append(('bandai', lambda: read_bvh(bandai[0])))
    for name, load in clips:
        t_parse, src = median_time(load)
        rig = find_rig(src)
        t_rt, smpl = median_time(lambda: retarget(src, rig, rest_joints=rest))
        t_rs, _ = median_time(lambda: resample(smpl, 30.0))
        per_k = 1000.0 / src.num_frames
        print(f'{name:<10} {src.num_frames:5d} frames @ {src.fps:5.1f} Hz: parse '
              f'{t_parse * per_k * 1e3:6.1f} ms, retarget {t_rt * per_k * 1e3:6.1f} ms, '
              f'resample {t_rs * per_k * 1e3:5.1f} ms per 1000 source frames')
        joints = body_joints(body, smpl)
        errs = bone_direction_errors(joints, src, rig, rest)
        trunk = ('pelvis->left_hip', 'pelvis->right_hip', 'spine3->left_collar',
                 'spine3->right_collar')
        mapped = np.degrees(np.concatenate([v for k, v in errs.items() if k not in trunk]))
        worst = max((k for k in errs if k not in trunk), key=lambda k: errs[k].mean())
        print(f'{"":10} {len(errs)} bones with a source counterpart: mapped bones mean '
              f'{mapped.mean():.2f} deg, p95 {np.percentile(mapped, 95):.2f} deg, worst '
              f'{worst} {np.degrees(errs[worst].mean()):.1f} deg; target-proportion bones '
              + ', '.join(f'{k} {np.degrees(errs[k].mean()):.0f}' for k in trunk if k in errs))
        save_retarget_strip(out_dir / f'bench_retarget_{name}.png', src, smpl, rest,
                            num_frames=6)


def report_corpus(corpus):
    print(f'\n== pose corpus ({corpus.root}) ==')
    for coll, s in corpus.index['summary'].items():
        bones = s['per_bone_deg']
        trunk = {k: v for k, v in bones.items() if k.startswith(('pelvis->left_hip',
                                                                 'pelvis->right_hip',
                                                                 'spine3->left_collar',
                                                                 'spine3->right_collar'))}
        print(f"{coll:<10} {s['clips']:5d} clips {s['hours']:6.2f} h  bone-direction error of "
              f"mapped bones: mean {s['bone_err_mean_deg']:.2f} deg, p95 "
              f"{s['bone_err_p95_deg']:.2f} deg; target-proportion bones (mean deg) "
              + ', '.join(f'{k} {v:.1f}' for k, v in trunk.items()))
    for coll, row in corpus.summary().items():
        print(f'{coll:<10} clips/frames  train {row["train"]}  val {row["val"]}  '
              f'test {row["test"]}')


def bench_scenes(body, corpus, n_scenes, out_dir):
    pool = MotionPool.from_corpus(corpus, 'val')
    gen = SceneGenerator(body, pool, SceneConfig(num_frames=60), keep_vertices=True)
    print(f'\n== scenes ({n_scenes} x 60 frames, body {body.name}, motions: val split) ==')
    gen.generate(seed=0)  # warm up
    times, scenes = [], []
    for s in range(n_scenes):
        t = time.perf_counter()
        scenes.append(gen.generate(seed=1000 + s))
        times.append(time.perf_counter() - t)
    people = [len(s.people) for s in scenes]
    per_frame = statistics.median(t / 60 for t in times)
    print(f'scene generation: median {statistics.median(times):.2f} s per scene, '
          f'{per_frame * 1e3:.1f} ms per frame ({np.mean(people):.1f} people on average)')
    rng = np.random.default_rng(0)
    t_det, dets = median_time(lambda: [detect_scene(s, rng) for s in scenes], 1)
    t_est, ests = median_time(lambda: [simulate_scene(s, rng) for s in scenes], 1)
    frames = 60 * len(scenes)
    print(f'detector model {t_det / frames * 1e3:.2f} ms/frame, estimator model '
          f'{t_est / frames * 1e3:.2f} ms/frame')

    codes = np.concatenate([p.keypoint_codes.reshape(-1) for s in scenes for p in s.people])
    print('COCO keypoints: ' + ', '.join(
        f'{name} {((codes & bit) > 0).mean():.1%}' for bit, name in vis.CODE_NAMES.items())
        + f', visible {(codes == 0).mean():.1%}')

    etypes = np.concatenate([d[1].reshape(-1) for ds in dets for d in ds])
    codes_d = np.concatenate([np.stack([p.keypoint_codes[f] for p in s.people]).reshape(-1)
                              for s in scenes for f in range(60)])
    detected = np.concatenate([d[2] for ds in dets for d in ds])
    names = {dn.OK: 'ok', dn.JITTER_OCCLUDED: 'guessed', dn.MISSING: 'missing',
             dn.GRABBED: 'grabbed', dn.SWAPPED: 'swapped', dn.CLAMPED: 'clamped'}
    print(f'detector: person recall {detected.mean():.1%}; keypoints ' + ', '.join(
        f'{n} {(etypes == k).mean():.1%}' for k, n in names.items()))
    occluded = (codes_d != 0) & (codes_d & vis.OUT_OF_FRAME == 0)
    print(f'  missing among visible {np.mean(etypes[codes_d == 0] == dn.MISSING):.1%}, '
          f'among occluded {np.mean(etypes[occluded] == dn.MISSING):.1%}')

    # Per-frame estimator inputs against ground truth (the DiffMesh "per-frame" baseline).
    errs, accs, gt_acc = [], [], []
    for s, est in zip(scenes, ests):
        for p, e in zip(s.people, est):
            with torch.no_grad():
                out = body(e.pose, e.betas, e.transl)
            pred = out.joints.numpy() * 1000.0
            gt = p.joints * 1000.0
            errs.append(mpjpe(pred, gt))
            accs.append(acc_err(pred, gt))
            gt_acc.append(np.linalg.norm(np.diff(gt, 2, axis=0), axis=-1).mean())
    print(f'simulated per-frame estimates: MPJPE {np.mean(errs):.1f} mm, ACC-ERR '
          f'{np.mean(accs):.1f} mm/frame^2 (acceleration of the true motion itself: '
          f'{np.mean(gt_acc):.1f} mm/frame^2)')
    return scenes, dets


def save_pictures(body, scenes, dets, out_dir):
    import cv2
    from hmr_models.data.synth.render import SceneRenderer
    try:
        renderer = SceneRenderer(body)
    except Exception as exc:  # no OpenGL here
        print(f'renderer unavailable ({exc}): no scene pictures')
        return
    colours = {0: (0, 255, 0), vis.SELF: (255, 0, 255), vis.OTHER: (255, 150, 0),
               vis.OBJECT: (255, 0, 0), vis.OUT_OF_FRAME: (0, 0, 255)}
    tiles, times = [], []
    rng = np.random.default_rng(5)
    for scene, det in list(zip(scenes, dets))[:6]:
        style = renderer.scene_style(scene, rng)
        t = time.perf_counter()
        img = renderer.render(scene, 30, style)
        times.append(time.perf_counter() - t)
        for p in scene.people:
            for k in range(17):
                code = int(p.keypoint_codes[30, k])
                order = (vis.OUT_OF_FRAME, vis.OBJECT, vis.OTHER, vis.SELF)
                key = 0 if code == 0 else next(b for b in order if code & b)
                x, y = p.keypoints2d[30, k]
                if abs(x) < 1e5 and abs(y) < 1e5:
                    cv2.circle(img, (int(x), int(y)), 4, colours[key], -1)
        people = det[30][0]
        for kp in people.keypoints:
            for x, y in kp[np.isfinite(kp).all(-1)]:
                cv2.drawMarker(img, (int(x), int(y)), (255, 255, 255), cv2.MARKER_CROSS, 8, 1)
        scale = 480 / img.shape[0]
        tiles.append(cv2.resize(img, (int(img.shape[1] * scale), 480))[:, :640])
    tiles = [np.pad(t, ((0, 0), (0, 640 - t.shape[1]), (0, 0))) for t in tiles]
    rows = [np.concatenate(tiles[i:i + 3], 1) for i in range(0, len(tiles) - 2, 3)]
    path = out_dir / 'bench_scenes.png'
    cv2.imwrite(str(path), np.concatenate(rows, 0)[..., ::-1])
    print(f'rendering ({renderer.renderer.gl_renderer}): median '
          f'{statistics.median(times) * 1e3:.0f} ms per frame; wrote {path}')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--scenes', type=int, default=12)
    p.add_argument('--out', default=str(REPO / 'out' / 'data'))
    p.add_argument('--body', default='open')
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    body = load_target_body(args.body)
    if body is None:
        sys.exit('needs a body model (--body open or an SMPL-format .npz)')
    rest = target_rest_joints(body)
    mocap = default_mocap_dir()
    bench_retarget(mocap, body, rest, out_dir)
    corpus = build_corpus(body=body)
    report_corpus(corpus)
    scenes, dets = bench_scenes(body, corpus, args.scenes, out_dir)
    save_pictures(body, scenes, dets, out_dir)


if __name__ == '__main__':
    main()
