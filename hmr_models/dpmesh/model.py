"""The DPMesh model: diffusion backbone -> cascade regressor -> SMPL parameters (+ body).

    out = model(images, keypoints, valid)                  # parameters only
    out = model(images, keypoints, valid, cameras=cams, body=body)   # + mesh, joints, 2D

`images` are crops (B, 3, S, S) in the VAE range (`prepare_images` converts uint8 crops),
`keypoints` crop-normalised (B, K, 2) with `valid` (B, K). The pose is 24 SMPL joint rotations:
the root from a 6D head, the 23 body joints from the pose prior (VQ-VAE codebook or VPoser),
or, with a keypoint lifter (compact profile), the lifter's estimate from the 2D keypoints that
the heads correct from the image features.
The weak-perspective crop camera becomes a metric translation with CLIFF's full-image camera
(focal = image diagonal when uncalibrated), so meshes land where the person is in the image.
"""
from dataclasses import dataclass, field
import logging
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from hmr_models.geometry.affine import apply_affine
from hmr_models.geometry.projection import perspective_project, weak_perspective_to_translation
from hmr_models.geometry.rotations import matrix_to_axis_angle, rot6d_interleaved_to_matrix
from .config import DPMeshConfig, load_config
from .parts.backbone import DiffusionBackbone
from .parts.keypoint_lifter import KeypointLifter, box_features, load_lifter_weights
from .parts.pose_prior import PoseVQVAE, VPoserDecoder, load_pose_prior
from .parts.regressor import CascadeHead, CascadeRegressor

log = logging.getLogger(__name__)

# softplus(x + _S0) = 0.9 at x = 0: a person filling the 1.25x-enlarged crop starts sensible.
_S0 = float(np.log(np.expm1(0.9)))


@dataclass
class CropCameras:
    """Per-crop camera geometry (torch, batched), everything CLIFF needs.

    focal (B, 2) and principal (B, 2) in image pixels; box_center (B, 2) and box_size (B,) of
    the square crop in image pixels; image_to_crop (B, 2, 3) maps image pixels to crop pixels.
    """

    focal: torch.Tensor
    principal: torch.Tensor
    box_center: torch.Tensor
    box_size: torch.Tensor
    image_to_crop: torch.Tensor

    @classmethod
    def from_crops(cls, crops, camera, device='cpu', dtype=torch.float32):
        """From a front-end `Crops` and a `CameraIntrinsics` (one image, N crops)."""
        n = len(crops)
        sq = np.asarray(crops.boxes_square, np.float32).reshape(n, 4)
        center = 0.5 * (sq[:, :2] + sq[:, 2:])
        size = sq[:, 2] - sq[:, 0]
        t = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=device, dtype=dtype)  # noqa
        return cls(focal=t(np.tile([[camera.fx, camera.fy]], (n, 1))),
                   principal=t(np.tile([[camera.cx, camera.cy]], (n, 1))),
                   box_center=t(center), box_size=t(size),
                   image_to_crop=t(crops.image_to_crop))

    def to(self, device=None, dtype=None):
        return CropCameras(**{k: getattr(self, k).to(device=device, dtype=dtype)
                              for k in ('focal', 'principal', 'box_center', 'box_size',
                                        'image_to_crop')})

    def select(self, index):
        """The cameras of the crops at `index` (a tensor of indices)."""
        return CropCameras(**{k: None if getattr(self, k) is None else getattr(self, k)[index]
                              for k in ('focal', 'principal', 'box_center', 'box_size',
                                        'image_to_crop')})


@dataclass
class DPMeshOutput:
    """Model outputs (torch). Shapes with B crops, K keypoints, J regressor joints.

    pose (B, 72) axis-angle, rotmats (B, 24, 3, 3), betas (B, 10), camera (B, 3) weak
    perspective (s, tx, ty) of the crop, joint_coords (B, J, 3) volume coordinates in [0, 1],
    pose_logits (B, T, N) for the VQ-VAE head (None for VPoser), features (B, C, h, w),
    attention {size: (B, K, size, size)}. With cameras and a body: translation (B, 3),
    vertices (B, V, 3), joints (B, 24, 3), keypoints3d (B, 17, 3) COCO-17, all metres in the
    camera frame; joints2d / keypoints2d (B, 24|17, 2) crop-normalised ([0, 1] inside);
    lifter_features (B, hidden) of the keypoint lifter when the model has one.
    """

    pose: torch.Tensor
    rotmats: torch.Tensor
    betas: torch.Tensor
    camera: torch.Tensor
    joint_coords: torch.Tensor
    features: torch.Tensor
    attention: dict = field(default_factory=dict)
    pose_logits: torch.Tensor = None
    translation: torch.Tensor = None
    vertices: torch.Tensor = None
    joints: torch.Tensor = None
    keypoints3d: torch.Tensor = None
    joints2d: torch.Tensor = None
    keypoints2d: torch.Tensor = None
    lifter_features: torch.Tensor = None


def authors_camera_to_weak_perspective(raw, camera_3d_size=2.5):
    """The authors' camera head (t_x, t_y, gamma) -> the (s, tx, ty) of the same projection.

    Their head puts the body at depth t_z = k * sigmoid(gamma) with k = f * size / box (a
    virtual camera of the image's focal f looking at the crop), offset by (t_x, t_y) metres. A
    point X then lands at crop-normalised u = f / (box/2 * t_z) * (X + t_x)
    = 2 / (size * sigmoid(gamma)) * (X + t_x): a weak-perspective camera, focal-independent.
    """
    s = 2.0 / (camera_3d_size * torch.sigmoid(raw[:, 2]).clamp_min(1e-6))
    return torch.stack([s, raw[:, 0], raw[:, 1]], dim=-1)


def parameters_output(root, body_rot, betas, raw_cam, camera_mode='cliff', camera_3d_size=2.5):
    """DPMeshOutput from root (B, 3, 3), body (B, 23, 3, 3), betas and the raw camera head.

    camera_mode / camera_3d_size: DPMeshConfig's `camera_mode` / `authors_camera_3d_size`.
    """
    rotmats = torch.cat([root[:, None], body_rot.to(root.dtype)], 1)
    pose = matrix_to_axis_angle(rotmats).reshape(rotmats.shape[0], 72)
    if camera_mode == 'cliff':
        s = F.softplus(raw_cam[:, :1] + _S0) + 1e-3
        camera = torch.cat([s, raw_cam[:, 1:]], -1)
    else:
        camera = authors_camera_to_weak_perspective(raw_cam, camera_3d_size)
    return DPMeshOutput(pose=pose, rotmats=rotmats, betas=betas, camera=camera,
                        joint_coords=None, features=None)


def lifter_output(lifted, camera_mode='cliff'):
    """DPMeshOutput of the keypoint lifter alone (what DPMesh starts from)."""
    out = parameters_output(rot6d_interleaved_to_matrix(lifted['root6d'].float()),
                            rot6d_interleaved_to_matrix(lifted['body6d'].float()),
                            lifted['betas'].float(), lifted['camera'].float(), camera_mode)
    out.lifter_features = lifted['hidden']
    return out


def lift(lifter, keypoints, valid, cameras, scores=None):
    """A KeypointLifter's estimate (its output dict) for B crops.

    keypoints (B, K, 2) crop-normalised, valid (B, K), their CropCameras, optional scores (B, K).
    """
    box = box_features(cameras, keypoints.shape[0], keypoints.device, keypoints.dtype)
    return lifter(keypoints, valid, box, scores)


def camera_translation(out, cameras):
    """(B, 3) metric translation of `out`'s crop camera (CLIFF, full-image camera)."""
    return weak_perspective_to_translation(
        out.camera.float(), cameras.box_center.float(), cameras.box_size.float(),
        cameras.focal.float(), cameras.principal.float())


def pose_body(out, cameras, body, crop_size):
    """Fill `out`'s vertices, joints (camera frame), crop projections and translation.

    A translation already set (e.g. by keypoint refinement) is kept.
    """
    with torch.autocast(out.pose.device.type, enabled=False):   # SMPL in float32
        if out.translation is None:
            out.translation = camera_translation(out, cameras)
        posed = body(out.pose.float(), out.betas.float(), out.translation)
        out.vertices, out.joints = posed.vertices, posed.joints
        out.keypoints3d = body.regress(posed.vertices, 'coco17')
        for name, pts in (('joints2d', out.joints), ('keypoints2d', out.keypoints3d)):
            pix = perspective_project(pts, cameras.focal.float(), cameras.principal.float())
            setattr(out, name, apply_affine(cameras.image_to_crop.float(), pix) / float(crop_size))
    return out


def prepare_images(crops, image_range='minus_one_one', device='cpu', dtype=torch.float32):
    """uint8 crops (B, S, S, 3) numpy/torch -> (B, 3, S, S) float in the VAE input range."""
    x = torch.as_tensor(np.ascontiguousarray(crops) if isinstance(crops, np.ndarray) else crops)
    x = x.to(device=device).permute(0, 3, 1, 2).to(dtype) / 255.0
    return x * 2.0 - 1.0 if image_range == 'minus_one_one' else x


class DPMesh(nn.Module):
    """DPMesh (Zhu et al., CVPR 2024) on diffusers + peft. See the module docstring."""

    def __init__(self, config, build_backbone=True):
        super().__init__()
        if isinstance(config, (str, dict)):
            config = load_config(config)
        if not isinstance(config, DPMeshConfig):
            raise TypeError(f'config must be a DPMeshConfig, profile name or dict, got '
                            f'{type(config).__name__}')
        self.config = cfg = config
        self._backbone_loader = None     # see defer_backbone
        if build_backbone:
            self.backbone = DiffusionBackbone(cfg)
        head = cfg.pose_head
        self.pose_prior = None
        if head.type == 'vqvae':
            self.pose_prior = PoseVQVAE(head.vqvae)
            if head.prior_weights:
                load_pose_prior(self.pose_prior, head.prior_weights)
            num_params, pose_dim = head.vqvae.num_tokens + 3, head.vqvae.codebook_size
        elif head.type == 'vposer':
            self.pose_prior = VPoserDecoder(head.vposer_latent, head.vposer_hidden)
            num_params, pose_dim = 3, head.vposer_latent
        else:                                   # 'lifted': one token corrects the lifter
            num_params, pose_dim = 4, 23 * 6
        if self.pose_prior is not None:
            self.pose_prior.requires_grad_(False)   # a frozen prior, as in the paper
        reg = cfg.regressor
        self.regressor = CascadeRegressor(cfg.fused_channels, cfg.feature_size, num_params, reg)
        d, layers = reg.d_model, reg.dec_layers
        self.heads = nn.ModuleDict({
            'root': CascadeHead(d, 6, layers), 'pose': CascadeHead(d, pose_dim, layers),
            'betas': CascadeHead(d, 10, layers), 'camera': CascadeHead(d, 3, layers)})
        self.keypoint_lifter = None
        if cfg.keypoint_lifter.enabled:
            self.keypoint_lifter = KeypointLifter(cfg.num_keypoints, cfg.keypoint_lifter)
            if cfg.keypoint_lifter.weights:
                load_lifter_weights(self.keypoint_lifter, cfg.keypoint_lifter.weights)
            # The heads become corrections of the lifter's estimate: zero until trained.
            for p in self.heads.parameters():
                nn.init.zeros_(p)

    @property
    def num_keypoints(self):
        return self.config.num_keypoints

    # ------------------------------------------------------------------ deferred backbone
    # A lifted model run from its keypoints alone (a CPU's default) never calls the diffusion
    # backbone, and building it costs most of a node's start (importing diffusers and peft:
    # ~9 s on 2 cores). So a model can be loaded without it and build it on first use: any
    # access to `model.backbone` builds it. Until then state_dict(), parameters() and to()
    # leave it out.
    @property
    def backbone(self):
        """Return the diffusion backbone, built now if it was deferred."""
        return self.ensure_backbone()

    @property
    def backbone_built(self):
        return self._modules.get('backbone') is not None

    def defer_backbone(self, loader):
        """Leave the backbone unbuilt; `loader(backbone)` loads its weights once it is built."""
        if self.backbone_built:
            raise RuntimeError('the backbone is built already')
        self._backbone_loader = loader

    def ensure_backbone(self):
        """Build a deferred backbone now (same device, dtype and mode as the model)."""
        if self.backbone_built:
            return self._modules['backbone']
        if self._backbone_loader is None:
            raise RuntimeError('DPMesh was built without a backbone and has no loader for it')
        t0 = time.monotonic()
        backbone = DiffusionBackbone(self.config)
        self._backbone_loader(backbone)
        like = next(self.regressor.parameters())
        self.backbone = backbone.to(like.device, like.dtype).train(self.training)
        self._backbone_loader = None
        log.info('built the DPMesh diffusion backbone in %.1f s (deferred until used)',
                 time.monotonic() - t0)
        return backbone

    def train(self, mode=True):
        super().train(mode)
        if self.pose_prior is not None:
            self.pose_prior.eval()     # frozen prior: no dropout, no codebook updates
        return self

    # ------------------------------------------------------------------ forward
    def heatmaps(self, keypoints, valid):
        """Gaussian heatmaps at latent resolution from crop-normalised keypoints: (B, K, h, w)."""
        from hmr_models.frontend.heatmaps import gaussian_heatmaps
        cfg = self.config
        return gaussian_heatmaps(keypoints * cfg.crop_size, valid, crop_size=cfg.crop_size,
                                 size=cfg.latent_size, sigma=cfg.heatmap_sigma or None)

    def forward(self, images, keypoints, valid, heatmaps=None, cameras=None, body=None,
                latent=None, scores=None):
        """Run DPMesh on B crops; see DPMeshOutput for what comes back.

        scores: optional (B, K) detector confidences of the keypoints, for a keypoint lifter
        trained with them (the backbone only uses `valid`).
        """
        b, k = keypoints.shape[:2]
        if k != self.config.num_keypoints:
            raise ValueError(f'expected {self.config.num_keypoints} keypoints '
                             f"({self.config.keypoint_set}), got {k}")
        valid = valid.bool() & torch.isfinite(keypoints).all(-1)
        keypoints = torch.nan_to_num(keypoints)
        if heatmaps is None:
            heatmaps = self.heatmaps(keypoints, valid)
        back = self.backbone(images, keypoints, valid, heatmaps, latent=latent)
        tokens, coords = self.regressor(back['features'])
        lifted = None
        if self.keypoint_lifter is not None:
            lifted = self.lift(keypoints, valid, cameras, scores)
        out = self._decode_tokens(tokens, lifted)
        out.joint_coords = coords
        out.features = back['features']
        out.attention = back['attention']
        if cameras is not None and body is not None:
            self.pose_body(out, cameras, body)
        return out

    def lift(self, keypoints, valid, cameras, scores=None):
        """The keypoint lifter's estimate (its output dict) for B crops (see `lift`)."""
        return lift(self.keypoint_lifter, keypoints, valid, cameras, scores)

    # ---------------------------------------------------- lifted profiles, in two parts
    # With a keypoint lifter and the 'lifted' pose head, the result is the lifter's estimate
    # from the keypoints plus corrections from the image (diffusion backbone -> regressor ->
    # heads). Inference may compute the two apart: the image corrections of a tracked person
    # change slowly, the keypoints every frame (DPMeshPredictor's image_correction_interval).
    @property
    def splits(self):
        """True when the output is lifter estimate + image corrections (see above)."""
        return self.keypoint_lifter is not None and self.config.pose_head.type == 'lifted'

    def corrections(self, tokens):
        """Return the heads' corrections: root6d, body6d (B, 23, 6), betas, camera (float32)."""
        return {'root6d': self.heads['root'](tokens[:, :, 0]).float(),
                'body6d': self.heads['pose'](tokens[:, :, 1]).float().view(-1, 23, 6),
                'betas': self.heads['betas'](tokens[:, :, -2]).float(),
                'camera': self.heads['camera'](tokens[:, :, -1]).float()}

    def image_corrections(self, images, keypoints, valid):
        """The image's corrections for B crops (keypoints sanitised as `forward` does)."""
        back = self.backbone(images, keypoints, valid, self.heatmaps(keypoints, valid))
        tokens, _ = self.regressor(back['features'])
        return self.corrections(tokens)

    def combine(self, lifted, corrections):
        """DPMeshOutput of the lifter's estimate plus the corrections (lifted profiles)."""
        cfg = self.config
        # Geometry in float32 whatever the network runs in (fp16 on GPU).
        root = rot6d_interleaved_to_matrix(lifted['root6d'].float() + corrections['root6d'])
        body_rot = rot6d_interleaved_to_matrix(lifted['body6d'].float()
                                               + corrections['body6d'])
        out = parameters_output(root, body_rot, lifted['betas'].float() + corrections['betas'],
                                lifted['camera'].float() + corrections['camera'],
                                cfg.camera_mode, cfg.authors_camera_3d_size)
        out.lifter_features = lifted.get('hidden')
        return out

    def _decode_tokens(self, tokens, lifted=None):
        """Parameter tokens (L, B, P, d) (+ the lifter's estimate) -> pose, betas, camera."""
        cfg = self.config
        if lifted is not None and cfg.pose_head.type == 'lifted':
            return self.combine(lifted, self.corrections(tokens))
        # Geometry in float32 whatever the network runs in (fp16 on GPU).
        root6d = self.heads['root'](tokens[:, :, 0]).float()
        betas = self.heads['betas'](tokens[:, :, -2]).float()
        raw_cam = self.heads['camera'](tokens[:, :, -1]).float()
        if lifted is not None:
            root6d = root6d + lifted['root6d'].float()
            betas = betas + lifted['betas'].float()
            raw_cam = raw_cam + lifted['camera'].float()
        root = rot6d_interleaved_to_matrix(root6d)
        logits = None
        if cfg.pose_head.type == 'vqvae':
            t = cfg.pose_head.vqvae.num_tokens
            logits = self.heads['pose'](tokens[:, :, 1:1 + t])          # (B, T, N)
            body_rot = self.pose_prior.decode_probs(logits.softmax(-1))
            body_rot = body_rot[:, -23:].float()                       # drop a decoded root
        else:
            code = self.heads['pose'](tokens[:, :, 0])
            body_rot = self.pose_prior(code)                           # (B, 21, 3, 3)
            eye = torch.eye(3, device=code.device, dtype=body_rot.dtype)
            body_rot = torch.cat([body_rot, eye.expand(body_rot.shape[0], 2, 3, 3)], 1)
        out = parameters_output(root, body_rot, betas, raw_cam, cfg.camera_mode,
                                cfg.authors_camera_3d_size)
        out.pose_logits = logits
        out.lifter_features = None if lifted is None else lifted['hidden']
        return out

    def pose_body(self, out, cameras, body):
        """Fill translation, vertices, joints (camera frame) and their crop projections."""
        return pose_body(out, cameras, body, self.config.crop_size)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, directory, full=False):
        """A checkpoint folder (config.json, model.safetensors, meta.json; dpmesh.checkpoint)."""
        from .checkpoint import save_pretrained
        return save_pretrained(self, directory, full=full)

    @classmethod
    def from_pretrained(cls, directory, overrides=None, device='cpu', defer_backbone=False):
        from .checkpoint import load_pretrained
        return load_pretrained(directory, overrides=overrides, device=device,
                               defer_backbone=defer_backbone)

    # ------------------------------------------------------------------ parameter groups
    def trainable_parameters(self):
        """Names -> parameters that receive gradients (LoRA/UNet, ControlNet, heads...)."""
        return {n: p for n, p in self.named_parameters() if p.requires_grad}
