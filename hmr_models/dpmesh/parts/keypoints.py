"""Keypoint sets DPMesh can be conditioned on, and the maps from the front-end's COCO-17.

`coco17`: the front-end's keypoints as they are (K = 17).
`dpmesh30`: the authors' 30 joints (SMPL's 24 + nose, eyes, ears, head top), used by their
released checkpoints. From COCO-17 the shared joints are copied by name, pelvis and neck are the
hip / shoulder midpoints (as their data loaders add them), the rest are marked missing.

The map is a (K, 17) averaging matrix, so numpy and torch (batched, on any device) share it.
"""
import numpy as np

from hmr_models.skeleton import COCO17_NAMES, SMPL24_NAMES

DPMESH30_NAMES = SMPL24_NAMES + ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
                                 'head_top')
KEYPOINT_SET_NAMES = {'coco17': COCO17_NAMES, 'dpmesh30': DPMESH30_NAMES}
# Midpoint joints: name -> the two COCO keypoints averaged.
_MIDPOINTS = {'pelvis': ('left_hip', 'right_hip'), 'neck': ('left_shoulder', 'right_shoulder')}


def coco17_matrix(keypoint_set):
    """(K, 17) float32: row k averages the COCO-17 keypoints that make keypoint k."""
    if keypoint_set not in KEYPOINT_SET_NAMES:
        raise ValueError(f"unknown keypoint_set '{keypoint_set}'; known: "
                         f'{tuple(KEYPOINT_SET_NAMES)}')
    names = KEYPOINT_SET_NAMES[keypoint_set]
    coco = {n: i for i, n in enumerate(COCO17_NAMES)}
    m = np.zeros((len(names), 17), np.float32)
    for k, name in enumerate(names):
        if name in coco:
            m[k, coco[name]] = 1.0
        elif name in _MIDPOINTS:
            for parent in _MIDPOINTS[name]:
                m[k, coco[parent]] = 0.5
    return m


def from_coco17(keypoints, valid, keypoint_set):
    """COCO-17 keypoints (N, 17, 2) + valid (N, 17) -> the set's (N, K, 2), (N, K).

    A keypoint is valid when every COCO keypoint it is made of is. Numpy or torch in, same out;
    missing keypoints come back as 0 (numpy: NaN) with valid False.
    """
    m = coco17_matrix(keypoint_set)
    try:
        import torch
        if isinstance(keypoints, torch.Tensor):
            mt = torch.as_tensor(m, device=keypoints.device, dtype=keypoints.dtype)
            valid = valid.bool() & torch.isfinite(keypoints).all(-1)
            kp = torch.einsum('kj,njd->nkd', mt, torch.nan_to_num(keypoints))
            uses = mt > 0
            ok = ((~valid[:, None, :] & uses[None]).sum(-1) == 0) & uses.any(-1)[None]
            return kp * ok[..., None].to(kp.dtype), ok
    except ImportError:   # pragma: no cover - torch is a requirement
        pass
    keypoints = np.asarray(keypoints, np.float32)
    valid = np.asarray(valid, bool) & np.isfinite(keypoints).all(-1)
    kp = np.einsum('kj,njd->nkd', m, np.nan_to_num(keypoints))
    uses = m > 0
    ok = ((~valid[:, None, :] & uses[None]).sum(-1) == 0) & uses.any(-1)[None]
    return np.where(ok[..., None], kp, np.nan).astype(np.float32), ok


def flip_permutation(keypoint_set):
    """Index permutation that swaps left/right keypoints of the set."""
    from hmr_models.skeleton import flip_permutation as perm
    return perm(KEYPOINT_SET_NAMES[keypoint_set])


def scores_from_coco17(scores, keypoint_set):
    """COCO-17 keypoint scores (N, 17) -> the set's (N, K); numpy or torch.

    A keypoint scores the lowest of the COCO keypoints it is made of (0 for keypoints COCO-17
    does not have).
    """
    uses = coco17_matrix(keypoint_set) > 0
    try:
        import torch
        if isinstance(scores, torch.Tensor):
            u = torch.as_tensor(uses, device=scores.device)
            s = torch.where(u[None], torch.nan_to_num(scores)[:, None, :], torch.inf).amin(-1)
            return torch.where(u.any(-1)[None], s, torch.zeros_like(s))
    except ImportError:   # pragma: no cover - torch is a requirement
        pass
    s = np.where(uses[None], np.nan_to_num(np.asarray(scores, np.float32))[:, None, :], np.inf)
    return np.where(uses.any(-1)[None], s.min(-1), 0.0).astype(np.float32)
