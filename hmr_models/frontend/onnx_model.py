"""Loading ONNX models for the front-end with onnxruntime, with errors that say what to do."""
import logging

from hmr_models.paths import require_file
from hmr_models.runtime import Runtime

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model file exists but cannot be used (not ONNX, wrong inputs/outputs, ...)."""


def load_session(path, runtime=None, what='ONNX model', parameter=None, get_it=None):
    """An onnxruntime InferenceSession for `path`, configured by `runtime` (threads, no spinning).

    Raises MissingModelFile when the file is absent and ModelLoadError when onnxruntime cannot
    load it; both messages name the file and the parameter that chose it.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a hard requirement
        raise ModelLoadError('onnxruntime is not installed: pip install onnxruntime==1.31.1 '
                             f'(needed for the {what})') from exc
    path = require_file(path, what, parameter=parameter, get_it=get_it)
    runtime = runtime or Runtime()
    available = ort.get_available_providers()
    providers = [p for p in runtime.onnx_providers() if p in available]
    if len(providers) < len(runtime.onnx_providers()):
        log.warning('onnxruntime lacks %s; running the %s on %s',
                    sorted(set(runtime.onnx_providers()) - set(available)), what, providers)
    try:
        return ort.InferenceSession(str(path), sess_options=runtime.onnx_session_options(),
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
