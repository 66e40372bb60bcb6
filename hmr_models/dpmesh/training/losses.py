"""DPMesh training losses: 2D reprojection, 3D joints, SMPL parameters, NKR distillation.

Weights (config `loss`): 2D 5.0, 3D 2.0, SMPL 1.0, NKR 0.1, as in the paper. Units: 2D terms
in crop-normalised coordinates (the crop spans [0, 1]), 3D terms in metres after aligning the
pelvis, SMPL terms on rotation matrices (pose) and raw betas. Every term is a masked mean, so a
batch without a kind of label contributes 0 for it (not NaN).

Batch keys used (torch, B samples; any may be absent):
    keypoints2d (B, 17, 2) + keypoints2d_valid (B, 17)   ground-truth COCO-17, crop-normalised
    joints2d (B, 24, 2) + joints2d_valid (B, 24)         SMPL joints, crop-normalised
    joints3d (B, 24, 3) + joints3d_valid (B, 24)         SMPL joints, camera frame, metres
    keypoints3d (B, 17, 3) + keypoints3d_valid (B, 17)   COCO-17 in 3D (hip-centred)
    pose (B, 72) + betas (B, 10) + has_smpl (B,)         SMPL parameters (camera frame)
"""
import torch
from torch import nn
import torch.nn.functional as F

from hmr_models.skeleton import SMPL24_NAMES

from hmr_models.geometry.rotations import axis_angle_to_matrix


def masked_l1(pred, target, mask):
    """Mean |pred - target| over the entries where mask (broadcast to pred[..., 0]) is set."""
    mask = mask.to(pred.dtype)
    while mask.dim() < pred.dim():
        mask = mask[..., None]
    mask = mask.expand_as(pred)
    denom = mask.sum()
    if denom <= 0:
        return pred.sum() * 0.0
    return ((pred - target).abs() * mask).sum() / denom


def joint_volume_targets(joints2d, joints3d, joint_index, depth_range):
    """Regressor targets (B, J, 3) in [0, 1]: crop xy and pelvis-relative depth."""
    xy = joints2d[:, joint_index]
    z = joints3d[:, joint_index, 2] - joints3d[:, :1, 2]
    z = (z / depth_range + 0.5).clamp(0.0, 1.0)
    return torch.cat([xy, z[..., None]], -1)


def regressor_joint_index(joint_names):
    return [SMPL24_NAMES.index(n) for n in joint_names]


def token_loss(logits, targets, mask):
    """Cross-entropy of pose-token logits (B, T, N) against codebook indices (B, T)."""
    ce = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction='none')
    m = mask.to(ce.dtype)[:, None].expand(targets.shape).flatten()
    return (ce * m).sum() / m.sum().clamp_min(1.0)


def pose_token_targets(prior, pose):
    """The frozen VQ-VAE's codebook indices (B, T) of ground-truth poses (B, 72)."""
    b = pose.shape[0]
    rot = axis_angle_to_matrix(pose.view(b, 24, 3))[:, 24 - prior.cfg.num_joints:]
    with torch.no_grad():
        return prior.nearest(prior.encode(rot.to(prior.codebook.dtype)))


def dpmesh_losses(out, batch, cfg, joint_names, depth_range, token_targets=None):
    """Weighted loss and its parts for one DPMeshOutput against a batch.

    token_targets: optional (B, T) codebook indices of the ground-truth pose (VQ-VAE head;
    see `pose_token_targets`), supervising the token classifier directly (PCT-style).
    """
    parts = {}
    zero = out.pose.sum() * 0.0
    device = out.pose.device
    b = out.pose.shape[0]
    idx = regressor_joint_index(joint_names)
    ones = torch.ones(b, device=device, dtype=torch.bool)

    # ---- 2D: reprojected SMPL joints and COCO keypoints, regressor joint xy
    loss_2d = zero
    if out.joints2d is not None and 'joints2d' in batch:
        parts['joints2d'] = masked_l1(out.joints2d, batch['joints2d'], batch['joints2d_valid'])
        loss_2d = loss_2d + parts['joints2d']
    if out.keypoints2d is not None and 'keypoints2d' in batch:
        parts['keypoints2d'] = masked_l1(out.keypoints2d, batch['keypoints2d'],
                                         batch['keypoints2d_valid'])
        loss_2d = loss_2d + parts['keypoints2d']
    if 'joints2d' in batch and out.joint_coords is not None:
        parts['volume_xy'] = masked_l1(out.joint_coords[..., :2], batch['joints2d'][:, idx],
                                       batch['joints2d_valid'][:, idx])
        loss_2d = loss_2d + cfg.w_joint_volume * parts['volume_xy']

    # ---- 3D: pelvis-aligned SMPL joints, hip-centred COCO keypoints, regressor depth
    loss_3d = zero
    if out.joints is not None and 'joints3d' in batch:
        ok = batch['joints3d_valid'].bool() & batch['joints3d_valid'][:, :1].bool()
        pred = out.joints - out.joints[:, :1]
        gt = batch['joints3d'] - batch['joints3d'][:, :1]
        parts['joints3d'] = masked_l1(pred, gt, ok)
        loss_3d = loss_3d + parts['joints3d']
    if out.keypoints3d is not None and 'keypoints3d' in batch:
        valid = batch['keypoints3d_valid'].bool()
        ok = valid & valid[:, 11:12] & valid[:, 12:13]
        mid = lambda x: 0.5 * (x[:, 11:12] + x[:, 12:13])  # noqa: E731  (hip centre)
        parts['keypoints3d'] = masked_l1(out.keypoints3d - mid(out.keypoints3d),
                                         batch['keypoints3d'] - mid(batch['keypoints3d']), ok)
        loss_3d = loss_3d + parts['keypoints3d']
    if 'joints3d' in batch and 'joints2d' in batch and out.joint_coords is not None:
        target = joint_volume_targets(batch['joints2d'], batch['joints3d'], idx, depth_range)
        valid = batch['joints3d_valid'].bool()
        parts['volume_z'] = masked_l1(out.joint_coords[..., 2:], target[..., 2:],
                                      valid[:, idx] & valid[:, :1])
        loss_3d = loss_3d + cfg.w_joint_volume * parts['volume_z']

    # ---- SMPL parameters: rotation matrices and betas
    loss_smpl = zero
    if 'pose' in batch:
        has_smpl = batch.get('has_smpl', ones).to(device)
        gt_rot = axis_angle_to_matrix(batch['pose'].view(b, 24, 3))
        parts['pose'] = masked_l1(out.rotmats.flatten(-2), gt_rot.flatten(-2),
                                  has_smpl[:, None].expand(b, 24))
        loss_smpl = loss_smpl + parts['pose']
        if 'betas' in batch:
            parts['betas'] = masked_l1(out.betas, batch['betas'], has_smpl)
            loss_smpl = loss_smpl + cfg.w_betas * parts['betas']
        if token_targets is not None and out.pose_logits is not None:
            parts['tokens'] = token_loss(out.pose_logits, token_targets, has_smpl)
            loss_smpl = loss_smpl + cfg.w_tokens * parts['tokens']

    total = cfg.w_2d * loss_2d + cfg.w_3d * loss_3d + cfg.w_smpl * loss_smpl
    parts.update({'loss_2d': loss_2d, 'loss_3d': loss_3d, 'loss_smpl': loss_smpl})
    return total, parts


class NKRLoss(nn.Module):
    """Noisy Keypoint Reasoning: align student features with the frozen teacher's.

    MSE on the fused feature maps plus SimCLR's NT-Xent between pooled, projected features:
    the student's view of sample i must be closer to the teacher's view of sample i than to
    the teacher's views of the other samples in the batch.
    """

    def __init__(self, channels, projection_dim=128, temperature=0.1):
        super().__init__()
        self.projection = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(),
                                        nn.Linear(channels, projection_dim))
        self.temperature = temperature

    def forward(self, student, teacher):
        """student, teacher (B, C, h, w) -> (mse, nce) scalars."""
        teacher = teacher.detach()
        mse = F.mse_loss(student, teacher)
        if student.shape[0] < 2:
            return mse, mse * 0.0
        zs = F.normalize(self.projection(student.mean((2, 3))), dim=-1)
        zt = F.normalize(self.projection(teacher.mean((2, 3))), dim=-1)
        logits = zs @ zt.t() / self.temperature
        target = torch.arange(zs.shape[0], device=zs.device)
        nce = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
        return mse, nce
