"""Keypoint vocabularies of the public datasets and their mapping onto COCO-17 (by name)."""
import numpy as np

from hmr_models.skeleton import COCO17_NAMES, SMPL24_NAMES

# OpenPose BODY_18 (COCO-18), as in 3DPW's `poses2d` (3 x 18: x, y, confidence).
OPENPOSE18_NAMES = (
    'nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder',
    'left_elbow', 'left_wrist', 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee',
    'left_ankle', 'right_eye', 'left_eye', 'right_ear', 'left_ear')
# CrowdPose's 14 keypoints.
CROWDPOSE14_NAMES = (
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
    'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle', 'head_top',
    'neck')
# The 24 joints of SPIN's preprocessed npz files (`part`, `S`): LSP 14 + MPII/H36M extras + face.
SPIN24_NAMES = (
    'right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee', 'left_ankle',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist',
    'neck', 'head_top', 'pelvis', 'thorax', 'spine', 'jaw', 'head', 'nose', 'left_eye',
    'right_eye', 'left_ear', 'right_ear')
FORMATS = {'coco17': COCO17_NAMES, 'openpose18': OPENPOSE18_NAMES,
           'crowdpose14': CROWDPOSE14_NAMES, 'spin24': SPIN24_NAMES, 'smpl24': SMPL24_NAMES}


def remap(points, valid, src, dst='coco17'):
    """Points (..., J, D) + valid (..., J) in format `src` -> format `dst` by joint name.

    Joints `dst` has but `src` lacks come back as zeros with valid False.
    """
    src_names, dst_names = FORMATS[src], FORMATS[dst]
    points = np.asarray(points, np.float32)
    valid = np.asarray(valid, bool)
    out = np.zeros(points.shape[:-2] + (len(dst_names), points.shape[-1]), np.float32)
    ok = np.zeros(points.shape[:-2] + (len(dst_names),), bool)
    index = {n: i for i, n in enumerate(src_names)}
    for j, name in enumerate(dst_names):
        i = index.get(name)
        if i is not None:
            out[..., j, :] = points[..., i, :]
            ok[..., j] = valid[..., i]
    return out, ok
