"""The 30-joint set DPMesh's conditions use, and the map from our COCO-17 detections onto it.

DPMesh (CVPR 2024) builds on 3DCrowdNet/JOTR: its keypoint heatmaps and keypoint tokens are
over 30 joints, SMPL's 24 in SMPL order (under 3DCrowdNet's names: Torso = spine1, Spine =
spine2, Chest = spine3, Toe = foot, Thorax = collar) followed by nose, eyes, ears and head
top. The 2D detector gives COCO-17; the authors add a pelvis (midpoint of the hips) and a neck
(midpoint of the shoulders) and copy every joint whose name matches, so 19 of the 30 are filled
and the other 11 (torso, spine, chest, toes, thoraxes, head, hands, head top) are always
marked invalid in the input. The 3D targets of the same set come from the mesh
(``BodyModel.regress(vertices, 'dpmesh30')``): SMPL's joint regressor, the face vertices and
the crown.
"""
import numpy as np

from hmr_models.skeleton import COCO17_NAMES, SMPL24_NAMES, SMPL24_PARENTS, flip_permutation

# The authors' spelling, in their order (for reading their checkpoints and annotations).
DPMESH30_SOURCE_NAMES = (
    'Pelvis', 'L_Hip', 'R_Hip', 'Torso', 'L_Knee', 'R_Knee', 'Spine', 'L_Ankle', 'R_Ankle',
    'Chest', 'L_Toe', 'R_Toe', 'Neck', 'L_Thorax', 'R_Thorax', 'Head', 'L_Shoulder',
    'R_Shoulder', 'L_Elbow', 'R_Elbow', 'L_Wrist', 'R_Wrist', 'L_Hand', 'R_Hand', 'Nose',
    'L_Eye', 'R_Eye', 'L_Ear', 'R_Ear', 'Head_top',
)
# The same joints in this package's vocabulary (SMPL names for the first 24).
DPMESH30_NAMES = SMPL24_NAMES + ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
                                 'head_top')
DPMESH30_FLIP = flip_permutation(DPMESH30_NAMES)
# Limbs for drawing: SMPL's tree plus the face.
DPMESH30_EDGES = tuple((int(p), j) for j, p in enumerate(SMPL24_PARENTS) if p >= 0) + tuple(
    (DPMESH30_NAMES.index(a), DPMESH30_NAMES.index(b)) for a, b in (
        ('head', 'nose'), ('nose', 'left_eye'), ('nose', 'right_eye'),
        ('left_eye', 'left_ear'), ('right_eye', 'right_ear'), ('head', 'head_top')))

# COCO-17 index feeding each DPMesh-30 joint (-1: not observed by a COCO detector). pelvis and
# neck are the midpoints of COCO's hips and shoulders (see coco17_to_dpmesh30).
COCO17_TO_DPMESH30 = np.array(
    [COCO17_NAMES.index(n) if n in COCO17_NAMES else -1 for n in DPMESH30_NAMES],
    dtype=np.int64)
_MIDPOINTS = {'pelvis': ('left_hip', 'right_hip'), 'neck': ('left_shoulder', 'right_shoulder')}


def coco17_to_dpmesh30(keypoints, valid):
    """COCO-17 keypoints onto the DPMesh-30 set, the way DPMesh prepares its inputs.

    Args:
        keypoints: (..., 17, D) coordinates (D = 2 or 3); NaN allowed where invalid.
        valid: (..., 17) bool or confidence (> 0 means observed).
    Returns:
        (keypoints (..., 30, D) float32 with 0 where invalid, valid (..., 30) float32 in
        [0, 1]: the COCO confidence, the smaller of the two for pelvis and neck).
    """
    keypoints = np.asarray(keypoints, np.float32)
    valid = np.asarray(valid, np.float32)
    if keypoints.shape[-2] != 17 or valid.shape != keypoints.shape[:-1]:
        raise ValueError(f'expected keypoints (..., 17, D) and valid (..., 17), got '
                         f'{keypoints.shape} and {valid.shape}')
    valid = np.where(np.isfinite(keypoints).all(-1), valid, 0.0)
    shape = keypoints.shape[:-2]
    out = np.zeros(shape + (30, keypoints.shape[-1]), np.float32)
    conf = np.zeros(shape + (30,), np.float32)
    have = COCO17_TO_DPMESH30 >= 0
    out[..., have, :] = keypoints[..., COCO17_TO_DPMESH30[have], :]
    conf[..., have] = valid[..., COCO17_TO_DPMESH30[have]]
    for name, (a, b) in _MIDPOINTS.items():
        ia, ib = COCO17_NAMES.index(a), COCO17_NAMES.index(b)
        j = DPMESH30_NAMES.index(name)
        out[..., j, :] = 0.5 * (keypoints[..., ia, :] + keypoints[..., ib, :])
        conf[..., j] = np.minimum(valid[..., ia], valid[..., ib])
    conf = np.clip(conf, 0.0, 1.0)
    out = np.where(conf[..., None] > 0, np.nan_to_num(out), 0.0).astype(np.float32)
    return out, conf
