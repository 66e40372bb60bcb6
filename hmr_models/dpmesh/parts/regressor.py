"""DPMesh's regressor: a cascade transformer decoder over the fused diffusion features.

The layout follows DPMesh's released code (itself built on JOTR/DETR), so the authors'
weights map onto it:

1. The fused map (B, C, 8, 8) is lifted to a 3D volume (B, d, 8, 8, 8) with depth-anchor
   coordinates and refined by a transformer encoder over its 512 cells.
2. A DETR encoder runs over the 64 cells of the map (projected to d, sine positions).
3. A DETR decoder runs `P` parameter queries (root pose, pose tokens, betas, camera) and `J`
   joint queries. After every layer the joint queries regress volume coordinates (x, y, z in
   [0, 1], refined layer by layer in logit space); the volume is sampled there and those
   samples join the memory of the next layer ("cascade").
4. Heads read the parameter tokens of every layer; each layer refines the previous estimate
   (out = head_0(h_0); out += head_i([h_i, out])).
"""
import math

import torch
from torch import nn
import torch.nn.functional as F


def sine_embedding_2d(batch, height, width, dim, device, dtype=torch.float32):
    """DETR sine positional embedding (B, dim, H, W) with normalised coordinates."""
    half = dim // 2
    y = torch.arange(1, height + 1, device=device, dtype=dtype) / height * 2 * math.pi
    x = torch.arange(1, width + 1, device=device, dtype=dtype) / width * 2 * math.pi
    freq = 10000.0 ** (2 * (torch.arange(half, device=device, dtype=dtype) // 2) / half)
    py = y[:, None] / freq
    px = x[:, None] / freq
    py = torch.stack([py[:, 0::2].sin(), py[:, 1::2].cos()], dim=2).flatten(1)   # (H, half)
    px = torch.stack([px[:, 0::2].sin(), px[:, 1::2].cos()], dim=2).flatten(1)   # (W, half)
    pos = torch.cat([py[:, None, :].expand(height, width, half),
                     px[None, :, :].expand(height, width, half)], dim=-1)
    return pos.permute(2, 0, 1)[None].expand(batch, dim, height, width)


def sine_table_1d(n, dim):
    """Transformer sinusoid table (n, dim) for flattened volume positions."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode='floor') / dim)
    table = torch.zeros(n, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()


def inverse_sigmoid(x, eps=1e-5):
    x = x.clamp(0.0, 1.0)
    return torch.log(x.clamp(min=eps) / (1.0 - x).clamp(min=eps))


class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer with positions added to queries and keys."""

    def __init__(self, d_model, heads, ffn_dim, dropout):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src, pos):
        q = k = src + pos
        src = self.norm1(src + self.dropout(self.self_attn(q, k, value=src)[0]))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout(ffn))


class Encoder(nn.Module):
    def __init__(self, d_model, heads, ffn_dim, dropout, layers, final_norm):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(d_model, heads, ffn_dim, dropout)
                                     for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model) if final_norm else None

    def forward(self, src, pos):
        for layer in self.layers:
            src = layer(src, pos)
        return self.norm(src) if self.norm is not None else src


class DecoderLayer(nn.Module):
    """Post-norm DETR decoder layer: self-attention, cross-attention to memory, FFN."""

    def __init__(self, d_model, heads, ffn_dim, dropout):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout)
        self.cross_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tgt, memory, pos, query_pos):
        q = k = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout(self.self_attn(q, k, value=tgt)[0]))
        attn = self.cross_attn(tgt + query_pos, memory + pos, value=memory)[0]
        tgt = self.norm2(tgt + self.dropout(attn))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout(ffn))


class CascadeHead(nn.Module):
    """One linear per decoder layer; layer i refines layer i-1's output."""

    def __init__(self, d_model, out_dim, layers):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(d_model, out_dim)] + [
            nn.Linear(d_model + out_dim, out_dim) for _ in range(layers - 1)])

    def forward(self, hs):
        """hs (L, ..., d) -> (..., out_dim)."""
        out = self.layers[0](hs[0])
        for i in range(1, len(self.layers)):
            out = out + self.layers[i](torch.cat([hs[i], out], dim=-1))
        return out


class CascadeRegressor(nn.Module):
    """Fused features (B, C, s, s) -> per-layer parameter tokens and joint volume coordinates.

    `num_param_tokens` parameter queries come first, then one query per regressed joint.
    forward returns (param_tokens (L, B, P, d), joint_coords (B, J, 3) in [0, 1]).
    """

    def __init__(self, in_channels, feature_size, num_param_tokens, cfg):
        super().__init__()
        d, s = cfg.d_model, feature_size
        self.d_model, self.size = d, s
        self.num_params = num_param_tokens
        self.num_joints = len(cfg.joint_names)
        self.input_proj = nn.Conv2d(in_channels, d, 1)
        # 3D volume: depth bins = spatial size (8 x 8 x 8 at paper size)
        self.lift_3d = nn.Conv2d(in_channels, d * s, 1)
        self.depth_exponent = nn.Parameter(torch.tensor(3.0))
        self.volume_coord = nn.Conv3d(d + 3, d, 1)
        self.volume_encoder = Encoder(d, cfg.heads, cfg.volume_ffn_dim, cfg.dropout,
                                      cfg.enc_layers, final_norm=True)
        self.register_buffer('volume_pos', sine_table_1d(s ** 3, d), persistent=False)
        self.encoder = Encoder(d, cfg.heads, cfg.ffn_dim, cfg.dropout, cfg.enc_layers,
                               final_norm=False)
        self.decoder_layers = nn.ModuleList([DecoderLayer(d, cfg.heads, cfg.ffn_dim, cfg.dropout)
                                             for _ in range(cfg.dec_layers)])
        self.decoder_norm = nn.LayerNorm(d)
        self.joint_heads = nn.ModuleList([nn.Linear(d, 3)] + [
            nn.Linear(d + 3, 3) for _ in range(cfg.dec_layers - 1)])
        self.joint_pos_embed = nn.Sequential(nn.Linear(3, d), nn.LayerNorm(d), nn.ReLU(),
                                             nn.Linear(d, d))
        self.param_queries = nn.Parameter(torch.randn(num_param_tokens, d))
        self.joint_queries = nn.Embedding(self.num_joints, d)
        self.param_content = nn.Parameter(torch.zeros(d))
        self.joint_content = nn.Parameter(torch.zeros(d))
        xavier = ('encoder', 'decoder_layers', 'joint_heads', 'joint_pos_embed')
        for name, p in self.named_parameters():
            if p.dim() > 1 and name.split('.')[0] in xavier:
                nn.init.xavier_uniform_(p)

    def depth_anchors(self, batch, device, dtype):
        """(B, 3, s, s, s) normalised (z^k, y, x) coordinates of the volume cells."""
        s = self.size
        r = torch.arange(s, device=device, dtype=dtype) / s
        k = self.depth_exponent.clamp(1.0, 20.0).to(dtype)
        z = (r ** k).view(s, 1, 1).expand(s, s, s)
        y = r.view(1, s, 1).expand(s, s, s)
        x = r.view(1, 1, s).expand(s, s, s)
        return torch.stack([z, y, x], 0)[None].expand(batch, 3, s, s, s)

    def build_volume(self, features):
        b, s, d = features.shape[0], self.size, self.d_model
        vol = self.lift_3d(features).view(b, d, s, s, s)
        vol = self.volume_coord(torch.cat([vol, self.depth_anchors(b, vol.device, vol.dtype)],
                                          1))
        tokens = vol.flatten(2).permute(2, 0, 1)                        # (s^3, B, d)
        pos = self.volume_pos.to(tokens.dtype)[:, None, :].expand(-1, b, -1)
        tokens = self.volume_encoder(tokens, pos)
        return tokens.permute(1, 2, 0).reshape(b, d, s, s, s)

    def sample_volume(self, volume, coords):
        """Trilinear samples (J, B, d) of the volume at coords (B, J, 3) in [0, 1]."""
        k = self.depth_exponent.clamp(1.0, 20.0)
        grid = torch.cat([coords[..., :2], coords[..., 2:] ** k], dim=-1) * 2 - 1
        out = F.grid_sample(volume, grid[:, None, None], mode='bilinear', align_corners=True)
        return out[:, :, 0, 0].permute(2, 0, 1)

    def forward(self, features):
        b = features.shape[0]
        if features.shape[-1] != self.size or features.shape[-2] != self.size:
            raise ValueError(f'regressor expects {self.size}x{self.size} features, got '
                             f'{tuple(features.shape[-2:])}')
        volume = self.build_volume(features)
        src = self.input_proj(features)
        pos = sine_embedding_2d(b, self.size, self.size, self.d_model, src.device, src.dtype)
        src = src.flatten(2).permute(2, 0, 1)                           # (s*s, B, d)
        pos = pos.flatten(2).permute(2, 0, 1)
        memory = self.encoder(src, pos)
        query_pos = torch.cat([self.param_queries, self.joint_queries.weight], 0)
        query_pos = query_pos[:, None, :].expand(-1, b, -1)
        tgt = torch.cat([self.param_content.expand(self.num_params, -1),
                         self.joint_content.expand(self.num_joints, -1)], 0)
        tgt = tgt[:, None, :].expand(-1, b, -1)
        n_mem = memory.shape[0]
        params, coords = [], None
        for i, layer in enumerate(self.decoder_layers):
            tgt = self.decoder_norm(layer(tgt, memory, pos, query_pos))
            params.append(tgt[:self.num_params])
            h_joint = tgt[self.num_params:].transpose(0, 1)             # (B, J, d)
            if coords is None:
                coords = torch.sigmoid(self.joint_heads[0](h_joint))
            else:
                prev = inverse_sigmoid(coords)
                step = self.joint_heads[i](torch.cat([h_joint, prev], -1))
                coords = torch.sigmoid(prev + step)
            samples = self.sample_volume(volume, coords)
            sample_pos = self.joint_pos_embed(inverse_sigmoid(coords)).transpose(0, 1)
            memory = torch.cat([memory[:n_mem], samples], 0)
            pos = torch.cat([pos[:n_mem], sample_pos], 0)
        tokens = torch.stack(params, 0).transpose(1, 2)                  # (L, B, P, d)
        return tokens, coords
