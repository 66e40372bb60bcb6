"""DPMesh configuration: one dataclass tree, three shipped profiles, YAML in and out.

A profile (`sd15`, `compact`, `tiny`) is a YAML file in `hmr_models/assets/configs/dpmesh/`;
`load_config('sd15', overrides)` reads it, applies overrides and validates everything with
messages that name the offending key. A checkpoint stores the resolved config beside its
weights (`config.json`, hmr_models.checkpoints), so it is self-describing.
"""
from dataclasses import dataclass, field, replace
import copy
from pathlib import Path

import yaml

from hmr_models.config import Config
from hmr_models.paths import ASSETS_DIR

from .parts.keypoint_lifter import KeypointLifterConfig

PROFILE_DIR = ASSETS_DIR / 'configs' / 'dpmesh'
SD_CONFIG_ROOT = ASSETS_DIR / 'configs'
PROFILES = ('sd15', 'compact', 'tiny')


@dataclass
class VQVAEConfig(Config):
    """PCT-style pose tokenizer: J rotation matrices (J, 9) <-> `num_tokens` codebook entries."""

    num_joints: int = field(default=23, metadata={
        'help': 'SMPL body joints without the root (the root has its own head)'})
    num_tokens: int = 48
    codebook_size: int = 2048
    code_dim: int = 256
    enc_hidden: int = 512
    enc_blocks: int = 4
    enc_token_hidden: int = 64
    enc_channel_hidden: int = 512
    dec_hidden: int = 32
    dec_blocks: int = 1
    dec_token_hidden: int = 64
    dec_channel_hidden: int = 64
    dropout: float = 0.0
    ema_decay: float = 0.9
    commitment: float = field(default=0.25, metadata={
        'help': 'weight of the encoder commitment loss'})
    dead_code_threshold: float = field(default=1e-3, metadata={
        'help': 'EMA usage below which a code is re-seeded'})


@dataclass
class PoseHeadConfig(Config):
    """How the regressor's pose tokens become 23 joint rotations.

    `vqvae`: the paper's head (classification over a frozen VQ-VAE codebook, soft decode).
    `vposer`: the head of the authors' released checkpoints (32-d VPoser v1 code, frozen decoder).
    `lifted`: the keypoint lifter's 23 rotations (6D) corrected by one pose token (needs
    `keypoint_lifter.enabled`; the compact profile, see dpmesh.parts.keypoint_lifter).
    """

    type: str = 'vqvae'
    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    prior_weights: str = field(default='', metadata={
        'help': "trained VQ-VAE checkpoint folder/file ('' = random, tests only)"})
    vposer_latent: int = 32
    vposer_hidden: int = 512


@dataclass
class RegressorConfig(Config):
    """Cascade transformer decoder on the fused 8x8 feature map (JOTR/DPMesh layout)."""

    d_model: int = 256
    heads: int = 8
    enc_layers: int = 2
    dec_layers: int = 4
    ffn_dim: int = 2048
    volume_ffn_dim: int = 1024
    dropout: float = 0.1
    joint_names: tuple = field(default=(
        'pelvis', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
        'right_ankle', 'neck', 'head', 'left_shoulder', 'right_shoulder', 'left_elbow',
        'right_elbow', 'left_wrist', 'right_wrist'), metadata={
        'help': "15 joint queries, as the authors' graph joint set (their Head_top -> SMPL "
                "'head')."})
    depth_range_m: float = field(default=2.0, metadata={
        'help': 'root-relative depth span mapped onto the [0, 1] volume axis'})


@dataclass
class LossConfig(Config):
    """Loss weights of the paper (2D 5.0, 3D 2.0, SMPL 1.0, NKR 0.1) and their parts."""

    w_2d: float = 5.0
    w_3d: float = 2.0
    w_smpl: float = 1.0
    w_nkr: float = 0.1
    w_joint_volume: float = field(default=1.0, metadata={
        'help': 'joint-query volume coordinates, inside the 2D/3D groups'})
    w_betas: float = field(default=0.1, metadata={
        'help': 'betas relative to pose inside the SMPL group'})
    w_tokens: float = field(default=0.1, metadata={
        'help': "VQ head: cross-entropy to the prior's tokens of the GT pose"})
    nkr_temperature: float = 0.1
    nkr_projection_dim: int = 128


@dataclass
class DPMeshConfig(Config):
    """Everything that defines a DPMesh model (not its training schedule)."""

    profile: str = 'custom'
    keypoint_set: str = field(default='coco17', metadata={
        'help': "'coco17' (our front-end) or 'dpmesh30' (authors' release)"})
    num_keypoints: int = 17
    crop_size: int = 256
    image_range: str = field(default='minus_one_one', metadata={
        'help': "VAE input range: 'minus_one_one' or 'zero_one'"})
    latent_scale: float = 0.18215
    timestep: int = 1
    heatmap_sigma: float = field(default=0.0, metadata={
        'help': 'Gaussian sigma in latent cells; 0 = front-end default'})
    condition_mode: str = field(default='concat', metadata={
        'help': "'concat' (paper) or 'add' (ablation)"})
    add_embedding_channels: int = field(default=64, metadata={
        'help': "hint embedder width in 'add' mode"})
    sd_config: str = field(default='sd15', metadata={
        'help': "folder under assets/configs, or '' to use the dicts only"})
    unet: dict = field(default_factory=dict)
    vae: dict = field(default_factory=dict)
    controlnet: dict = field(default_factory=dict)
    unet_weights: str = ''
    vae_weights: str = ''
    controlnet_weights: str = field(default='', metadata={
        'help': "'' -> ControlNet initialised from the UNet encoder"})
    unet_training: str = field(default='lora', metadata={'help': "'lora' | 'full' | 'frozen'"})
    vae_trainable: bool = False
    lora_rank: int = 64
    lora_alpha: float = field(default=0.0, metadata={
        'help': "0 -> rank: scaling 1.0, as the authors' cloneofsimo/lora"})
    lora_targets: str = field(default='cross', metadata={
        'help': "'cross' (attn2) or 'attention' (attn1 + attn2)"})
    keypoint_embed_layers: int = field(default=2, metadata={'help': '-- keypoint tokens'})
    keypoint_embed_visibility: bool = field(default=True, metadata={
        'help': 'input (x, y, v) instead of (x, y)'})
    keypoint_identity: bool = field(default=True, metadata={
        'help': 'learned per-keypoint embedding added to tokens'})
    tap_layer: int = field(default=1, metadata={
        'help': 'layer inside each decoder level that is tapped'})
    attention_levels: tuple = field(default=(1, 2), metadata={
        'help': 'decoder levels (0 = coarsest) with attention maps'})
    attention_parts: tuple = field(default=('down', 'up'), metadata={
        'help': "which UNet halves' cross-attention is averaged"})
    fused_channels: int = 2048
    fusion_groups: int = 16
    # -- heads
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    pose_head: PoseHeadConfig = field(default_factory=PoseHeadConfig)
    keypoint_lifter: KeypointLifterConfig = field(default_factory=KeypointLifterConfig)
    camera_mode: str = field(default='cliff', metadata={
        'help': "'cliff' (weak perspective) or 'authors' (their t_z head)"})
    authors_camera_3d_size: float = 2.5
    loss: LossConfig = field(default_factory=LossConfig)

    # ---------------------------------------------------------------- derived quantities
    @property
    def vae_downsample(self):
        blocks = self.resolved_component('vae').get('block_out_channels', (1, 1, 1, 1))
        return 2 ** (len(blocks) - 1)

    @property
    def latent_size(self):
        return self.crop_size // self.vae_downsample

    @property
    def feature_size(self):
        """Side of the fused feature map (latent / 4, e.g. 8 for a 32x32 latent)."""
        return self.latent_size // 4

    @property
    def token_dim(self):
        return int(self.resolved_component('unet')['cross_attention_dim'])

    def resolved_component(self, name):
        """Diffusers config dict of 'unet' | 'vae' | 'controlnet': shipped file + overrides."""
        base = {}
        if self.sd_config:
            path = Path(self.sd_config)
            if not path.is_absolute():
                path = SD_CONFIG_ROOT / self.sd_config
            cfg_file = path / name / 'config.json'
            if not cfg_file.is_file():
                raise FileNotFoundError(
                    f"sd_config '{self.sd_config}': no {name}/config.json in {path}")
            import json
            base = {k: v for k, v in json.loads(cfg_file.read_text()).items()
                    if not k.startswith('_')}
        base.update(copy.deepcopy(getattr(self, name)))
        return base

    # ---------------------------------------------------------------- (de)serialisation
    def save(self, path):
        """Write the resolved config as YAML (a profile-like file to edit and load_config)."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, data, where='dpmesh'):
        return super().from_dict(data, where)

    def replace(self, **changes):
        return replace(self, **changes)             # validated by Config.__post_init__

    def validate(self):
        _choice('image_range', self.image_range, ('minus_one_one', 'zero_one'))
        _choice('condition_mode', self.condition_mode, ('concat', 'add'))
        _choice('unet_training', self.unet_training, ('lora', 'full', 'frozen'))
        _choice('lora_targets', self.lora_targets, ('cross', 'attention'))
        _choice('camera_mode', self.camera_mode, ('cliff', 'authors'))
        _choice('pose_head.type', self.pose_head.type, ('vqvae', 'vposer', 'lifted'))
        if self.pose_head.type == 'lifted' and not self.keypoint_lifter.enabled:
            raise ValueError("pose_head.type 'lifted' needs keypoint_lifter.enabled: true")
        _choice('keypoint_set', self.keypoint_set, ('coco17', 'dpmesh30'))
        for part in self.attention_parts:
            _choice('attention_parts[]', part, ('down', 'up'))
        if self.num_keypoints < 1:
            raise ValueError(f'num_keypoints must be >= 1, got {self.num_keypoints}')
        expected_k = {'coco17': 17, 'dpmesh30': 30}[self.keypoint_set]
        if self.num_keypoints != expected_k:
            raise ValueError(f"num_keypoints={self.num_keypoints} does not match keypoint_set "
                             f"'{self.keypoint_set}' ({expected_k} keypoints)")
        if self.unet_training == 'lora' and self.lora_rank < 1:
            raise ValueError("lora_rank must be >= 1 when unet_training is 'lora'")
        if self.timestep < 0:
            raise ValueError(f'timestep must be >= 0, got {self.timestep}')
        unet = self.resolved_component('unet')
        n_levels = len(unet.get('block_out_channels', ()))
        if n_levels != 4:
            raise ValueError('the feature taps assume a 4-level UNet (as SD1.5); '
                             f'unet.block_out_channels has {n_levels} levels')
        if self.tap_layer >= int(unet.get('layers_per_block', 2)) + 1:
            raise ValueError(f'tap_layer={self.tap_layer} exceeds the decoder layers per level '
                             f"({int(unet.get('layers_per_block', 2)) + 1})")
        for level in self.attention_levels:
            if level not in (1, 2, 3):
                raise ValueError('attention_levels entries must be 1, 2 or 3 (decoder levels '
                                 f'with cross-attention), got {level}')
        if self.crop_size % (self.vae_downsample * 8) != 0:
            raise ValueError(f'crop_size={self.crop_size} must be a multiple of '
                             f'{self.vae_downsample * 8} (VAE x{self.vae_downsample}, UNet x8)')
        if self.regressor.d_model % self.regressor.heads:
            raise ValueError('regressor.d_model must be divisible by regressor.heads')
        if self.regressor.d_model % 4:
            raise ValueError('regressor.d_model must be divisible by 4 (2D sine embedding)')
        vq = self.pose_head.vqvae
        if vq.num_joints not in (23, 24):
            raise ValueError(f'pose_head.vqvae.num_joints must be 23 or 24, got {vq.num_joints}')


def load_config(profile_or_path='compact', overrides=None):
    """Read a shipped profile name or a YAML path, apply nested `overrides`, validate.

    A YAML file may itself name a base profile with `base: sd15`.
    """
    data = _read_profile(profile_or_path)
    if overrides:
        data = _deep_merge(data, overrides)
    return DPMeshConfig.from_dict(data)


def _read_profile(profile_or_path):
    if isinstance(profile_or_path, dict):
        data = copy.deepcopy(profile_or_path)
    else:
        name = str(profile_or_path)
        path = PROFILE_DIR / f'{name}.yaml' if name in PROFILES else Path(name).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"DPMesh config '{name}' not found: give one of {PROFILES} or a YAML file path")
        data = yaml.safe_load(path.read_text()) or {}
    base = data.pop('base', None)
    if base:
        data = _deep_merge(_read_profile(base), data)
    return data


def _deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ('unet', 'vae',
                                                                              'controlnet'):
            out[k] = _deep_merge(out[k], v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            merged = dict(out[k])
            merged.update(v)
            out[k] = merged
        else:
            out[k] = copy.deepcopy(v)
    return out


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"config '{name}' must be one of {allowed}, got '{value}'")
