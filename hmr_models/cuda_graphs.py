"""CUDA graphs for the mesh networks: one captured graph per padded batch size, then replays.

On a GPU the eager mesh stages are bound by the CPU launching thousands of small kernels, not
by the GPU (docs/RESULTS.md, "On a GPU": the DPMesh step takes as long for the compact network
as for the 70x larger paper-size one). A CUDA graph records the kernels of one call once and
replays them with a single launch (PyTorch's `torch.cuda.graph`). A graph has fixed shapes, so
the batch (people, or tracks) is padded to the next of a few sizes and each size is captured
the first time it is needed (seconds each, unlike `torch.compile`'s minutes).

    graphed = GraphedCallable(module, batched=(True, True, False))
    outputs = graphed(x, y, frames)        # tuple of tensors, the batch cut back to len(x)

Only inputs marked `batched` are padded (by repeating their last row, which keeps padded rows
numerically ordinary); the others must keep their shape between calls. The wrapped function
must treat the rows of a batch independently (no batch norm in training mode, no attention
across people), take tensors and return a tuple of batch-first tensors, and not synchronise
with the CPU. A capture that fails (an operation CUDA graphs cannot record) is logged once and
that batch size then runs eagerly. Without CUDA (`capture=False`) the same padding runs the
function directly: what the tests on a CPU check.
"""
import logging

import torch

log = logging.getLogger(__name__)

BUCKETS = (1, 2, 4, 8, 16)


def buckets_up_to(n, buckets=BUCKETS):
    """The batch sizes that up to n rows are padded to (what a warm-up should capture)."""
    return tuple(b for b in buckets if b < n) + tuple(b for b in buckets if b >= n)[:1]


class GraphedCallable:
    """fn(*tensors) -> tuple of tensors, replayed from a CUDA graph per padded batch size."""

    def __init__(self, fn, batched, buckets=BUCKETS, capture=True, warmup=3, name='network'):
        self.fn, self.batched = fn, tuple(bool(b) for b in batched)
        self.buckets = tuple(sorted(int(b) for b in buckets))
        self.capture, self.warmup, self.name = bool(capture), int(warmup), name
        self._graphs = {}        # key -> (graph, static inputs, static outputs) or None (eager)
        self.captured = 0        # graphs recorded so far (for logs and tests)

    def bucket(self, n):
        """The padded batch size of n rows (n itself above the largest bucket: run eagerly)."""
        for b in self.buckets:
            if n <= b:
                return b
        return n

    @torch.no_grad()             # inference only: a graph must not record autograd's bookkeeping
    def __call__(self, *inputs):
        if len(inputs) != len(self.batched):
            raise ValueError(f'{self.name}: {len(inputs)} inputs, {len(self.batched)} declared')
        n = next(x.shape[0] for x, b in zip(inputs, self.batched) if b)
        size = self.bucket(n)
        if n == 0 or size > self.buckets[-1]:
            return tuple(self.fn(*inputs))
        padded = [_pad(x, size) if b else x for x, b in zip(inputs, self.batched)]
        key = (size,) + tuple((tuple(x.shape), x.dtype, x.device) for x in padded)
        if key not in self._graphs:
            self._graphs[key] = self._record(padded) if self.capture else None
        entry = self._graphs[key]
        if entry is None:
            outputs = self.fn(*padded)
        else:
            graph, static_in, static_out = entry
            for dst, src in zip(static_in, padded):
                dst.copy_(src)
            graph.replay()
            outputs = static_out
        # The replay's outputs live in the graph's memory: copies leave it free for the next.
        return tuple(o[:n].clone() for o in outputs)

    def _record(self, example):
        """(graph, static inputs, static outputs) of fn on tensors like `example`, or None."""
        size = example[self.batched.index(True)].shape[0]
        static_in = [x.clone() for x in example]
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):           # warm-up off the capture: lazy inits
                for _ in range(self.warmup):
                    self.fn(*static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            # thread_local: the node's other workers (the temporal stage on its own thread) go on
            # launching and copying while this one captures; 'global' would fail their calls.
            with torch.cuda.graph(graph, capture_error_mode='thread_local'):
                static_out = tuple(self.fn(*static_in))
        except Exception as exc:  # noqa: BLE001 - any capture failure means: this size eager
            log.warning('%s: CUDA graph capture for batch %d failed (%s); that size runs eagerly',
                        self.name, size, exc)
            return None
        self.captured += 1
        log.info('%s: CUDA graph captured for batch %d', self.name, size)
        return graph, static_in, static_out


def _pad(x, size):
    """x with its first dimension padded to `size` by repeating its last row."""
    n = x.shape[0]
    if n == size:
        return x
    return torch.cat([x, x[-1:].expand(size - n, *x.shape[1:])], 0)
