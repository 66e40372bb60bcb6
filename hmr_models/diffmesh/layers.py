"""Transformer building blocks of DiffMesh: the two-stream step block and the condition generator.

Attention uses torch's fused scaled_dot_product_attention: the step network runs N = 30 times
per window, so at the compact width the cost is per-op overhead, not FLOPs.
"""
import math

import torch
from torch import nn
import torch.nn.functional as F


def timestep_embedding(timesteps, dim):
    """Sinusoidal embedding (N,) -> (N, dim), as in DDPM / Transformer positional codes."""
    half = dim // 2
    steps = torch.arange(half, dtype=torch.float32, device=timesteps.device)
    freqs = torch.exp(-math.log(10000.0) * steps / max(half - 1, 1))
    args = timesteps.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], -1)
    return F.pad(emb, (0, dim % 2))


class Attention(nn.Module):
    """Multi-head attention; self-attention when `context` is None, else cross-attention."""

    def __init__(self, dim, heads, dropout=0.0):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x, context=None):
        """x (B, L, C), context (B, S, C) -> (B, L, C)."""
        context = x if context is None else context
        b, n, c = x.shape
        h = self.heads
        q = self.q(x).view(b, n, h, c // h).transpose(1, 2)
        k, v = self.kv(context).view(b, context.shape[1], 2, h, c // h).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, n, c))


class MLP(nn.Sequential):
    def __init__(self, dim, ratio=2.0, dropout=0.0):
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, dim))


class TransformerBlock(nn.Module):
    """Pre-norm self-attention + MLP."""

    def __init__(self, dim, heads, mlp_ratio=2.0, dropout=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio, dropout)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TwoStreamBlock(nn.Module):
    """DiffMesh's step block: self-attention, cross-attention fusion, per-stream MLPs.

    Each stream attends to itself, then the mesh stream reads the condition stream through
    cross-attention (the fusion), then per-stream MLPs.

    mesh (B, L, C), cond (B, L, C) -> same shapes.
    """

    def __init__(self, dim, heads, mlp_ratio=2.0, dropout=0.0):
        super().__init__()
        self.norm_m = nn.LayerNorm(dim)
        self.norm_c = nn.LayerNorm(dim)
        self.self_m = Attention(dim, heads, dropout)
        self.self_c = Attention(dim, heads, dropout)
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.cross = Attention(dim, heads, dropout)
        self.norm_mlp_m = nn.LayerNorm(dim)
        self.norm_mlp_c = nn.LayerNorm(dim)
        self.mlp_m = MLP(dim, mlp_ratio, dropout)
        self.mlp_c = MLP(dim, mlp_ratio, dropout)

    def forward(self, mesh, cond):
        mesh = mesh + self.self_m(self.norm_m(mesh))
        cond = cond + self.self_c(self.norm_c(cond))
        mesh = mesh + self.cross(self.norm_q(mesh), self.norm_kv(cond))
        mesh = mesh + self.mlp_m(self.norm_mlp_m(mesh))
        cond = cond + self.mlp_c(self.norm_mlp_c(cond))
        return mesh, cond


class ConditionGenerator(nn.Module):
    """Temporal transformer over the N step slots of flattened per-frame condition features.

    (B, N, D) -> (B, N, D), residual: a bottleneck to `width`, learned slot positions, blocks,
    and back up (as DiffMesh's condition generator).
    """

    def __init__(self, num_slots, in_dim, width, depth, heads, mlp_ratio=2.0, dropout=0.0):
        super().__init__()
        self.down = nn.Sequential(nn.Linear(in_dim, width), nn.GELU())
        self.pos = nn.Parameter(torch.zeros(1, num_slots, width))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(width, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, in_dim)

    def forward(self, x):
        h = self.down(x) + self.pos
        for blk in self.blocks:
            h = blk(h)
        return x + self.up(self.norm(h))
