"""OpenVINO against onnxruntime for every ONNX model the CPU pipeline runs, on real inputs.

Issue 15 asked whether OpenVINO (Intel's CPU runtime, on the package index) beats onnxruntime
here. This runs the real pipeline (onnxruntime backend) on a clip, records the inputs each
onnxruntime session receives (detector images, MoveNet crops, the DPMesh and DiffMesh
exports' tensors), then times each model on those same inputs, one call after another on
`--threads` threads: onnxruntime as the pipeline loads it, OpenVINO in fp32 and OpenVINO with
bf16 inference (this CPU reports avx512_bf16). Printed per model: median ms per call, ratio to
onnxruntime, the largest output difference, and for MoveNet how far the keypoints move (pixels
of its 192-px crop, keypoints scored >= 0.3). Models OpenVINO cannot convert say which operator.

OpenVINO is installed with hmr_ros on x86_64 (requirements.txt) for MoveNet in bf16
(`frontend.keypoint_precision`), the one use that this comparison found worth it.

    .venv/bin/python benchmarks/bench_openvino.py [--clip VIDEO] [--frames 60] [--threads 1]
"""
import argparse
from collections import defaultdict
import os
from pathlib import Path
import sys
import tempfile
import time

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / 'media' / 'sample_sports2d.mp4'
KEYPOINT_SCORE = 0.3


class SessionRecorder:
    """Wraps onnxruntime.InferenceSession: which model each session runs and what it is fed."""

    def __init__(self, keep):
        import onnxruntime as ort
        self.keep, self.ort = keep, ort
        self.models = {}                    # id(session) -> model path (bytes saved to a file)
        self.feeds = defaultdict(list)      # model path -> [feed dicts]
        self.names = {}                     # model path -> the file it was loaded from
        self._loaded = None                 # the file onnx.load read last (an edited graph's)
        self.scratch = Path(tempfile.mkdtemp(prefix='bench_openvino_'))
        self._init, self._run = ort.InferenceSession.__init__, ort.InferenceSession.run
        import onnx
        self.onnx, self._load = onnx, onnx.load

    def __enter__(self):
        recorder = self

        def load(f, *args, **kwargs):
            recorder._loaded = f
            return recorder._load(f, *args, **kwargs)

        def init(session, model, *args, **kwargs):
            recorder._init(session, model, *args, **kwargs)
            if isinstance(model, (bytes, bytearray)):   # an edited graph (MoveNet's scalars)
                path = recorder.scratch / f'model{len(recorder.models)}.onnx'
                path.write_bytes(model)
                recorder.names[str(path)] = f'{Path(recorder._loaded).name} (edited)'
                model = path
            recorder.models[id(session)] = str(model)
            recorder.names.setdefault(str(model), Path(model).name)

        def run(session, output_names, feeds, *args, **kwargs):
            path = recorder.models.get(id(session))
            if path is not None and len(recorder.feeds[path]) < recorder.keep:
                recorder.feeds[path].append({k: np.array(v) for k, v in feeds.items()})
            return recorder._run(session, output_names, feeds, *args, **kwargs)

        self.ort.InferenceSession.__init__, self.ort.InferenceSession.run = init, run
        self.onnx.load = load
        return self

    def __exit__(self, *exc):
        self.ort.InferenceSession.__init__, self.ort.InferenceSession.run = self._init, self._run
        self.onnx.load = self._load


def record_inputs(clip, frames, threads, keep):
    """Run the pipeline on `frames` images of `clip`; the recorded feeds per ONNX model."""
    from hmr_models.pipeline import PipelineConfig, build_pipeline
    from hmr_models.types import CameraIntrinsics
    with SessionRecorder(keep) as recorder:
        pipeline = build_pipeline(PipelineConfig(threads=threads, backend='onnxruntime',
                                                 pipelining=False))
        capture = cv2.VideoCapture(str(clip))
        done = 0
        while done < frames:
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            camera = CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
            pipeline.process(rgb, done / 30.0, camera)
            done += 1
        capture.release()
        pipeline.close()
    if done == 0:
        raise SystemExit(f'{clip}: no frames could be read')
    return {path: feeds for path, feeds in recorder.feeds.items() if feeds}, recorder.names, done


def median_ms(call, feeds, repeats):
    for feed in feeds[:2]:
        call(feed)
    times = []
    for i in range(repeats):
        feed = feeds[i % len(feeds)]
        t0 = time.perf_counter()
        call(feed)
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def compare(path, feeds, threads, repeats):
    """Rows (engine, ms, max output difference, keypoint px moved or None) for one model."""
    import onnxruntime as ort
    import openvino as ov
    from hmr_models.runtime import Runtime
    session = ort.InferenceSession(path, Runtime(threads=threads).onnx_session_options(),
                                   providers=['CPUExecutionProvider'])
    reference = [session.run(None, f) for f in feeds]
    rows = [('onnxruntime', median_ms(lambda f: session.run(None, f), feeds, repeats), 0.0,
             None)]
    core = ov.Core()
    try:
        model = core.read_model(path)
    except Exception as exc:   # noqa: BLE001 - report what OpenVINO cannot convert
        first = [line for line in str(exc).splitlines() if line.startswith('-- ')]
        return rows, (first[0][3:].split(' with a message')[0] if first
                      else str(exc).splitlines()[0])[:100]
    for precision, static in (('f32', False), ('f32', True), ('bf16', True)):
        config = {'INFERENCE_NUM_THREADS': threads, 'NUM_STREAMS': 1,
                  'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': precision}
        compiled_for = {}    # input shapes -> (compiled model, infer request)

        def request_for(feed):
            key = tuple((k, v.shape) for k, v in feed.items()) if static else ()
            if key not in compiled_for:
                shaped = model.clone()
                if static:   # one compiled model per input shape (the track count varies)
                    shaped.reshape({k: ov.PartialShape(list(v.shape)) for k, v in feed.items()})
                compiled = core.compile_model(shaped, 'CPU', config)
                compiled_for[key] = (compiled, compiled.create_infer_request())
            return compiled_for[key]

        for feed in feeds:   # compile outside the timing
            request_for(feed)

        def infer(feed):
            compiled, request = request_for(feed)
            result = request.infer(feed)
            return [np.array(result[out]) for out in compiled.outputs]
        ms = median_ms(infer, feeds, repeats)
        outputs = [infer(f) for f in feeds]
        diff = max(float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())
                   for outs, refs in zip(outputs, reference) for a, b in zip(outs, refs)
                   if np.asarray(b).dtype.kind == 'f')
        moved = None
        if len(reference[0]) == 1 and reference[0][0].shape[-2:] == (17, 3):   # MoveNet y, x, p
            size = next(iter(feeds[0].values())).shape[1]
            ref = np.concatenate([r[0].reshape(-1, 17, 3) for r in reference])
            got = np.concatenate([o[0].reshape(-1, 17, 3) for o in outputs])
            confident = ref[..., 2] >= KEYPOINT_SCORE
            px = np.linalg.norm((got[..., :2] - ref[..., :2]) * size, axis=-1)[confident]
            moved = (float(np.median(px)), float(np.percentile(px, 95)), float(px.max()))
        rows.append((f"openvino {precision}{' static' if static else ''}", ms, diff, moved))
    return rows, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clip', default=str(SAMPLE))
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--keep', type=int, default=120, help='inputs kept per model')
    parser.add_argument('--repeats', type=int, default=100, help='timed calls per engine')
    args = parser.parse_args(argv)
    try:
        import openvino as ov
    except ImportError:
        sys.exit('openvino is not installed: .venv/bin/pip install openvino==2026.4.1')
    import onnxruntime as ort
    print(f'bench_openvino {time.strftime("%Y-%m-%d %H:%M")}, {os.cpu_count()} cores, '
          f'onnxruntime {ort.__version__}, openvino {ov.__version__.split("-")[0]}, '
          f'{args.threads} thread(s); inputs recorded from {Path(args.clip).name}')
    recorded, names, frames = record_inputs(args.clip, args.frames, args.threads, args.keep)
    print(f'{frames} frames; medians of {args.repeats} calls over the recorded inputs\n')
    print(f"{'model':36} {'inputs':>6} {'engine':20} {'ms':>7} {'x ort':>6} {'max diff':>9}  "
          f"keypoints moved px (median / p95 / max)")
    for path, feeds in recorded.items():
        rows, failure = compare(path, feeds, args.threads, args.repeats)
        name = names[path]
        base = rows[0][1]
        for engine, ms, diff, moved in rows:
            kp = f'{moved[0]:.2f} / {moved[1]:.2f} / {moved[2]:.1f}' if moved else ''
            print(f'{name[:36]:36} {len(feeds):>6} {engine:20} {ms:7.2f} {ms / base:6.2f} '
                  f'{diff:9.1e}  {kp}')
        if failure:
            print(f'{name[:36]:36} {len(feeds):>6} {"openvino":20} cannot convert: {failure}')


if __name__ == '__main__':
    main()
