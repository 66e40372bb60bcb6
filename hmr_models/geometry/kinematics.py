"""Forward kinematics of joint trees: torch (models, batched, differentiable) and numpy (data).

Both walk the tree once in parent-first order; only the joint loop is in Python, frames and
people are vectorised.
"""
import numpy as np
import torch

from hmr_models.skeleton import SMPL24_PARENTS


def forward_kinematics(rotmats, rest_joints, parents=SMPL24_PARENTS, return_global=False):
    """Posed joint positions (and, optionally, global joint rotations).

    Args:
        rotmats: (..., J, 3, 3) local joint rotations, root first.
        rest_joints: (..., J, 3) rest-pose joint positions (broadcast against rotmats).
        parents: (J,) parent index per joint, -1 for the root; parents come before children.
        return_global: also return the global rotations (..., J, 3, 3).
    Returns:
        (..., J, 3) posed joints; the root stays at its rest position (smplx convention: the
        translation is added afterwards).
    """
    rest_joints = rest_joints.expand(rotmats.shape[:-2] + (3,))
    rel = rest_joints.clone()
    rel[..., 1:, :] = rest_joints[..., 1:, :] - rest_joints[..., parents[1:], :]
    glob_rot = [rotmats[..., 0, :, :]]
    glob_pos = [rest_joints[..., 0, :]]
    for j in range(1, len(parents)):
        p = int(parents[j])
        glob_pos.append(glob_pos[p] + (glob_rot[p] @ rel[..., j, :, None])[..., 0])
        glob_rot.append(glob_rot[p] @ rotmats[..., j, :, :])
    if return_global:
        return torch.stack(glob_pos, -2), torch.stack(glob_rot, -3)
    return torch.stack(glob_pos, -2)


def forward_kinematics_np(parents, rotations, translations):
    """Global rotations and positions of a joint tree.

    Args:
        parents: (J,) parent indices, parents first, -1 for the root(s).
        rotations: (T, J, 3, 3) local rotations.
        translations: (T, J, 3) local translations (root: world position).
    Returns:
        (global_rotations (T, J, 3, 3), positions (T, J, 3)) in the source world frame.
    """
    rot = np.asarray(rotations, np.float64)
    trans = np.asarray(translations, np.float64)
    g_rot = np.empty_like(rot)
    g_pos = np.empty_like(trans)
    for j, p in enumerate(parents):  # loop over joints only; frames are vectorised
        if p < 0:
            g_rot[:, j] = rot[:, j]
            g_pos[:, j] = trans[:, j]
        else:
            g_rot[:, j] = g_rot[:, p] @ rot[:, j]
            g_pos[:, j] = g_pos[:, p] + np.einsum('tab,tb->ta', g_rot[:, p], trans[:, j])
    return g_rot, g_pos
