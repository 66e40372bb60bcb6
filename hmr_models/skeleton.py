"""Joint and keypoint vocabularies shared by every stage: names, trees and left/right flips."""
import numpy as np

COCO17_NAMES = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hip', 'right_hip',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
)
# Limbs drawn for a 2D skeleton (pairs of COCO-17 indices).
COCO17_EDGES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)

SMPL24_NAMES = (
    'pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee', 'spine2',
    'left_ankle', 'right_ankle', 'spine3', 'left_foot', 'right_foot', 'neck',
    'left_collar', 'right_collar', 'head', 'left_shoulder', 'right_shoulder',
    'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hand', 'right_hand',
)
# Parent of each SMPL joint (-1 for the root), SMPL's kinematic tree.
SMPL24_PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
    dtype=np.int64)

H36M17_NAMES = (
    'pelvis', 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle',
    'spine', 'thorax', 'neck_nose', 'head', 'left_shoulder', 'left_elbow', 'left_wrist',
    'right_shoulder', 'right_elbow', 'right_wrist',
)


def flip_permutation(names):
    """Index permutation that swaps every left_* name with its right_* twin."""
    index = {n: i for i, n in enumerate(names)}
    perm = []
    for n in names:
        if n.startswith('left_'):
            perm.append(index['right_' + n[5:]])
        elif n.startswith('right_'):
            perm.append(index['left_' + n[6:]])
        else:
            perm.append(index[n])
    return np.array(perm, dtype=np.int64)


COCO17_FLIP = flip_permutation(COCO17_NAMES)
SMPL24_FLIP = flip_permutation(SMPL24_NAMES)
H36M17_FLIP = flip_permutation(H36M17_NAMES)


def mirror_pose(pose):
    """Left/right mirror image (x -> -x) of SMPL axis-angle poses (..., 72), same dtype.

    Each joint takes its twin's rotation with the y and z axis components negated (a
    reflection of x conjugates a rotation that way).
    """
    pose = np.asarray(pose)
    aa = pose.reshape(pose.shape[:-1] + (24, 3))[..., SMPL24_FLIP, :]
    return (aa * np.array([1.0, -1.0, -1.0], pose.dtype)).reshape(pose.shape)
