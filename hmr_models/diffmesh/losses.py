"""DiffMesh training losses (TCMR-style weights, from DiffMeshConfig)."""
import torch

from hmr_models.types import NUM_JOINTS
from hmr_models.geometry.rotations import axis_angle_to_matrix


def _masked_mean(values, mask):
    """Mean of `values` (B, T, ...) over frames, weighted by mask (B, T) (0 = left out)."""
    per_frame = values.reshape(values.shape[0], values.shape[1], -1).mean(-1)
    return (per_frame * mask).sum() / mask.sum().clamp_min(1.0)


def diffmesh_losses(output, target_pose, target_betas, target_translation, mask, joint_model,
                    config):
    """Weighted losses of one batch of refined windows.

    Args:
        output: DiffMeshOutput.
        target_pose: (B, T, 72) ground-truth axis-angle pose.
        target_betas: (B, nb) or (B, T, nb) ground-truth betas.
        target_translation: (B, T, 3) ground-truth translation (metres).
        mask: (B, T) 1 where the frame has ground truth (0: padding before a track started).
            The newest frame's weight is raised by config.loss_newest_frame.
        joint_model: hmr_models.diffmesh.kinematics.JointModel of the training body.
        config: DiffMeshConfig (loss_* weights).
    Returns:
        (total loss, dict of unweighted terms as floats for logging).
    """
    b, t = target_pose.shape[:2]
    mask = mask.float()
    if config.loss_newest_frame > 0:
        # Frame weights (not a mask any more): the newest frame counts 1 + loss_newest_frame.
        boost = torch.ones(t, device=mask.device)
        boost[-1] += config.loss_newest_frame
        weight = mask * boost
    else:
        weight = mask
    gt_rot = axis_angle_to_matrix(target_pose.reshape(b, t, NUM_JOINTS, 3))
    if target_betas.ndim == 3:
        target_betas = target_betas[:, 0]
    nb = output.betas.shape[-1]
    target_betas = target_betas[..., :nb]
    terms = {}
    terms['pose'] = _masked_mean((output.rotmats - gt_rot) ** 2, weight)
    terms['betas'] = ((output.betas - target_betas) ** 2).mean()
    # Joints from the predicted shape and pose vs ground truth, root-relative (as TCMR).
    pred_j = joint_model(output.rotmats, output.betas[:, None].expand(-1, t, -1))
    gt_j = joint_model(gt_rot, target_betas[:, None].expand(-1, t, -1))
    pred_rel = pred_j - pred_j[..., :1, :]
    gt_rel = gt_j - gt_j[..., :1, :]
    terms['joints'] = _masked_mean((pred_rel - gt_rel) ** 2, weight)
    err = output.translation - target_translation
    w = mask / mask.sum(1, keepdim=True).clamp_min(1.0)
    offset = (err * w[..., None]).sum(1, keepdim=True)  # the window-constant part
    terms['translation'] = _masked_mean((err - offset) ** 2, weight)
    terms['translation_abs'] = _masked_mean(err ** 2, weight)
    if config.loss_joint_velocity > 0:
        pair = mask[:, 1:] * mask[:, :-1]
        vel_p = pred_rel[:, 1:] - pred_rel[:, :-1]
        vel_g = gt_rel[:, 1:] - gt_rel[:, :-1]
        terms['joint_velocity'] = _masked_mean((vel_p - vel_g) ** 2, pair)
    terms['cond'] = ((output.cond_pred - output.cond_target) ** 2).mean()
    weights = {'pose': config.loss_pose, 'betas': config.loss_betas,
               'joints': config.loss_joints, 'translation': config.loss_translation,
               'translation_abs': config.loss_translation_abs,
               'joint_velocity': config.loss_joint_velocity, 'cond': config.loss_cond}
    total = sum(weights[k] * v for k, v in terms.items())
    return total, {k: float(v.detach()) for k, v in terms.items()}
