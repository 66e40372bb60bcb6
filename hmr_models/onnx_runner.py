"""Running the pipeline's torch models with onnxruntime (backend 'onnxruntime' or 'tensorrt').

A model is exported to ONNX once, on the machine that runs it, and cached: the file name holds
a hash of its weights, its input shapes and the torch version, so new weights or a new torch
export again and nothing stale is ever loaded. The export is checked against torch on the
example inputs before it is cached; a model that does not export, or whose export disagrees, is
run with torch (and the log says why). Nothing is downloaded: the ONNX file is a conversion of
the weights already on disk.

The cache lives in $HMR_CACHE_DIR/onnx, else $XDG_CACHE_HOME/hmr_ros/onnx or
~/.cache/hmr_ros/onnx.
"""
from dataclasses import replace
import hashlib
import logging
import os
from pathlib import Path
import tempfile
import time

import numpy as np
import torch

log = logging.getLogger(__name__)

OPSET = 20          # GridSample on volumes (the regressor's joint sampling) needs opset 20
PARITY_ATOL = 1e-3  # largest difference to torch accepted from an export (float32, radians/m)


class ExportError(RuntimeError):
    """A model could not be exported to ONNX, or its export does not match torch."""


def cache_dir():
    """The folder of the exported ONNX files."""
    base = os.environ.get('HMR_CACHE_DIR')
    if base:
        return Path(base).expanduser() / 'onnx'
    xdg = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(xdg) / 'hmr_ros' / 'onnx'


def _onnxslim_version():
    # From the package's metadata: importing onnxslim (sympy) costs a second of the start.
    from importlib import metadata
    try:
        return metadata.version('onnxslim')
    except metadata.PackageNotFoundError:
        return 'absent'


def simplified(path):
    """Simplify the ONNX file at `path` in place with onnxslim, where it is installed.

    The TorchScript exporter spells out every use of a dynamic size (Shape, Gather, Unsqueeze,
    Concat: DiffMesh's tick, its steps unrolled, has 8,899 nodes); onnxslim folds what it can
    from the static sizes and merges repeats (3,177 nodes). Measured on the bundled DiffMesh
    (2026-12-07, one thread, 2-core AVX2 CPU; docs/RESULTS.md): session load 14.4 -> 4.2 s, a
    tick with 1 / 3 / 6 tracks 17.7 / 26.7 / 35.8 -> 8.9 / 17.8 / 24.6 ms, outputs within
    6e-7. Without onnxslim, or when it fails, the export is kept as it is (the log says so).
    """
    import onnx
    try:
        import onnxslim
    except ImportError:
        log.warning('onnxslim is not installed: %s is not simplified (pip install '
                    'onnxslim==0.1.98; runs slower)', Path(path).name)
        return
    t0 = time.monotonic()
    model = onnx.load(str(path))
    before = len(model.graph.node)
    try:
        model = onnxslim.slim(model)
    except Exception as exc:  # noqa: BLE001 - any failure: the plain export still works
        log.warning('onnxslim could not simplify %s (%s: %s); kept as exported',
                    Path(path).name, type(exc).__name__, exc)
        return
    onnx.save(model, str(path))
    log.info('simplified the export: %d -> %d nodes in %.1f s', before, len(model.graph.node),
             time.monotonic() - t0)


def weights_digest(module, extra=''):
    """A short hash of a module's parameters and buffers (plus `extra` text)."""
    h = hashlib.sha256(f'{torch.__version__}|{OPSET}|{extra}'.encode())
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


class OnnxRunner:
    """An onnxruntime session of a torch module, exported once and cached.

    Args:
        module: the torch module (eval mode, float32), called as module(*inputs).
        example: example inputs (torch tensors), in the order of `input_names`.
        input_names / output_names: names of the graph's inputs and outputs.
        dynamic: {input or output name: {axis: name}} axes that vary (e.g. the batch).
        runtime: hmr_models.runtime.Runtime (threads, providers).
        name: a short name for the file and the log ('dpmesh', 'diffmesh').
        simplify: also simplify the exported graph with onnxslim (`simplified`): worth its
            one-off cost for a graph that runs every frame.
    Raises ExportError when the export fails or disagrees with torch.
    """

    def __init__(self, module, example, input_names, output_names, dynamic, runtime, name,
                 simplify=False):
        from hmr_models.frontend.onnx_model import load_session
        self.name = name
        # The file stands for these weights behind this wrapper, these inputs and outputs.
        what = ';'.join([type(module).__qualname__, *input_names, *output_names,
                         *(str(tuple(t.shape)) for t in example)])
        if simplify:
            what += f';onnxslim {_onnxslim_version()}'
        path = cache_dir() / f'{name}-{weights_digest(module, what)}.onnx'
        if path.exists():
            self.session = load_session(path, runtime, what=f'{name} ONNX export')
        else:   # loading a session takes seconds: the one that checked the export is kept
            self.session = self._export(module, example, input_names, output_names, dynamic,
                                        path, runtime, simplify)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.path = path

    @staticmethod
    def _export(module, example, input_names, output_names, dynamic, path, runtime,
                simplify=False):
        """Export, check against torch, cache; returns the checked onnxruntime session."""
        import warnings

        from hmr_models.frontend.onnx_model import load_session
        log.info('exporting %s to ONNX (once; cached as %s)', path.stem, path)
        t0 = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Several processes may export at once: write aside, check, then rename atomically.
        fd, tmp = tempfile.mkstemp(suffix='.onnx', dir=path.parent)
        os.close(fd)
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter('ignore')
                reference = module(*example)
                torch.onnx.export(module, tuple(example), tmp, input_names=input_names,
                                  output_names=output_names, dynamic_axes=dynamic,
                                  opset_version=OPSET, dynamo=False)
            if simplify:
                simplified(tmp)
            # The export is checked on the CPU in float32 (TensorRT's fp16 differs by design).
            on_cpu = runtime.device == 'cpu' and runtime.backend == 'onnxruntime'
            check = runtime if on_cpu else replace(runtime, device='cpu', dtype='float32',
                                                   backend='onnxruntime')
            session = load_session(tmp, check, what=f'{path.stem} ONNX export')
            used = {i.name for i in session.get_inputs()}
            feeds = {n: _numpy(x) for n, x in zip(input_names, example) if n in used}
            outputs = session.run(None, feeds)
            worst = max(float(np.abs(o - _numpy(r)).max()) for o, r in zip(outputs, reference))
            if not worst <= PARITY_ATOL:
                raise ExportError(f'the ONNX export differs from torch by {worst:.2e} '
                                  f'(> {PARITY_ATOL})')
            os.replace(tmp, path)
        except ExportError:
            raise
        except Exception as exc:  # noqa: BLE001 - any exporter failure: run with torch
            raise ExportError(f'{type(exc).__name__}: {exc}') from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        log.info('exported %s in %.1f s (largest difference to torch %.1e)', path.name,
                 time.monotonic() - t0, worst)
        return session if on_cpu else load_session(path, runtime, what=f'{path.stem} ONNX export')

    def __call__(self, **arrays):
        """Outputs (numpy, in output order) for the named inputs (numpy or torch)."""
        feeds = {n: np.ascontiguousarray(_numpy(arrays[n])) for n in self.inputs}
        return self.session.run(None, feeds)


def main(argv=None):
    """Export the bundled default models for onnxruntime now (setup.sh runs this once).

    Otherwise the first start of hmr_node exports them, which takes about a minute on 2 cores.
    The lifted DPMesh's image graph is exported here too, though a CPU node loads it only when
    image_correction_interval asks for the image part.
    """
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    from hmr_models.pipeline import PipelineConfig, build_pipeline
    pipeline = build_pipeline(PipelineConfig(backend='onnxruntime', threads=args.threads,
                                             pipelining=False))
    network = pipeline.mesh.network
    if hasattr(network, 'prepare_image_part'):
        network.prepare_image_part()    # loaded by the node only when it is used
    used = (pipeline.mesh.backend, pipeline.temporal.backend)
    pipeline.close()
    print(f'ONNX exports in {cache_dir()}: DPMesh on {used[0]}, DiffMesh on {used[1]}')
    return 0 if used == ('onnxruntime', 'onnxruntime') else 1


if __name__ == '__main__':
    raise SystemExit(main())
