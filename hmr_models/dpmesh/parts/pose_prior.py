"""Pose priors that turn regressor tokens into SMPL body-joint rotations.

`PoseVQVAE` is the paper's pose tokenizer (PCT-style): the J body-joint rotation matrices
(J, 9) are mixed by MLP-Mixer blocks, squeezed to T tokens, each snapped to the nearest of N
codebook entries (codebook updated by exponential moving averages, dead codes re-seeded), and
decoded back to (J, 9). DPMesh's regressor predicts, per token, a distribution over the N codes;
`decode_probs` decodes the expected code vectors (differentiable).

`VPoserDecoder` is the decoder of VPoser v1 (32-d latent -> 21 joint rotations), the pose head
of the authors' released checkpoints; its weights come with those checkpoints.
"""
import torch
from torch import nn
import torch.distributed as dist
import torch.nn.functional as F

from hmr_models.geometry.rotations import project_to_rotation, rot6d_interleaved_to_matrix


class MixerBlock(nn.Module):
    """MLP-Mixer block: an MLP across tokens (joints), then one across channels."""

    def __init__(self, hidden, channel_hidden, tokens, token_hidden, dropout=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, token_hidden), nn.GELU(),
                                       nn.Dropout(dropout), nn.Linear(token_hidden, tokens),
                                       nn.Dropout(dropout))
        self.norm2 = nn.LayerNorm(hidden)
        self.channel_mlp = nn.Sequential(nn.Linear(hidden, channel_hidden), nn.GELU(),
                                         nn.Dropout(dropout), nn.Linear(channel_hidden, hidden),
                                         nn.Dropout(dropout))

    def forward(self, x):
        """x (B, tokens, hidden)."""
        y = self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        z = self.channel_mlp(self.norm2(x + y))
        return x + y + z


class PoseVQVAE(nn.Module):
    """Rotation matrices (B, J, 3, 3) <-> T discrete tokens over an N x D codebook."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        j, t = cfg.num_joints, cfg.num_tokens
        self.embed = nn.Linear(9, cfg.enc_hidden)
        self.encoder = nn.ModuleList([
            MixerBlock(cfg.enc_hidden, cfg.enc_channel_hidden, j, cfg.enc_token_hidden,
                       cfg.dropout) for _ in range(cfg.enc_blocks)])
        self.encoder_norm = nn.LayerNorm(cfg.enc_hidden)
        self.to_tokens = nn.Linear(j, t)
        self.to_code = nn.Linear(cfg.enc_hidden, cfg.code_dim)
        self.register_buffer('codebook', torch.randn(cfg.codebook_size, cfg.code_dim))
        self.register_buffer('ema_count', torch.zeros(cfg.codebook_size))
        self.register_buffer('ema_sum', self.codebook.clone())
        self.register_buffer('initialised', torch.zeros((), dtype=torch.bool))
        self.from_tokens = nn.Linear(t, j)
        self.decoder_in = nn.Linear(cfg.code_dim, cfg.dec_hidden)
        self.decoder = nn.ModuleList([
            MixerBlock(cfg.dec_hidden, cfg.dec_channel_hidden, j, cfg.dec_token_hidden,
                       cfg.dropout) for _ in range(cfg.dec_blocks)])
        self.decoder_norm = nn.LayerNorm(cfg.dec_hidden)
        self.to_rotation = nn.Linear(cfg.dec_hidden, 9)

    @property
    def num_tokens(self):
        return self.cfg.num_tokens

    @property
    def codebook_size(self):
        return self.cfg.codebook_size

    def encode(self, rotmats):
        """(B, J, 3, 3) -> continuous token features (B, T, D)."""
        x = self.embed(rotmats.flatten(-2))
        for block in self.encoder:
            x = block(x)
        x = self.encoder_norm(x)
        x = self.to_tokens(x.transpose(1, 2)).transpose(1, 2)
        return self.to_code(x)

    def nearest(self, z):
        """Codebook indices (B, T) of the nearest codes to z (B, T, D)."""
        flat = z.reshape(-1, z.shape[-1])
        dist_sq = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t()
                   + self.codebook.pow(2).sum(1)[None])
        return dist_sq.argmin(1).view(z.shape[:-1])

    def decode(self, codes):
        """Code vectors (B, T, D) -> raw rotation matrices (B, J, 3, 3) (not orthonormalised)."""
        x = self.from_tokens(codes.transpose(1, 2)).transpose(1, 2)
        x = self.decoder_in(x)
        for block in self.decoder:
            x = block(x)
        x = self.decoder_norm(x)
        return self.to_rotation(x).view(x.shape[0], -1, 3, 3)

    def decode_indices(self, indices):
        return self.decode(self.codebook[indices])

    def decode_probs(self, probs):
        """Per-token distributions over the codebook (B, T, N) -> rotations (B, J, 3, 3)."""
        return project_to_rotation(self.decode(probs @ self.codebook.to(probs.dtype)))

    def forward(self, rotmats):
        """Quantised reconstruction (training path: EMA codebook update when training).

        Returns dict: 'recon' raw (B, J, 3, 3), 'indices' (B, T), 'commit' loss, 'perplexity'.
        """
        z = self.encode(rotmats)
        if self.training and not bool(self.initialised):
            self._seed_codebook(z.detach())
        idx = self.nearest(z)
        zq = self.codebook[idx]
        if self.training:
            self._ema_update(z.detach(), idx)
        commit = F.mse_loss(z, zq.detach())
        zq = z + (zq - z).detach()      # straight-through estimator
        onehot_mean = F.one_hot(idx.flatten(), self.codebook_size).float().mean(0)
        perplexity = torch.exp(-(onehot_mean * (onehot_mean + 1e-10).log()).sum())
        return {'recon': self.decode(zq), 'indices': idx, 'commit': commit,
                'perplexity': perplexity}

    @torch.no_grad()
    def _seed_codebook(self, z):
        """Start the codebook on encoder outputs (random codes far away would stay dead)."""
        flat = _all_gather_rows(z.reshape(-1, z.shape[-1]))
        pick = torch.randint(0, flat.shape[0], (self.codebook_size,), device=flat.device)
        noise = 0.01 * flat.std() * torch.randn_like(self.codebook)
        self.codebook.copy_(flat[pick] + noise)
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, z, idx):
        cfg = self.cfg
        flat = z.reshape(-1, z.shape[-1]).float()
        onehot = F.one_hot(idx.flatten(), self.codebook_size).float()
        counts = onehot.sum(0)
        sums = onehot.t() @ flat
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(cfg.ema_decay).add_(counts, alpha=1 - cfg.ema_decay)
        self.ema_sum.mul_(cfg.ema_decay).add_(sums, alpha=1 - cfg.ema_decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + 1e-5) / (n + self.codebook_size * 1e-5) * n
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        dead = self.ema_count < cfg.dead_code_threshold
        if dead.any():
            # Re-seed unused codes on random encoder outputs of this batch (same on all ranks).
            rows = _all_gather_rows(flat)
            self._reseeds = getattr(self, '_reseeds', 0) + 1
            gen = torch.Generator(device='cpu').manual_seed(self._reseeds)
            pick = torch.randint(0, rows.shape[0], (int(dead.sum()),), generator=gen)
            self.codebook[dead] = rows[pick.to(rows.device)]
            self.ema_sum[dead] = self.codebook[dead]
            self.ema_count[dead] = 1.0


def _all_gather_rows(x):
    if not (dist.is_available() and dist.is_initialized()):
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, 0)


class VPoserDecoder(nn.Module):
    """VPoser v1 decoder: z (B, 32) -> 21 body-joint rotations (B, 21, 3, 3)."""

    num_joints = 21

    def __init__(self, latent=32, hidden=512):
        super().__init__()
        self.fc1 = nn.Linear(latent, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, self.num_joints * 6)

    def forward(self, z):
        x = F.leaky_relu(self.fc1(z), 0.2)
        x = F.leaky_relu(self.fc2(x), 0.2)
        return rot6d_interleaved_to_matrix(self.out(x).view(z.shape[0], self.num_joints, 6))


def load_pose_prior(model, path):
    """Load trained PoseVQVAE weights from a checkpoint folder or file into `model`."""
    from pathlib import Path

    from hmr_models.paths import require_file
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / 'model.safetensors'
    p = require_file(p, 'VQ-VAE pose prior weights', parameter='pose_head.prior_weights',
                     get_it='Train one with `python -m hmr_models.train.train_vqvae`.')
    from safetensors.torch import load_file
    state = load_file(str(p))
    state = {k[len('model.'):] if k.startswith('model.') else k: v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'{p}: not a matching VQ-VAE checkpoint (missing {missing[:5]}, '
                         f'unexpected {unexpected[:5]}); check pose_head.vqvae sizes')
    return model
