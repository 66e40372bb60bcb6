"""Parameter-name maps between CompVis `ldm`/`cldm` modules and diffusers modules.

The original Stable Diffusion, ControlNet and DPMesh code name their layers after the CompVis
`ldm` package (`input_blocks.4.1.transformer_blocks.0.attn2.to_q`); diffusers names the same
layers differently (`down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_q`). The maps here
are derived from a diffusers config, so they work at any width, and they run both ways:
`ldm -> diffusers` for loading the authors' checkpoints, `diffusers -> ldm` for writing test
files in the original layout.

A map is a list of `ModulePair(ldm, diffusers, kind)`; `kind` says how the names *inside* the
module differ ('same', 'resnet' for ldm ResBlock vs diffusers ResnetBlock2D, 'vae_resnet',
'vae_attention' where ldm uses 1x1 convolutions for what diffusers holds as linear layers).
"""
from dataclasses import dataclass

# Inner renames, ldm name -> diffusers name.
_RESNET = {'in_layers.0': 'norm1', 'in_layers.2': 'conv1', 'emb_layers.1': 'time_emb_proj',
           'out_layers.0': 'norm2', 'out_layers.3': 'conv2', 'skip_connection': 'conv_shortcut'}
_VAE_RESNET = {'nin_shortcut': 'conv_shortcut'}
_VAE_ATTENTION = {'norm': 'group_norm', 'q': 'to_q', 'k': 'to_k', 'v': 'to_v',
                  'proj_out': 'to_out.0'}
_INNER = {'same': {}, 'resnet': _RESNET, 'vae_resnet': _VAE_RESNET,
          'vae_attention': _VAE_ATTENTION}

# Prefixes of the components inside a full CompVis checkpoint.
LDM_PREFIX = {'unet': 'model.diffusion_model.', 'vae': 'first_stage_model.',
              'controlnet': 'control_model.'}


@dataclass(frozen=True)
class ModulePair:
    ldm: str
    diffusers: str
    kind: str = 'same'


def _has_attention(block_type):
    return 'CrossAttn' in block_type


def _encoder_pairs(cfg):
    """Shared by the UNet and the ControlNet: time embedding, input blocks, middle block."""
    levels = len(cfg['block_out_channels'])
    layers = int(cfg.get('layers_per_block', 2))
    down_types = cfg['down_block_types']
    pairs = [ModulePair('time_embed.0', 'time_embedding.linear_1'),
             ModulePair('time_embed.2', 'time_embedding.linear_2'),
             ModulePair('input_blocks.0.0', 'conv_in')]
    i = 1
    for b in range(levels):
        for layer in range(layers):
            pairs.append(ModulePair(f'input_blocks.{i}.0', f'down_blocks.{b}.resnets.{layer}',
                                    'resnet'))
            if _has_attention(down_types[b]):
                pairs.append(ModulePair(f'input_blocks.{i}.1',
                                        f'down_blocks.{b}.attentions.{layer}'))
            i += 1
        if b < levels - 1:
            pairs.append(ModulePair(f'input_blocks.{i}.0.op',
                                    f'down_blocks.{b}.downsamplers.0.conv'))
            i += 1
    pairs += [ModulePair('middle_block.0', 'mid_block.resnets.0', 'resnet'),
              ModulePair('middle_block.1', 'mid_block.attentions.0'),
              ModulePair('middle_block.2', 'mid_block.resnets.1', 'resnet')]
    return pairs


def unet_pairs(cfg):
    """Module pairs of a `UNet2DConditionModel` config (SD1.x layout)."""
    pairs = _encoder_pairs(cfg)
    levels = len(cfg['block_out_channels'])
    layers = int(cfg.get('layers_per_block', 2))
    up_types = cfg['up_block_types']
    i = 0
    for b in range(levels):
        attn = _has_attention(up_types[b])
        for layer in range(layers + 1):
            pairs.append(ModulePair(f'output_blocks.{i}.0', f'up_blocks.{b}.resnets.{layer}',
                                    'resnet'))
            if attn:
                pairs.append(ModulePair(f'output_blocks.{i}.1',
                                        f'up_blocks.{b}.attentions.{layer}'))
            if layer == layers and b < levels - 1:
                pairs.append(ModulePair(f'output_blocks.{i}.{2 if attn else 1}.conv',
                                        f'up_blocks.{b}.upsamplers.0.conv'))
            i += 1
    pairs += [ModulePair('out.0', 'conv_norm_out'), ModulePair('out.2', 'conv_out')]
    return pairs


def controlnet_pairs(cfg, hint_block=True):
    """Module pairs of a `ControlNetModel` config.

    `hint_block=False` for ControlNets whose first convolution takes the latent and the hint
    concatenated (the authors' DPMesh): they have no `input_hint_block`.
    """
    pairs = _encoder_pairs(cfg)
    levels = len(cfg['block_out_channels'])
    layers = int(cfg.get('layers_per_block', 2))
    n_zero = 1 + levels * layers + (levels - 1)
    pairs += [ModulePair(f'zero_convs.{i}.0', f'controlnet_down_blocks.{i}')
              for i in range(n_zero)]
    pairs.append(ModulePair('middle_block_out.0', 'controlnet_mid_block'))
    if hint_block:
        emb = list(cfg.get('conditioning_embedding_out_channels', (16, 32, 96, 256)))
        pairs.append(ModulePair('input_hint_block.0', 'controlnet_cond_embedding.conv_in'))
        for j in range(2 * (len(emb) - 1)):
            pairs.append(ModulePair(f'input_hint_block.{2 * (j + 1)}',
                                    f'controlnet_cond_embedding.blocks.{j}'))
        pairs.append(ModulePair(f'input_hint_block.{4 * len(emb) - 2}',
                                'controlnet_cond_embedding.conv_out'))
    return pairs


def vae_pairs(cfg, decoder=True):
    """Module pairs of an `AutoencoderKL` config (encoder, quant convs and optionally decoder)."""
    levels = len(cfg['block_out_channels'])
    layers = int(cfg.get('layers_per_block', 2))
    pairs = [ModulePair('encoder.conv_in', 'encoder.conv_in')]
    for b in range(levels):
        for layer in range(layers):
            pairs.append(ModulePair(f'encoder.down.{b}.block.{layer}',
                                    f'encoder.down_blocks.{b}.resnets.{layer}', 'vae_resnet'))
        if b < levels - 1:
            pairs.append(ModulePair(f'encoder.down.{b}.downsample.conv',
                                    f'encoder.down_blocks.{b}.downsamplers.0.conv'))
    pairs += [ModulePair('encoder.mid.block_1', 'encoder.mid_block.resnets.0', 'vae_resnet'),
              ModulePair('encoder.mid.attn_1', 'encoder.mid_block.attentions.0',
                         'vae_attention'),
              ModulePair('encoder.mid.block_2', 'encoder.mid_block.resnets.1', 'vae_resnet'),
              ModulePair('encoder.norm_out', 'encoder.conv_norm_out'),
              ModulePair('encoder.conv_out', 'encoder.conv_out'),
              ModulePair('quant_conv', 'quant_conv'),
              ModulePair('post_quant_conv', 'post_quant_conv')]
    if decoder:
        pairs += [ModulePair('decoder.conv_in', 'decoder.conv_in'),
                  ModulePair('decoder.mid.block_1', 'decoder.mid_block.resnets.0', 'vae_resnet'),
                  ModulePair('decoder.mid.attn_1', 'decoder.mid_block.attentions.0',
                             'vae_attention'),
                  ModulePair('decoder.mid.block_2', 'decoder.mid_block.resnets.1', 'vae_resnet'),
                  ModulePair('decoder.norm_out', 'decoder.conv_norm_out'),
                  ModulePair('decoder.conv_out', 'decoder.conv_out')]
        for k in range(levels):
            up = levels - 1 - k   # ldm counts decoder levels from the finest one
            for layer in range(layers + 1):
                pairs.append(ModulePair(f'decoder.up.{k}.block.{layer}',
                                        f'decoder.up_blocks.{up}.resnets.{layer}', 'vae_resnet'))
            if k > 0:
                pairs.append(ModulePair(f'decoder.up.{k}.upsample.conv',
                                        f'decoder.up_blocks.{up}.upsamplers.0.conv'))
    return pairs


def _split(key, prefixes):
    """Longest module prefix of `key` among `prefixes` -> (prefix, rest) or (None, key)."""
    parts = key.split('.')
    for n in range(len(parts) - 1, 0, -1):
        head = '.'.join(parts[:n])
        if head in prefixes:
            return head, '.'.join(parts[n:])
    return None, key


def _rename_inner(rest, table):
    parts = rest.split('.')
    for n in range(len(parts) - 1, 0, -1):
        head = '.'.join(parts[:n])
        if head in table:
            return '.'.join([table[head]] + parts[n:])
    return rest


def map_key(key, pairs, to='diffusers'):
    """Rename one parameter name between layouts; None when no pair covers it.

    Also returns whether the tensor changes shape between layouts (VAE attention convs).
    """
    if to == 'diffusers':
        index = {p.ldm: p for p in pairs}
        head, rest = _split(key, index)
        if head is None:
            return None, False
        pair = index[head]
        inner = _INNER[pair.kind]
        new_rest = _rename_inner(rest, inner)
        return f'{pair.diffusers}.{new_rest}', pair.kind == 'vae_attention'
    index = {p.diffusers: p for p in pairs}
    head, rest = _split(key, index)
    if head is None:
        return None, False
    pair = index[head]
    inverse = {v: k for k, v in _INNER[pair.kind].items()}
    return f'{pair.ldm}.{_rename_inner(rest, inverse)}', pair.kind == 'vae_attention'


def convert_state_dict(state, pairs, to='diffusers'):
    """Rename a whole state dict; returns (converted, unmapped_keys)."""
    out, unmapped = {}, []
    for key, value in state.items():
        new, reshape = map_key(key, pairs, to)
        if new is None:
            unmapped.append(key)
            continue
        if reshape and value.dim() == 4 and to == 'diffusers' and key.endswith('weight'):
            value = value[:, :, 0, 0]
        elif reshape and value.dim() == 2 and to == 'ldm' and key.endswith('weight'):
            value = value[:, :, None, None]
        out[new] = value
    return out, unmapped
