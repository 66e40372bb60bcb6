"""DPMesh latency: one full step for 1 / 4 / 8 people, sd15 (paper size) and compact profiles.

    python benchmarks/bench_dpmesh.py                         # CPU fp32, both profiles
    python benchmarks/bench_dpmesh.py --profiles compact --people 1 4 8 16
    python benchmarks/bench_dpmesh.py --device cuda --dtype float16   # on a GPU
    python benchmarks/bench_dpmesh.py --device cuda --dtype float16 --compile reduce-overhead
    python benchmarks/bench_dpmesh.py --device cuda --dtype float16 --compile cuda-graphs

A step is what DPMeshPredictor runs per frame: VAE encoder on the crops, ControlNet + UNet
once (t=1) with the keypoint tokens and heatmaps, feature taps + attention recording, fusion,
the cascade regressor and the VQ-VAE soft decode (all people batched). Weights are random
(latency does not depend on their values). In the same run the baseline is the bare diffusers
UNet + ControlNet at the same size and batch (what DPMesh adds on top of the diffusion step:
VAE, LoRA, recording processors, hooks, fusion, regressor). Prints medians and ratios; peak RSS
is the process's high-water mark after each configuration (CPU). `--compile cuda-graphs` replays
the step from a CUDA graph per batch size (hmr_models.cuda_graphs, the pipeline's backend
'cuda_graphs') and prints the largest difference of its pose from the eager step's.
"""
import argparse
import gc
import os
import resource
import statistics
import sys
import time
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hmr_models.cuda_graphs import GraphedCallable  # noqa: E402
from hmr_models.dpmesh import DPMesh, load_config  # noqa: E402


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def median_ms(fn, repeats, warmup, device):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times), times


def inputs(cfg, n, device, dtype):
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(n, 3, cfg.crop_size, cfg.crop_size, generator=g) * 2 - 1)
    kp = 0.2 + 0.6 * torch.rand(n, cfg.num_keypoints, 2, generator=g)
    valid = torch.rand(n, cfg.num_keypoints, generator=g) > 0.15
    return images.to(device, dtype), kp.to(device, dtype), valid.to(device)


@torch.inference_mode()
def time_batch(model, n, repeats, warmup, device, dtype, step=None):
    """(full DPMesh step, bare UNet + ControlNet, VAE encoder) medians in ms for n people."""
    cfg, bb = model.config, model.backbone
    images, kp, valid = inputs(cfg, n, device, dtype)
    hm = model.heatmaps(kp, valid)
    latent = bb.encode(images)
    tokens = bb.keypoint_embed(kp, valid)
    t = torch.ones(n, dtype=torch.long, device=device)
    cn_in = torch.cat([latent, hm.to(dtype)], 1)

    def bare():
        down, mid = bb.controlnet(cn_in, t, encoder_hidden_states=tokens,
                                  controlnet_cond=latent, return_dict=False)
        bb.unet(latent, t, encoder_hidden_states=tokens, down_block_additional_residuals=down,
                mid_block_additional_residual=mid, return_dict=False)
    step = model if step is None else step
    full_ms, _ = median_ms(lambda: step(images, kp, valid), repeats, warmup, device)
    if isinstance(step, _Graphed):
        diff = (step(images, kp, valid).pose - model(images, kp, valid).pose).abs().max()
        print(f'  {n} people: graphed pose - eager pose, max |difference| {float(diff):.2e}')
    base_ms, _ = median_ms(bare, repeats, warmup, device)   # recorders idle: store inactive
    vae_ms, _ = median_ms(lambda: bb.encode(images), repeats, warmup, device)
    return full_ms, base_ms, vae_ms


class _Graphed:
    """The DPMesh step replayed from CUDA graphs (pose, betas and camera out, as the node uses)."""

    def __init__(self, model, device):
        self.graphed = GraphedCallable(
            lambda images, kp, valid: _outputs(model(images, kp, valid)), (True, True, True),
            capture=device.type == 'cuda', name=f'DPMesh {model.config.profile}')

    def __call__(self, images, kp, valid):
        pose, betas, camera = self.graphed(images, kp, valid)
        return types.SimpleNamespace(pose=pose, betas=betas, camera=camera)


def _outputs(out):
    return out.pose, out.betas, out.camera


def bench_profile(profile, people, repeats, warmup, device, dtype, compile_mode='none'):
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = DPMesh(load_config(profile)).to(device, dtype).eval()
    build_s = time.perf_counter() - t0
    # torch.compile ('reduce-overhead' adds CUDA graphs): the alternative to TensorRT on a GPU.
    # Each batch size compiles once (in the warm-up repeats; dynamic=False keeps graphs exact).
    step = None
    if compile_mode == 'cuda-graphs':
        step = _Graphed(model, device)
    elif compile_mode != 'none':
        step = torch.compile(model, mode=compile_mode, dynamic=False)
    cfg = model.config
    total = sum(p.numel() for p in model.parameters())
    bb = model.backbone
    unet_cn = sum(p.numel() for p in bb.unet.parameters()) + sum(
        p.numel() for p in bb.controlnet.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lora = sum(p.numel() for n, p in model.named_parameters() if 'lora_' in n)
    print(f'\n== {profile}: crop {cfg.crop_size}, latent {cfg.latent_size}x{cfg.latent_size}, '
          f'{total / 1e6:.1f}M parameters ({unet_cn / 1e6:.1f}M UNet+ControlNet, '
          f'{trainable / 1e6:.1f}M trainable, LoRA {lora / 1e6:.2f}M), '
          f'built in {build_s:.1f} s, device {device}, {str(dtype).split(".")[-1]}'
          + ('' if step is None else f', step compiled: {compile_mode}'))
    print(f"{'people':>6} {'dpmesh ms':>10} {'ms/person':>10} {'unet+cn ms':>11} "
          f"{'ratio':>6} {'vae ms':>8} {'peak GB':>8}")
    rows = []
    for n in people:
        ms, base_ms, vae_ms = time_batch(model, n, repeats, warmup, device, dtype, step)
        rows.append((n, ms, base_ms, vae_ms))
        print(f'{n:>6} {ms:>10.1f} {ms / n:>10.1f} {base_ms:>11.1f} {ms / base_ms:>6.2f} '
              f'{vae_ms:>8.1f} {peak_rss_gb():>8.2f}', flush=True)
        gc.collect()
    if len(rows) > 1:
        n0, ms0 = rows[0][0], rows[0][1]
        for n, ms, _, _ in rows[1:]:
            print(f'batching: {n} people cost {ms / ms0:.2f}x of {n0} '
                  f'({ms / n:.1f} vs {ms0 / n0:.1f} ms/person)')
    del model
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--profiles', nargs='+', default=['compact', 'sd15'])
    p.add_argument('--people', nargs='+', type=int, default=[1, 4, 8])
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--sd15-repeats', type=int, default=3,
                   help='repeats at sd15 size on CPU (each step takes seconds there)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='float32', choices=['float32', 'float16', 'bfloat16'])
    p.add_argument('--threads', type=int, default=0, help='CPU threads (0 = torch default)')
    p.add_argument('--compile', default='none',
                   choices=['none', 'default', 'reduce-overhead', 'max-autotune', 'cuda-graphs'],
                   help='torch.compile the full step (warm-up repeats include the compile), or '
                   "'cuda-graphs': replay it from a CUDA graph per batch size")
    args = p.parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    if device.type == 'cpu' and dtype != torch.float32:
        print('note: half precision on CPU is emulated and far slower; use float32 on CPU')
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads, '
          f'{os.cpu_count()} cores' + (f', {torch.cuda.get_device_name(device)}'
                                       if device.type == 'cuda' else ''))
    for profile in args.profiles:
        repeats = args.sd15_repeats if (profile == 'sd15' and device.type == 'cpu') \
            else args.repeats
        bench_profile(profile, args.people, repeats, args.warmup, device, dtype, args.compile)
    return 0


if __name__ == '__main__':
    sys.exit(main())
