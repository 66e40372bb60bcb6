"""Loading ONNX models for the front-end with onnxruntime, with errors that say what to do."""
import logging

from hmr_models.paths import require_file
from hmr_models.runtime import Runtime

log = logging.getLogger(__name__)


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
