"""Cross-attention probability maps of the UNet, recorded by a diffusers attention processor.

Each keypoint token k of the cross-attention gets, at every latent pixel, the softmax
probability that the pixel attends to it. DPMesh uses these maps (averaged over heads and over
the layers at one resolution) as features: `AttentionStore.maps(size)` gives (B, K, size, size)
maps that sum to 1 over the K tokens at every pixel.

The processor computes the probabilities explicitly (not with fused SDPA, which hides them);
with K <= 30 keypoint tokens that costs little. It calls `attn.to_q/to_k/to_v/to_out`, so
peft's LoRA layers on those linears take part as usual.
"""
import math

import torch


class AttentionStore:
    """Collects head-averaged cross-attention probabilities during one UNet forward."""

    def __init__(self):
        self._maps = {}
        self.active = False

    def reset(self):
        self._maps = {}

    def add(self, probs):
        """probs (B, N, K) with N = h * w latent pixels (square maps)."""
        side = math.isqrt(int(probs.shape[1]))  # a plain int also when traced (export)
        if side * side != probs.shape[1]:
            raise ValueError(f'attention over {probs.shape[1]} pixels is not a square map')
        self._maps.setdefault(side, []).append(probs)

    def sizes(self):
        return sorted(self._maps)

    def count(self, size):
        return len(self._maps.get(size, ()))

    def maps(self, size):
        """(B, K, size, size): mean over the recorded layers at that resolution."""
        layers = self._maps.get(size)
        if not layers:
            raise KeyError(f'no cross-attention recorded at {size}x{size} (recorded: '
                           f'{self.sizes()})')
        mean = torch.stack(layers, 0).mean(0)                      # (B, N, K)
        b, n, k = mean.shape
        return mean.transpose(1, 2).reshape(b, k, size, size)


class RecordingAttnProcessor:
    """diffusers attention processor that also stores the probabilities in an AttentionStore.

    Same computation as diffusers' `AttnProcessor` (the reference implementation), plus the
    recording. Installed on the cross-attention (`attn2`) layers whose maps are used.
    """

    def __init__(self, store):
        self.store = store

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 temb=None, *args, **kwargs):
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        batch, tokens = context.shape[0], context.shape[1]
        attention_mask = attn.prepare_attention_mask(attention_mask, tokens, batch)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        key = attn.to_k(context)
        value = attn.to_v(context)
        query = attn.head_to_batch_dim(query)
        key = attn.head_to_batch_dim(key)
        value = attn.head_to_batch_dim(value)
        probs = attn.get_attention_scores(query, key, attention_mask)   # (B*heads, N, K)
        if self.store.active:
            heads = attn.heads
            self.store.add(probs.view(batch, heads, probs.shape[1], probs.shape[2]).mean(1))
        hidden_states = torch.bmm(probs, value)
        hidden_states = attn.batch_to_head_dim(hidden_states)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def install_recorders(unet, store, parts=('down', 'up'), levels=(1, 2)):
    """Put RecordingAttnProcessor on the cross-attention layers that feed the feature maps.

    `levels` are decoder levels (0 = coarsest, latent/8; 3 = full latent resolution): down
    block b runs at decoder level 3 - b, up block b at level b. Every other attention keeps
    its processor. Returns the names of the recording layers.
    """
    processors = dict(unet.attn_processors)
    recording = []
    for name in processors:
        if not name.endswith('attn2.processor'):
            continue
        section, index = name.split('.')[:2]
        if section == 'down_blocks' and 'down' in parts:
            level = 3 - int(index)
        elif section == 'up_blocks' and 'up' in parts:
            level = int(index)
        else:
            continue
        if level in levels:
            processors[name] = RecordingAttnProcessor(store)
            recording.append(name)
    unet.set_attn_processor(processors)
    return recording
