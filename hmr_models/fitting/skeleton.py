"""Keypoints of a posed SMPL-format body from 24 joint transforms: no mesh, with Jacobians.

A body's keypoint k is a regressor row over vertices, and every vertex is skinned (LBS) to the
joints: posed_v = sum_j w_vj A_j [v; 1]. Both are linear, so the regressed keypoint is exactly

    X_k = sum_j ( w_kj o_j + G_j L_kj ),   w_kj = sum_v r_kv w_vj,
    L_kj = sum_v r_kv w_vj v - w_kj J_j     (the keypoint's share on joint j, in j's rest frame)

with G_j, o_j the global rotation and position of joint j and J_j its rest position. Both
w_kj L_kj and J are linear in betas. So a keypoint needs forward kinematics of 24 joints
instead of skinning ~6,900 vertices, and derivatives follow in closed form: a rotation
exp(delta) applied at joint i (in its own frame) moves X_k by -[S_ki]x G_i delta, where
S_ki = sum over the descendants j of i (itself included) of (w_kj o_j + G_j L_kj) - (sum w_kj) o_i.
Only the pose blend shapes (a few millimetres) are left out.
"""
from dataclasses import dataclass

import numpy as np

from hmr_models.skeleton import SMPL24_PARENTS

from . import so3


@dataclass
class Posed:
    """Forward kinematics of N bodies (numpy float64).

    glob (N, 24, 3, 3) global joint rotations, origin (N, 24, 3) joint positions (translation
    included), terms (N, P, 3) each (keypoint, joint) pair's contribution (the pairs with a
    share, KeypointSkeleton.pair_*), keypoints (N, K, 3) = the terms summed per keypoint, rest
    (N, 24, 3) rest joints of the betas.
    """

    glob: np.ndarray
    origin: np.ndarray
    terms: np.ndarray
    keypoints: np.ndarray
    rest: np.ndarray


class KeypointSkeleton:
    """Keypoints of a body (e.g. COCO-17) as a function of SMPL pose, betas and translation.

    Build with :meth:`from_body` (a :class:`hmr_models.body.BodyModel`) or from arrays.
    """

    def __init__(self, v_template, shapedirs, j_regressor, weights, regressor,
                 parents=SMPL24_PARENTS, min_weight=1e-3):
        v = np.asarray(v_template, np.float64)
        s = np.asarray(shapedirs, np.float64)                    # (V, 3, B)
        jreg = np.asarray(j_regressor, np.float64)               # (24, V)
        w = np.asarray(weights, np.float64)                      # (V, 24)
        reg = np.asarray(regressor, np.float64)                  # (K, V)
        self.parents = np.asarray(parents, np.int64)
        self.num_joints = len(self.parents)
        self.num_betas = s.shape[-1]
        self.rest = jreg @ v                                     # (24, 3)
        self.rest_dirs = np.einsum('jv,vcb->jcb', jreg, s)       # (24, 3, B)
        share = reg @ w                                          # (K, 24)
        keep = share >= min_weight                               # drop negligible shares
        norm = (share * keep).sum(1)[:, None]
        self.share = np.where(keep, share, 0.0) / norm
        # sum_v r_kv w_vj v (and its shape directions), renormalised like the shares
        weighted = np.einsum('kv,vj,vc->kjc', reg, w, v) * (keep / norm)[..., None]
        weighted_dirs = np.einsum('kv,vj,vcb->kjcb', reg, w, s) * (keep / norm)[..., None, None]
        # the keypoint's share on joint j, relative to that joint's rest position
        self.local = weighted - self.share[..., None] * self.rest[None]
        self.local_dirs = weighted_dirs - self.share[..., None, None] * self.rest_dirs[None]
        anc = np.zeros((self.num_joints, self.num_joints), bool)  # anc[i, j]: i on j's chain
        for j in range(self.num_joints):
            i = j
            while i >= 0:
                anc[i, j] = True
                i = int(self.parents[i])
        self.chain = anc.astype(np.float64)
        depth = anc.sum(0) - 1                                   # root 0
        # joints grouped by depth: forward kinematics runs level by level (9 steps for SMPL)
        self.levels = [np.flatnonzero(depth == d) for d in range(1, depth.max() + 1)]
        self.bone = self.rest - np.where(self.parents[:, None] >= 0,
                                         self.rest[np.maximum(self.parents, 0)], 0.0)
        self.bone_dirs = self.rest_dirs - np.where(
            self.parents[:, None, None] >= 0, self.rest_dirs[np.maximum(self.parents, 0)], 0.0)
        # (K, 24_i): the keypoint's share on joint i and its descendants
        self.share_below = self.share @ self.chain.T
        # Sparse form: only the (keypoint, joint) pairs with a share (a few per keypoint).
        self.pair_kp, self.pair_joint = np.nonzero(self.share)
        npairs = len(self.pair_kp)
        self.pair_share = self.share[self.pair_kp, self.pair_joint]
        self.pair_local = self.local[self.pair_kp, self.pair_joint]              # (P, 3)
        self.pair_local_dirs = self.local_dirs[self.pair_kp, self.pair_joint]    # (P, 3, B)
        gather = np.zeros((self.num_keypoints, npairs))
        gather[self.pair_kp, np.arange(npairs)] = 1.0
        self.pair_sum = gather                                                   # (K, P)
        # (K * 24_i, P): pair p counts for keypoint k at joint i when i is on its joint's chain
        below = np.zeros((self.num_keypoints, self.num_joints, npairs))
        below[self.pair_kp, :, np.arange(npairs)] = self.chain[:, self.pair_joint].T
        self.pair_below = below.reshape(-1, npairs)

    @classmethod
    def from_body(cls, body, keypoints='coco17'):
        """From a BodyModel (its template, shape directions, joints, skinning and regressor)."""
        smpl = body.smpl
        t = lambda x: x.detach().cpu().numpy()  # noqa: E731
        return cls(t(smpl.v_template), t(smpl.shapedirs), t(smpl.J_regressor),
                   t(smpl.lbs_weights), body.regressor(keypoints), body.parents)

    @property
    def num_keypoints(self):
        return self.local.shape[0]

    def pose(self, rotmats, betas, transl):
        """Forward kinematics: local rotations (N, 24, 3, 3), betas (N, B), transl (N, 3)."""
        betas = np.asarray(betas, np.float64)
        rest = self.rest[None] + np.einsum('jcb,nb->njc', self.rest_dirs, betas)
        local = self.pair_local[None] + np.einsum('pcb,nb->npc', self.pair_local_dirs, betas)
        n = rotmats.shape[0]
        bone = self.bone[None] + np.einsum('jcb,nb->njc', self.bone_dirs, betas)
        glob = np.empty((n, self.num_joints, 3, 3))
        origin = np.empty((n, self.num_joints, 3))
        glob[:, 0] = rotmats[:, 0]
        origin[:, 0] = rest[:, 0] + transl
        for idx in self.levels:
            par = self.parents[idx]
            glob[:, idx] = glob[:, par] @ rotmats[:, idx]
            origin[:, idx] = origin[:, par] + (glob[:, par] @ bone[:, idx, :, None])[..., 0]
        joint = self.pair_joint
        terms = (self.pair_share[None, :, None] * origin[:, joint]
                 + (glob[:, joint] @ local[..., None])[..., 0])                 # (N, P, 3)
        return Posed(glob, origin, terms, self.pair_sum @ terms, rest)

    def rotation_jacobian(self, posed, right=None):
        """d keypoints / d delta_i (N, K, 24, 3, 3) for rotations exp(delta_i) right-applied.

        right (N, 24, 3, 3), optional: multiplied on the right (e.g. J_r(phi) for d / d phi).
        """
        n = posed.terms.shape[0]
        below = (self.pair_below @ posed.terms).reshape(n, self.num_keypoints, self.num_joints, 3)
        arm = below - self.share_below[None, ..., None] * posed.origin[:, None]   # S (N,K,24,3)
        frame = posed.glob if right is None else posed.glob @ right
        return -(so3.skew(arm) @ frame[:, None])

    def shape_jacobian(self, posed):
        """d keypoints / d betas (N, K, 3, B) at fixed rotations (keypoints are linear in betas)."""
        n = posed.glob.shape[0]
        b = self.num_betas
        # each bone's shape directions turned by its parent's rotation, summed along the chain
        parent_rot = posed.glob[:, np.maximum(self.parents, 0)]
        parent_rot[:, 0] = np.eye(3)
        moved_bones = parent_rot @ self.bone_dirs[None]                    # (N, 24, 3, B)
        origin = (self.chain.T @ moved_bones.reshape(n, self.num_joints, -1)).reshape(
            n, self.num_joints, 3, b)
        n_k = self.num_keypoints
        moved = posed.glob[:, self.pair_joint] @ self.pair_local_dirs[None]      # (N, P, 3, B)
        moved = (self.pair_sum @ moved.reshape(n, -1, 3 * b)).reshape(n, n_k, 3, b)
        return (self.share @ origin.reshape(n, self.num_joints, -1)).reshape(n, n_k, 3, b) + moved
