"""2D affine transforms (N, 2, 3) in OpenCV's convention: `dst = A[:, :2] @ src + A[:, 2]`.

So they can be handed to `cv2.warpAffine`. `apply_affine` works on numpy arrays (float32 out) and
on torch tensors (differentiable), so crops, keypoints and model outputs share one convention.
"""
import numpy as np


def box_to_crop_affine(squares, size):
    """Affines (N, 2, 3) mapping image pixels into `size` x `size` crops of square boxes.

    The square's corner (x1, y1) goes to (0, 0) and its centre to (size/2, size/2), as in
    3DCrowdNet's `gen_trans_from_patch_cv` without rotation.
    """
    squares = np.asarray(squares, np.float32).reshape(-1, 4)
    scale = size / np.maximum(squares[:, 2] - squares[:, 0], 1e-6)
    affine = np.zeros((squares.shape[0], 2, 3), np.float32)
    affine[:, 0, 0] = scale
    affine[:, 1, 1] = scale
    affine[:, :, 2] = -squares[:, :2] * scale[:, None]
    return affine


def invert_affine(affine):
    """Inverse (N, 2, 3) of affines (N, 2, 3)."""
    affine = np.asarray(affine, np.float64)
    lin_inv = np.linalg.inv(affine[:, :, :2])
    shift = -np.einsum('nij,nj->ni', lin_inv, affine[:, :, 2])
    return np.concatenate([lin_inv, shift[:, :, None]], 2).astype(np.float32)


def apply_affine(affine, points):
    """Apply affines (N, 2, 3) to points (N, K, 2); NaN points stay NaN.

    numpy in -> float32 numpy out; torch tensors in -> torch out (differentiable).
    """
    if not isinstance(affine, np.ndarray) and hasattr(affine, 'transpose'):
        return points @ affine[:, :, :2].transpose(1, 2) + affine[:, None, :, 2]
    affine = np.asarray(affine, np.float32)
    points = np.asarray(points, np.float32)
    return np.einsum('nij,nkj->nki', affine[:, :, :2], points) + affine[:, None, :, 2]
