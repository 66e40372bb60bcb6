"""MoveNet in bf16 on OpenVINO: the keypoint model's fast path on CPUs with bf16 arithmetic.

onnxruntime runs MoveNet in fp32 only. OpenVINO runs the same ONNX file with bf16 inference
on CPUs that have bf16 instructions (avx512_bf16, AMX): 1.7x faster per crop on this project's
2-core machine (7.59 -> 4.36 ms, benchmarks/bench_openvino.py), keypoints within 1 px of fp32's
at p95, and no loss of real 3D accuracy (benchmarks/eval_real.py, docs/RESULTS.md). In fp32
OpenVINO is no faster than onnxruntime for MoveNet, so it is used for bf16 only.
"""
import logging
import threading

from hmr_models.frontend.config import KEYPOINT_PRECISIONS
from hmr_models.frontend.onnx_model import ModelLoadError, cpu_flags

log = logging.getLogger(__name__)

# CPU flags (/proc/cpuinfo) of native bf16 arithmetic; without them OpenVINO would emulate it.
BF16_FLAGS = ('avx512_bf16', 'amx_bf16')
OPENVINO_PIN = 'openvino==2026.4.1'


def cpu_has_bf16(cpuinfo='/proc/cpuinfo'):
    """True when this x86 CPU computes in bf16 natively (False where unknown)."""
    return any(f in cpu_flags(cpuinfo) for f in BF16_FLAGS)


def openvino_available():
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def keypoint_precision(precision, runtime=None):
    """'bf16' or 'fp32': what `precision` ('auto', 'bf16', 'fp32') means on this machine.

    'auto' is bf16 on a CPU runtime whose processor has bf16 instructions, with OpenVINO
    installed; fp32 elsewhere (GPUs, other CPUs). An explicit 'bf16' without OpenVINO is an
    error (it names the package); on a CPU without bf16 it runs, emulated and slow, with a
    warning.
    """
    if precision not in KEYPOINT_PRECISIONS:
        raise ValueError(f'keypoint precision must be one of {KEYPOINT_PRECISIONS}, got '
                         f'{precision!r}')
    on_cpu = runtime is None or runtime.device == 'cpu'
    if precision == 'auto':
        return 'bf16' if on_cpu and cpu_has_bf16() and openvino_available() else 'fp32'
    if precision == 'bf16':
        if not openvino_available():
            raise ModelLoadError(f"keypoint_precision 'bf16' runs MoveNet on OpenVINO, which is "
                                 f"not installed: pip install '{OPENVINO_PIN}' (or set "
                                 "keypoint_precision to 'fp32' or 'auto')")
        if not cpu_has_bf16():
            log.warning("keypoint_precision 'bf16': this CPU has no bf16 instructions (%s); "
                        "OpenVINO emulates them, slower than 'fp32'", ', '.join(BF16_FLAGS))
    return precision


class OpenVinoBf16Model:
    """An ONNX model compiled by OpenVINO for the CPU with bf16 inference.

    `run(feeds)` returns the first output. Calls are serialized: with openvino 2026.4.1, two
    Python threads inferring on one compiled model (even with a request each) deadlocked in
    the node (frontend_only, two MoveNet workers); OpenVINO's own threads share the work instead.
    """

    def __init__(self, path, threads=1, what='ONNX model'):
        import openvino as ov
        try:
            core = ov.Core()
            # Threads as the pipeline's budget says; no pinning: the mesh worker shares these
            # cores, the OS should move threads between them.
            self.compiled = core.compile_model(str(path), 'CPU', {
                'INFERENCE_NUM_THREADS': max(1, int(threads)), 'NUM_STREAMS': 1,
                'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': 'bf16',
                'ENABLE_CPU_PINNING': False})
            self._request = self.compiled.create_infer_request()
        except Exception as exc:  # noqa: BLE001 - any OpenVINO failure, said with the file
            raise ModelLoadError(f'{what} {path} could not be compiled by OpenVINO (bf16): '
                                 f"{exc}. Set keypoint_precision to 'fp32'.") from exc
        self._output = self.compiled.outputs[0]
        self._lock = threading.Lock()

    def run(self, feeds):
        with self._lock:
            # a copy: the request's output buffer is overwritten by its next call
            return self._request.infer(feeds)[self._output].copy()
