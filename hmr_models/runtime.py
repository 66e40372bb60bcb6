"""The one place that decides devices, dtypes, thread counts and inference backends.

Every model in hmr_models asks here instead of choosing for itself, so a single setting
(``device``, ``dtype``, ``threads``, ``backend``: same names as the ROS parameters) moves the
whole pipeline between CPU, GPU, fp32/fp16 and torch/onnxruntime/TensorRT.
"""
from dataclasses import dataclass, replace
import logging
import os

log = logging.getLogger(__name__)

BACKENDS = ('auto', 'torch', 'onnxruntime', 'tensorrt', 'cuda_graphs')


@dataclass(frozen=True)
class Runtime:
    device: str = 'cpu'        # 'cpu', 'cuda', 'cuda:1'
    dtype: str = 'float32'     # 'float32' or 'float16' (float16 only on GPU)
    threads: int = 0           # CPU threads for torch/onnxruntime; 0 = all cores
    backend: str = 'torch'     # 'torch', 'onnxruntime', 'tensorrt' or 'cuda_graphs' (not 'auto')

    @property
    def torch_device(self):
        import torch
        return torch.device(self.device)

    @property
    def torch_dtype(self):
        import torch
        return {'float32': torch.float32, 'float16': torch.float16}[self.dtype]

    def onnx_providers(self):
        """onnxruntime execution providers for this runtime, best first.

        backend 'tensorrt' asks for TensorRT (onnxruntime-gpu built with it) with fp16 when the
        dtype is float16 and its engines cached beside the ONNX exports (built once, minutes).
        """
        if self.backend == 'tensorrt':
            from hmr_models.onnx_runner import cache_dir
            trt = {'trt_fp16_enable': self.dtype == 'float16', 'trt_engine_cache_enable': True,
                   'trt_engine_cache_path': str(cache_dir() / 'tensorrt')}
            return [('TensorrtExecutionProvider', trt), 'CUDAExecutionProvider',
                    'CPUExecutionProvider']
        if self.device.startswith('cuda'):
            return ['CUDAExecutionProvider', 'CPUExecutionProvider']
        return ['CPUExecutionProvider']

    def onnx_session_options(self):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.cpu_threads()
        opts.inter_op_num_threads = 1
        # Several sessions alternate on few cores: spinning threads steal them from each other
        # (measured: 73 ms instead of 41 ms per MoveNet call with spinning on, 2 cores).
        opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
        return opts

    def cpu_threads(self):
        return self.threads if self.threads > 0 else (os.cpu_count() or 1)


def resolve_runtime(device='auto', dtype='auto', threads=0, backend='auto'):
    """Check and complete a requested runtime; raise ValueError with a clear message.

    backend 'auto': onnxruntime on the CPU (0.6x torch's CPU time for the compact DPMesh on one
    thread, and without torch's collapse when other processes take the cores:
    benchmarks/bench_backends.py), torch on a GPU.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got '{backend}'")
    import torch
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' requested but torch sees no CUDA GPU")
    if not (device == 'cpu' or device.startswith('cuda')):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got '{device}'")
    if dtype == 'auto':
        dtype = 'float16' if device.startswith('cuda') else 'float32'
    if dtype not in ('float32', 'float16'):
        raise ValueError(f"dtype must be 'auto', 'float32' or 'float16', got '{dtype}'")
    if dtype == 'float16' and device == 'cpu':
        # Half precision on CPU is emulated and far slower than fp32 (bf16 measured 40x slower).
        raise ValueError('dtype float16 needs a GPU; use float32 on CPU')
    if backend == 'auto':
        backend = 'onnxruntime' if device == 'cpu' else 'torch'
    if backend in ('tensorrt', 'cuda_graphs') and not device.startswith('cuda'):
        raise ValueError(f'backend {backend} needs a CUDA device')
    if threads < 0:
        raise ValueError(f'threads must be >= 0, got {threads}')
    rt = Runtime(device=device, dtype=dtype, threads=int(threads), backend=backend)
    if device == 'cpu':
        torch.set_num_threads(rt.cpu_threads())
    return rt


def split_threads(runtime, pipelined, temporal_apart=False):
    """(front-end, mesh, temporal) runtimes sharing `runtime`'s CPU threads.

    Pipelined stages run at the same time: the front-end (onnxruntime sessions, MoveNet
    workers) gets half the threads and the mesh stages (torch or onnxruntime) the rest, so the
    pipeline never runs more compute threads than it was given (on 2 cores: one each). With the
    temporal stage on a worker of its own (`temporal_apart`) the mesh half is split again
    between the per-frame mesh and the temporal stage, each with at least one: on 2 cores that
    is one thread over (the temporal worker's, measured to lower latency and raise the rate:
    docs/RESULTS.md). torch's and OpenCV's own pools are sized here too, the one place that
    decides them.
    """
    import cv2
    import torch
    total = runtime.cpu_threads()
    if pipelined:
        front = max(1, total // 2)
        rest = max(1, total - front)
        temporal = max(1, rest // 2) if temporal_apart else rest
        mesh = max(1, rest - temporal) if temporal_apart else rest
    else:
        front = mesh = temporal = total
    front, mesh, temporal = (replace(runtime, threads=n) for n in (front, mesh, temporal))
    if runtime.device == 'cpu':
        torch.set_num_threads(mesh.cpu_threads())
    # OpenCV's resizes and warps and numpy's BLAS calls here are small; their pools (all cores
    # by default; OpenBLAS threads spin while they wait) would only add threads that compete
    # with the stages.
    cv2.setNumThreads(1 if pipelined else total)
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api='blas')
    return front, mesh, temporal
