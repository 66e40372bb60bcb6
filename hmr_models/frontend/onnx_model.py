"""Loading ONNX models for the front-end with onnxruntime, with errors that say what to do."""
import logging
from pathlib import Path
import platform

from hmr_models.frontend.config import PRECISIONS
from hmr_models.paths import require_file
from hmr_models.runtime import Runtime

log = logging.getLogger(__name__)


# CPU flags (Linux /proc/cpuinfo) under which onnxruntime runs the int8 twin faster than fp32:
# AVX2's 8-bit multiplies (NanoDet 0.6x fp32's time on an AVX2 CPU without VNNI, 2026-12-07;
# the twin's 7-bit weights keep them from saturating there) and the VNNI/AMX dot products
# (0.45x on AVX-512 VNNI, 2026-12-05).
_INT8_FLAGS = ('avx2', 'avx512_vnni', 'avx_vnni', 'amx_int8')


def cpu_flags(cpuinfo='/proc/cpuinfo'):
    """The instruction-set flags of this x86 CPU (Linux /proc/cpuinfo); empty where unknown."""
    if platform.machine().lower() not in ('x86_64', 'amd64'):
        return set()
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    return set(next((line.split(':', 1)[1].split() for line in text.splitlines()
                     if line.startswith('flags')), []))


def cpu_has_int8_kernels(cpuinfo='/proc/cpuinfo'):
    """True when this x86 CPU has AVX2 or VNNI/AMX 8-bit arithmetic (False where unknown)."""
    return any(f in cpu_flags(cpuinfo) for f in _INT8_FLAGS)


def bundled_model(fp32_path, precision, runtime=None):
    """The bundled model file for `precision`: its int8 twin (`<name>_int8.onnx`) or itself.

    'auto' takes the int8 twin on an x86 CPU runtime with AVX2 or VNNI (NanoDet 1.6-2.2x
    faster there, benchmarks/bench_frontend.py), and fp32 on GPUs (onnxruntime's CUDA provider
    runs fp32 graphs best) and other CPUs (not measured). A model without an int8 twin is
    always fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    fp32_path = Path(fp32_path)
    twin = fp32_path.with_name(f'{fp32_path.stem}_int8{fp32_path.suffix}')
    if precision == 'auto':
        on_cpu = runtime is None or runtime.device == 'cpu'
        precision = 'int8' if on_cpu and cpu_has_int8_kernels() else 'fp32'
    return twin if precision == 'int8' and twin.exists() else fp32_path


def scalar_uniform_constants(model):
    """The graph with per-channel constants whose channels are all equal made scalars.

    onnxruntime broadcasts a (1, 1, 1, C) constant over an NHWC image through a slow general
    path: MoveNet's input scaling (x - 0) * 1/127.5 per channel took 0.9 ms of its 8.3 ms per
    crop; as scalars 1.05 ms less in all. The arithmetic is the same: outputs are bit-identical.
    Only the declared shapes of those constants change.
    """
    from onnx import numpy_helper
    import numpy as np
    constants = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type not in ('Add', 'Sub', 'Mul', 'Div'):
            continue
        for name in node.input:
            if name not in constants:
                continue
            value = numpy_helper.to_array(constants[name])
            if value.size > 1 and value.ndim >= 2 and value.shape[:-1] == (1,) * (value.ndim - 1) \
                    and np.all(value == value.flat[0]):
                constants[name].CopyFrom(numpy_helper.from_array(np.array(value.flat[0]), name))
    return model


class ModelLoadError(RuntimeError):
    """A model file exists but cannot be used (not ONNX, wrong inputs/outputs, ...)."""


def load_session(path, runtime=None, what='ONNX model', parameter=None, get_it=None,
                 transform=None):
    """An onnxruntime InferenceSession for `path`, configured by `runtime` (threads, no spinning).

    `transform(model) -> model` may edit the graph (an onnx ModelProto) before it is loaded;
    the file itself is never changed. Raises MissingModelFile when the file is absent and
    ModelLoadError when onnxruntime cannot load it; both messages name the file and the
    parameter that chose it.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a hard requirement
        raise ModelLoadError('onnxruntime is not installed: pip install onnxruntime==1.31.1 '
                             f'(needed for the {what})') from exc
    path = require_file(path, what, parameter=parameter, get_it=get_it)
    runtime = runtime or Runtime()
    available = ort.get_available_providers()
    wanted = runtime.onnx_providers()

    def name(provider):   # a provider is a name or (name, options)
        return provider[0] if isinstance(provider, tuple) else provider
    providers = [p for p in wanted if name(p) in available]
    if len(providers) < len(wanted):
        log.warning('onnxruntime lacks %s; running the %s on %s',
                    sorted({name(p) for p in wanted} - set(available)), what,
                    [name(p) for p in providers])
    try:
        model = str(path)
        if transform is not None:
            import onnx
            model = transform(onnx.load(model)).SerializeToString()
        return ort.InferenceSession(model, sess_options=runtime.onnx_session_options(),
                                    providers=providers or ['CPUExecutionProvider'])
    except Exception as exc:
        where = f" (parameter '{parameter}')" if parameter else ''
        raise ModelLoadError(f'{what} {path}{where} could not be loaded by onnxruntime: {exc}. '
                             'Point the parameter at a valid ONNX file.') from exc


def describe_io(session):
    """'name shape type' strings of a session's inputs and outputs, for error messages."""
    ins = [f'{i.name} {i.shape} {i.type}' for i in session.get_inputs()]
    outs = [f'{o.name} {o.shape}' for o in session.get_outputs()]
    return f'inputs {ins}, outputs {outs}'
