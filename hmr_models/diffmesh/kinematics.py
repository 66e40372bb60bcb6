"""Joints from SMPL parameters without the mesh: a linear rest-joint model plus forward kinematics.

SMPL's rest joints are J_regressor @ (v_template + shapedirs @ betas): linear in betas. So any
body model is summarised for its 24 joints by J0 (24, 3) and J_dirs (B_n, 24, 3), and the posed
joints follow from forward kinematics along SMPL24_PARENTS. This is what the temporal model's
joint loss and the smoothers' output joints need, at a fraction of the cost of skinning 6890
vertices, and it needs no body file at run time (the buffers travel with the checkpoint).
"""
import numpy as np
import torch
from torch import nn

from hmr_models.geometry.kinematics import forward_kinematics
from hmr_models.geometry.rotations import axis_angle_to_matrix
from hmr_models.types import NUM_BETAS, NUM_JOINTS


class JointModel(nn.Module):
    """Rest joints linear in betas, and posed joints by forward kinematics.

    Buffers: `rest` (24, 3) at betas = 0 and `shape_dirs` (num_betas, 24, 3), in metres.
    """

    def __init__(self, rest, shape_dirs):
        super().__init__()
        rest = torch.as_tensor(np.asarray(rest, np.float32))
        shape_dirs = torch.as_tensor(np.asarray(shape_dirs, np.float32))
        if rest.shape != (NUM_JOINTS, 3) or shape_dirs.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(f'JointModel needs rest (24, 3) and shape_dirs (B, 24, 3), got '
                             f'{tuple(rest.shape)} and {tuple(shape_dirs.shape)}')
        self.register_buffer('rest', rest)
        self.register_buffer('shape_dirs', shape_dirs)

    @property
    def num_betas(self):
        return int(self.shape_dirs.shape[0])

    @classmethod
    @torch.no_grad()
    def from_body_model(cls, body):
        """Summarise a BodyModel (hmr_models.body) by probing it at zero pose.

        One forward at betas = 0 and one per unit beta: exact for SMPL-format bodies, whose
        rest joints are linear in betas.
        """
        nb = int(getattr(body, 'num_betas', NUM_BETAS))
        betas = torch.cat([torch.zeros(1, nb), torch.eye(nb)], 0)
        pose = torch.zeros(nb + 1, 72)
        tensors = list(body.parameters()) + list(body.buffers())
        device = tensors[0].device if tensors else torch.device('cpu')
        joints = body(pose.to(device), betas.to(device), None).joints[:, :NUM_JOINTS]
        joints = joints.detach().cpu().float()
        return cls(joints[0], joints[1:] - joints[:1])

    @classmethod
    def from_rest_joints(cls, rest, num_betas=NUM_BETAS):
        """A shape-less model (betas do not move the joints): for tests and fallbacks."""
        return cls(rest, np.zeros((num_betas, NUM_JOINTS, 3), np.float32))

    def rest_joints(self, betas):
        """(..., num_betas) -> (..., 24, 3)."""
        nb = min(self.num_betas, betas.shape[-1])
        return self.rest + torch.einsum('...b,bjk->...jk', betas[..., :nb], self.shape_dirs[:nb])

    def forward(self, rotmats, betas, translation=None):
        """(..., 24, 3, 3) rotations, (..., B) betas, (..., 3) translation -> (..., 24, 3)."""
        joints = forward_kinematics(rotmats, self.rest_joints(betas))
        if translation is not None:
            joints = joints + translation[..., None, :]
        return joints

    def from_axis_angle(self, pose, betas, translation=None):
        """(..., 72) axis-angle pose -> (..., 24, 3) joints."""
        rot = axis_angle_to_matrix(pose.reshape(pose.shape[:-1] + (NUM_JOINTS, 3)))
        return self(rot, betas, translation)


def synthetic_rest_joints():
    """An SMPL-like neutral rest skeleton (metres, y up, pelvis near the origin).

    Proportions of an adult of ~1.7 m; used when no body model is at hand (tests, and models
    trained before the body layer existed). A real body's JointModel replaces it.
    """
    j = np.zeros((NUM_JOINTS, 3), np.float32)
    j[0] = (0.0, 0.0, 0.0)          # pelvis
    j[1] = (0.07, -0.09, 0.0)       # left hip (SMPL's left is +x)
    j[2] = (-0.07, -0.09, 0.0)
    j[3] = (0.0, 0.11, -0.02)       # spine1
    j[4] = (0.11, -0.47, 0.0)       # knees
    j[5] = (-0.11, -0.47, 0.0)
    j[6] = (0.0, 0.25, 0.0)         # spine2
    j[7] = (0.08, -0.87, -0.04)     # ankles
    j[8] = (-0.08, -0.87, -0.04)
    j[9] = (0.0, 0.30, 0.02)        # spine3
    j[10] = (0.12, -0.93, 0.08)     # feet
    j[11] = (-0.12, -0.93, 0.08)
    j[12] = (0.0, 0.51, -0.01)      # neck
    j[13] = (0.08, 0.42, -0.0)      # collars
    j[14] = (-0.08, 0.42, -0.0)
    j[15] = (0.0, 0.58, 0.04)       # head
    j[16] = (0.18, 0.44, -0.02)     # shoulders
    j[17] = (-0.18, 0.44, -0.02)
    j[18] = (0.44, 0.44, -0.04)     # elbows (T-pose)
    j[19] = (-0.44, 0.44, -0.04)
    j[20] = (0.69, 0.44, -0.04)     # wrists
    j[21] = (-0.69, 0.44, -0.04)
    j[22] = (0.77, 0.44, -0.05)     # hands
    j[23] = (-0.77, 0.44, -0.05)
    return j
