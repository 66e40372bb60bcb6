"""Convert the DPMesh authors' released checkpoints into this implementation.

    python -m hmr_models.dpmesh.weights.authors 3dpw-oc_best_ckpt.pth.tar out/dpmesh_3dpw_oc
    model = DPMesh.from_pretrained('out/dpmesh_3dpw_oc')

The release (github.com/EternalEvan/DPMesh, `common/model.py`) is a `DistributedDataParallel`
state dict (`module.` prefix) of a model built from CompVis `ldm`/`cldm` modules:

- `backbone.sd_model.model.diffusion_model.*`: SD1.5 UNet (ldm names) with cloneofsimo/lora
  layers injected into its attention (and feed-forward GEGLU) linears: `X.linear.weight` (base),
  `X.lora_down.weight`, `X.lora_up.weight` (scale 1.0);
- `backbone.sd_model.control_model.*`: ControlNet whose first conv takes the latent and the 30
  joint heatmaps concatenated (no hint embedder);
- `backbone.sd_model.first_stage_model.*`: SD1.5 VAE (decoder deleted);
- `backbone.outmodules.*`: feature fusion to 2048 x 8 x 8; `kp_lifting`: Linear(2, 768);
- JOTR-style regressor: `down_linear`, `conv2d_to_3d`, `exponent`, `conv_3d_coord`,
  `refine_3d`, `transformer.{encoder,decoder}`, `spose_shape_cam_param`, `query`,
  `cascade_{root_pose,pose,shaoe,cam}_out` (sic);
- `vposer.vposer.*`: a VPoser v1 (32-d latent) as the pose head, *not* the paper's VQ-VAE head.
  Both heads are supported here; a checkpoint with `vqvae.*` (PCT tokenizer) keys converts to
  the VQ-VAE head.

Every source key ends up in the report: mapped (with its target), merged (LoRA folded into a
base weight because this implementation does not put LoRA there), alias (the same tensor under a
second module name), or left out with the reason (CLIP text encoder, noise-schedule buffers,
the SMPL layer's buffers, VPoser's encoder, ...). Target keys the checkpoint does not provide are
listed too (they keep their initialisation).
"""
import argparse
from dataclasses import dataclass
import json
import logging
from pathlib import Path
import re
import sys

import torch

from ..config import load_config
from .ldm_keys import controlnet_pairs, map_key, unet_pairs, vae_pairs

log = logging.getLogger(__name__)

SD = 'backbone.sd_model.'
# Authors' regressor / head names -> ours (prefix rewrites, applied in order).
_PREFIX_MAP = [
    ('down_linear.', 'regressor.input_proj.'),
    ('conv2d_to_3d.', 'regressor.lift_3d.'),
    ('conv_3d_coord.0.', 'regressor.volume_coord.'),
    ('refine_3d.', 'regressor.volume_encoder.'),
    ('transformer.encoder.', 'regressor.encoder.'),
    ('transformer.decoder.norm.', 'regressor.decoder_norm.'),
    ('transformer.decoder.joint_img_regress.', 'regressor.joint_heads.'),
    ('transformer.decoder.fc_pos_3d.', 'regressor.joint_pos_embed.'),
    ('transformer.decoder.layers.', 'regressor.decoder_layers.'),
    ('query.', 'regressor.joint_queries.'),
    ('cascade_root_pose_out.', 'heads.root.layers.'),
    ('cascade_pose_out.', 'heads.pose.layers.'),
    ('cascade_shaoe_out.', 'heads.betas.layers.'),
    ('cascade_shape_out.', 'heads.betas.layers.'),
    ('cascade_cam_out.', 'heads.camera.layers.'),
    ('kp_lifting.', 'backbone.keypoint_embed.mlp.0.'),
    ('backbone.outmodules.0.', 'backbone.fusion.down_full.'),
    ('backbone.outmodules.1.', 'backbone.fusion.down_half.'),
    ('backbone.outmodules.2.', 'backbone.fusion.project.'),
    ('vposer.vposer.bodyprior_dec_fc1.', 'pose_prior.fc1.'),
    ('vposer.vposer.bodyprior_dec_fc2.', 'pose_prior.fc2.'),
    ('vposer.vposer.bodyprior_dec_out.', 'pose_prior.out.'),
    # VPoser v2 layout (human_body_prior 2.x): decoder_net.{0,3,5}
    ('vposer.vposer.decoder_net.0.', 'pose_prior.fc1.'),
    ('vposer.vposer.decoder_net.3.', 'pose_prior.fc2.'),
    ('vposer.vposer.decoder_net.5.', 'pose_prior.out.'),
]
_EXACT_MAP = {'exponent': 'regressor.depth_exponent',
              'transformer.smpl_tgt': 'regressor.param_content',
              'transformer.kp_tgt': 'regressor.joint_content',
              'spose_shape_cam_param': 'regressor.param_queries'}
# PCT VQ-VAE names (authors' vq_model variant) -> ours.
_VQ_MAP = [('vqvae.start_embed.', 'pose_prior.embed.'),
           ('vqvae.encoder_layer_norm.', 'pose_prior.encoder_norm.'),
           ('vqvae.token_mlp.', 'pose_prior.to_tokens.'),
           ('vqvae.feature_embed.', 'pose_prior.to_code.'),
           ('vqvae.decoder_token_mlp.', 'pose_prior.from_tokens.'),
           ('vqvae.decoder_start.', 'pose_prior.decoder_in.'),
           ('vqvae.decoder_layer_norm.', 'pose_prior.decoder_norm.'),
           ('vqvae.recover_embed.', 'pose_prior.to_rotation.')]
_VQ_EXACT = {'vqvae.codebook': 'pose_prior.codebook', 'vqvae.ema_cluster_size':
             'pose_prior.ema_count', 'vqvae.ema_w': 'pose_prior.ema_sum'}
_MIXER_INNER = {'layernorm1': 'norm1', 'layernorm2': 'norm2', 'MLP_token.ff': 'token_mlp',
                'MLP_channel.ff': 'channel_mlp'}
# Left out on purpose, with the reason shown in the report.
_LEFT_OUT = [
    (SD + 'cond_stage_model.', 'CLIP text encoder: DPMesh feeds keypoint tokens instead'),
    ('human_model_layer.', 'SMPL layer buffers: the body model loads from body_model_path'),
    ('vposer.vposer.bodyprior_enc', 'VPoser encoder: only its decoder is used at inference'),
    ('vposer.vposer.encoder_net', 'VPoser encoder: only its decoder is used at inference'),
    ('pos_embed_1d.pos_table', 'fixed sine table, recomputed (regressor.volume_pos)'),
    (SD + 'first_stage_model.post_quant_conv', 'VAE decoder side: not used'),
    (SD + 'first_stage_model.decoder', 'VAE decoder: not used'),
    (SD + 'first_stage_model.loss', 'VAE training loss module: not used'),
    (SD + 'model_ema', 'EMA copy of the UNet: the live weights are used'),
    (SD + 'model.diffusion_model.out.', "the UNet's noise-prediction output layer: DPMesh "
     'reads decoder features instead'),
]
_ALIASES = [('backbone.unet.unet.', SD), ('backbone.encoder_vq.', SD + 'first_stage_model.')]


@dataclass
class KeyReport:
    source: str
    status: str          # mapped | merged | alias | left_out
    target: str = ''
    note: str = ''


def strip_module_prefix(state):
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def _lora_groups(state):
    """{module path: {'base', 'bias', 'down', 'up'}} of cloneofsimo LoRA-injected layers."""
    groups = {}
    pat = re.compile(r'^(.*)\.(linear|conv|lora_down|lora_up)\.(weight|bias)$')
    for k in state:
        m = pat.match(k)
        if not m:
            continue
        path, part, kind = m.groups()
        g = groups.setdefault(path, {})
        if part in ('linear', 'conv'):
            g['base' if kind == 'weight' else 'bias'] = k
        elif kind == 'weight':
            g['down' if part == 'lora_down' else 'up'] = k
    return {p: g for p, g in groups.items() if 'down' in g and 'up' in g and 'base' in g}


def merge_lora(base, down, up, scale=1.0):
    """W + scale * up @ down for linear (2D) and conv (4D, up is 1x1) LoRA layers."""
    if base.dim() == 2:
        return base + scale * (up.float() @ down.float()).to(base.dtype)
    delta = torch.einsum('or,rikl->oikl', up[:, :, 0, 0].float(), down.float())
    return base + scale * delta.to(base.dtype)


def _peft_target(path, lora_targets):
    m = re.search(r'\.(attn[12])\.(to_q|to_k|to_v|to_out\.0)$', path)
    if not m:
        return False
    return m.group(1) == 'attn2' or lora_targets == 'attention'


def detect_lora_targets(state):
    """'attention' if the checkpoint has LoRA on self-attention (attn1), else 'cross'."""
    groups = _lora_groups(state)
    return 'attention' if any(re.search(r'\.attn1\.', p) for p in groups) else 'cross'


def _component_state(state, prefix, groups, lora_targets, merge_all):
    """ldm-named state of one component with LoRA resolved (merged or in peft names).

    Returns (state, origins): origins[ldm key] = [(source key, status, note)] for the report.
    """
    out, origins, consumed = {}, {}, set()
    for path, g in groups.items():
        rel = path[len(prefix):]
        base, down, up = state[g['base']], state[g['down']], state[g['up']]
        consumed.update(v for v in g.values())
        if merge_all or not _peft_target(rel, lora_targets) or base.dim() != 2:
            note = 'LoRA folded into the base weight (W + up @ down)'
            out[f'{rel}.weight'] = merge_lora(base, down, up)
            origins[f'{rel}.weight'] = [(g[x], 'merged', note) for x in ('base', 'down', 'up')]
            if 'bias' in g:
                out[f'{rel}.bias'] = state[g['bias']]
                origins[f'{rel}.bias'] = [(g['bias'], 'mapped', '')]
            continue
        for suffix, part in (('base_layer.weight', 'base'), ('base_layer.bias', 'bias'),
                             ('lora_A.default.weight', 'down'),
                             ('lora_B.default.weight', 'up')):
            if part in g:
                out[f'{rel}.{suffix}'] = state[g[part]]
                origins[f'{rel}.{suffix}'] = [(g[part], 'mapped', '')]
    for k, v in state.items():
        if k not in consumed:
            out[k[len(prefix):]] = v
            origins[k[len(prefix):]] = [(k, 'mapped', '')]
    return out, origins


def _map_component(ldm_state, origins, pairs, target_prefix, model_keys, report, converted):
    for rel, value in ldm_state.items():
        new, reshape = map_key(rel, pairs, to='diffusers')
        target = target_prefix + new if new is not None else ''
        if new is None or target not in model_keys:
            note = 'no matching module in this model' if new is None else \
                'target key not in this model'
            report += [KeyReport(src, 'left_out', target, note) for src, _, _ in origins[rel]]
            continue
        if reshape and value.dim() == 4 and rel.endswith('weight'):
            value = value[:, :, 0, 0]
        converted[target] = value
        report += [KeyReport(src, status, target, note) for src, status, note in origins[rel]]


def _map_plain(key):
    if key in _EXACT_MAP:
        return _EXACT_MAP[key]
    if key in _VQ_EXACT:
        return _VQ_EXACT[key]
    for src, dst in _PREFIX_MAP:
        if key.startswith(src):
            rest = key[len(src):]
            if src == 'transformer.decoder.layers.':
                rest = rest.replace('.multihead_attn.', '.cross_attn.')
            return dst + rest
    for src, dst in _VQ_MAP:
        if key.startswith(src):
            return dst + key[len(src):]
    m = re.match(r'^vqvae\.(encoder|decoder)\.(\d+)\.(.*)$', key)
    if m:
        rest = m.group(3)
        for a, b in _MIXER_INNER.items():
            if rest.startswith(a + '.'):
                rest = b + rest[len(a):]
        return f'pose_prior.{m.group(1)}.{m.group(2)}.{rest}'
    return None


def infer_overrides(state, base_profile):
    """Config overrides that make our model's shapes match the checkpoint."""
    ov = {'keypoint_embed_layers': 1, 'keypoint_embed_visibility': False,
          'keypoint_identity': False, 'image_range': 'zero_one', 'latent_scale': 1.0,
          'camera_mode': 'authors', 'timestep': 1, 'tap_layer': 1,
          'attention_levels': [1, 2], 'attention_parts': ['down', 'up'],
          'condition_mode': 'concat', 'unet_weights': '', 'vae_weights': '',
          'controlnet_weights': '', 'unet_training': 'lora'}
    kp = state.get('kp_lifting.weight')
    cn_in = state.get(SD + 'control_model.input_blocks.0.0.weight')
    if cn_in is not None:
        k = int(cn_in.shape[1]) - 4
        ov['num_keypoints'] = k
        ov['keypoint_set'] = 'dpmesh30' if k == 30 else 'coco17'
    if kp is not None:
        if kp.shape[1] != 2:
            raise ValueError(f'kp_lifting takes {kp.shape[1]} inputs; expected 2 (x, y)')
        ov['unet'] = {'cross_attention_dim': int(kp.shape[0])}
        ov['controlnet'] = {'cross_attention_dim': int(kp.shape[0])}
    groups = _lora_groups(state)
    ranks = {int(state[g['down']].shape[0]) for g in groups.values()}
    if ranks:
        ov['lora_rank'] = max(ranks)
        ov['lora_alpha'] = float(max(ranks))    # cloneofsimo scale 1.0 == peft alpha / r
        ov['lora_targets'] = detect_lora_targets(state)
    reg = {}
    if 'down_linear.weight' in state:
        reg['d_model'] = int(state['down_linear.weight'].shape[0])
    dec = {int(m.group(1)) for k in state for m in [re.match(
        r'^transformer\.decoder\.layers\.(\d+)\.', k)] if m}
    enc = {int(m.group(1)) for k in state for m in [re.match(
        r'^transformer\.encoder\.layers\.(\d+)\.', k)] if m}
    if dec:
        reg['dec_layers'] = max(dec) + 1
    if enc:
        reg['enc_layers'] = max(enc) + 1
    if 'transformer.decoder.layers.0.linear1.weight' in state:
        reg['ffn_dim'] = int(state['transformer.decoder.layers.0.linear1.weight'].shape[0])
    if 'refine_3d.layers.0.linear1.weight' in state:
        reg['volume_ffn_dim'] = int(state['refine_3d.layers.0.linear1.weight'].shape[0])
    if 'query.weight' in state and state['query.weight'].shape[0] != 15:
        raise ValueError(f"the checkpoint has {state['query.weight'].shape[0]} joint queries; "
                         'this implementation supports the 15-joint set')
    ov['regressor'] = reg
    if 'backbone.outmodules.2.0.weight' in state:
        ov['fused_channels'] = int(state['backbone.outmodules.2.0.weight'].shape[0])
    if any(k.startswith('vqvae.') for k in state):
        cb = state['vqvae.codebook']
        n_tok = int(state['vqvae.token_mlp.weight'].shape[0])
        vq = {'codebook_size': int(cb.shape[0]), 'code_dim': int(cb.shape[1]),
              'num_tokens': n_tok, 'num_joints': int(state['vqvae.token_mlp.weight'].shape[1]),
              'enc_hidden': int(state['vqvae.start_embed.weight'].shape[0]),
              'dec_hidden': int(state['vqvae.decoder_start.weight'].shape[0])}
        for part in ('encoder', 'decoder'):
            blocks = {int(m.group(1)) for k in state for m in [re.match(
                rf'^vqvae\.{part}\.(\d+)\.', k)] if m}
            short = part[:3]
            vq[f'{short}_blocks'] = max(blocks) + 1 if blocks else 0
            if blocks:
                vq[f'{short}_token_hidden'] = int(
                    state[f'vqvae.{part}.0.MLP_token.ff.0.weight'].shape[0])
                vq[f'{short}_channel_hidden'] = int(
                    state[f'vqvae.{part}.0.MLP_channel.ff.0.weight'].shape[0])
        ov['pose_head'] = {'type': 'vqvae', 'vqvae': vq}
    elif any(k.startswith('vposer.') for k in state):
        w = state.get('vposer.vposer.bodyprior_dec_fc1.weight',
                      state.get('vposer.vposer.decoder_net.0.weight'))
        ov['pose_head'] = {'type': 'vposer', 'vposer_latent': int(w.shape[1]),
                           'vposer_hidden': int(w.shape[0])}
    else:
        raise ValueError('no pose head found (neither vposer.* nor vqvae.* keys): not a '
                         'DPMesh checkpoint?')
    return ov


def convert_state(state, base_profile='sd15', merge_all_lora=False, build_model=True):
    """Convert an authors' state dict. Returns (model or None, config, converted, report).

    `base_profile` gives the SD component sizes (sd15 for the release; tiny for tests).
    """
    state = strip_module_prefix(state)
    overrides = infer_overrides(state, base_profile)
    cfg = load_config(base_profile, overrides)
    from ..model import DPMesh
    model = DPMesh(cfg) if build_model else None
    model_keys = set(model.state_dict()) if model is not None else None
    report, converted = [], {}
    groups = _lora_groups(state)
    # Aliases: the same tensors under a second module name (UNetWrapper, encoder_vq).
    aliased = set()
    for alias, canonical in _ALIASES:
        for k in state:
            if k.startswith(alias):
                other = canonical + k[len(alias):]
                same = other in state and torch.equal(state[other], state[k])
                report.append(KeyReport(k, 'alias' if same else 'left_out', other,
                                        'same tensor as its canonical name' if same else
                                        'alias differs from / lacks its canonical tensor'))
                aliased.add(k)
    comps = [('unet', SD + 'model.diffusion_model.', 'backbone.unet.'),
             ('controlnet', SD + 'control_model.', 'backbone.controlnet.'),
             ('vae', SD + 'first_stage_model.', 'backbone.vae.')]
    keys = model_keys if model_keys is not None else _FakeKeys()
    handled = set(aliased)
    for name, src_prefix, dst_prefix in comps:
        comp = cfg.resolved_component(name)
        if name == 'controlnet':
            hint = any(k.startswith(src_prefix + 'input_hint_block') for k in state)
            pairs = controlnet_pairs(comp, hint_block=hint)
        elif name == 'unet':
            pairs = unet_pairs(comp)
        else:
            pairs = vae_pairs(comp, decoder=False)
        left = [(p, r) for p, r in _LEFT_OUT if p.startswith(src_prefix)]
        sub = {k: v for k, v in state.items() if k.startswith(src_prefix) and k not in aliased
               and not any(k.startswith(p) for p, _ in left)}
        handled.update(sub)
        ldm, origins = _component_state(sub, src_prefix, {p: g for p, g in groups.items()
                                                          if p.startswith(src_prefix)},
                                        cfg.lora_targets, merge_all_lora)
        _map_component(ldm, origins, pairs, dst_prefix, keys, report, converted)
    for k, v in state.items():
        if k in handled:
            continue
        reason = next((r for p, r in _LEFT_OUT if k.startswith(p)), None)
        if reason:
            report.append(KeyReport(k, 'left_out', '', reason))
            continue
        if k.startswith(SD):
            report.append(KeyReport(k, 'left_out', '', 'diffusion wrapper buffer (noise '
                                    'schedule etc.): DPMesh runs one fixed step'))
            continue
        target = _map_plain(k)
        if target is None or (model_keys is not None and target not in model_keys):
            report.append(KeyReport(k, 'left_out', target or '', 'no counterpart here'))
            continue
        converted[target] = v
        report.append(KeyReport(k, 'mapped', target))
    if cfg.pose_head.type == 'vqvae' and 'pose_prior.codebook' in converted:
        converted['pose_prior.initialised'] = torch.ones((), dtype=torch.bool)
    if model is not None:
        _load_checked(model, converted)
    return model, cfg, converted, report


class _FakeKeys(set):
    def __contains__(self, item):
        return True


def _load_checked(model, converted):
    state = model.state_dict()
    bad = [k for k, v in converted.items() if k in state and state[k].shape != v.shape]
    if bad:
        raise ValueError('shape mismatch converting the checkpoint: ' + ', '.join(
            f'{k} {tuple(converted[k].shape)} vs {tuple(state[k].shape)}' for k in bad[:8]))
    model.load_state_dict(converted, strict=False)


def missing_targets(model, converted):
    """Model keys the checkpoint did not provide (buffers recomputed at init excluded)."""
    return sorted(k for k in model.state_dict() if k not in converted)


def format_report(report, missing=()):
    counts = {}
    for r in report:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines = ['# DPMesh checkpoint conversion report', '',
             'status counts: ' + ', '.join(f'{k} {v}' for k, v in sorted(counts.items())), '']
    for status in ('mapped', 'merged', 'alias', 'left_out'):
        rows = [r for r in report if r.status == status]
        if not rows:
            continue
        lines += [f'## {status} ({len(rows)})', '']
        lines += [f'- `{r.source}`' + (f' -> `{r.target}`' if r.target else '')
                  + (f' ({r.note})' if r.note else '') for r in rows]
        lines.append('')
    if missing:
        lines += [f'## not in the checkpoint, kept at initialisation ({len(missing)})', '']
        lines += [f'- `{k}`' for k in missing]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint', help="authors' .pth.tar / .pth / .safetensors file")
    parser.add_argument('output', help='output checkpoint folder (config.json + weights)')
    parser.add_argument('--base', default='sd15', help='profile giving the SD component sizes')
    parser.add_argument('--merge-lora', action='store_true',
                        help='fold every LoRA into its base weight (no trainable LoRA kept)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    from .sd15 import read_checkpoint
    src = Path(args.checkpoint).expanduser()
    if not src.is_file():
        print(f'error: checkpoint not found: {src}', file=sys.stderr)
        return 2
    state = read_checkpoint(src)
    model, cfg, converted, report = convert_state(state, args.base, args.merge_lora)
    out = Path(args.output)
    model.save_pretrained(out, full=True)
    missing = missing_targets(model, converted)
    (out / 'conversion_report.md').write_text(format_report(report, missing))
    (out / 'conversion_report.json').write_text(json.dumps(
        [r.__dict__ for r in report] + [{'source': '', 'status': 'not_in_checkpoint',
                                         'target': k, 'note': ''} for k in missing], indent=1))
    counts = {}
    for r in report:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(f'converted {src.name}: {counts}; {len(missing)} model keys not in the checkpoint; '
          f'report: {out / "conversion_report.md"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
