"""Motions seen by a camera, with a per-frame estimator's errors: DiffMesh's windows.

A motion (SMPL pose (T, 72) + smplx translation (T, 3) in a y-up world; e.g. the data engine's
``SMPLMotion``) is placed in front of a random camera (camera.person_cameras), its COCO-17
keypoints are projected to pixels, and per-frame estimates are simulated
(estimator_noise.simulate_estimates).
"""
import numpy as np
import torch

from hmr_models.geometry.kinematics import forward_kinematics
from hmr_models.geometry.rotations import axis_angle_to_matrix
from hmr_models.types import NUM_JOINTS, NUM_KEYPOINTS

from .camera import PersonCameraConfig, person_cameras, place_in_camera, project_centred
from .estimator_noise import EstimatorNoiseConfig, simulate_estimates

# COCO-17 body keypoints that are SMPL joints (COCO index -> SMPL index).
COCO_FROM_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 11: 1, 12: 2, 13: 4, 14: 5,
                  15: 7, 16: 8}
# Face keypoints as offsets in the head joint's frame (metres; SMPL axes: x left, y up,
# z forward): nose, left/right eye, left/right ear.
FACE_OFFSETS = np.array([[0.0, 0.02, 0.11], [0.035, 0.05, 0.09], [-0.035, 0.05, 0.09],
                         [0.075, 0.02, 0.0], [-0.075, 0.02, 0.0]], np.float32)
HEAD = 15


def coco_keypoints_3d(joints, head_rot):
    """COCO-17 3D points (..., 17, 3) from SMPL joints and the head's global rotation.

    joints (..., 24, 3), head_rot (..., 3, 3); face points are fixed offsets from the head
    joint.
    """
    out = np.zeros(joints.shape[:-2] + (NUM_KEYPOINTS, 3), np.float32)
    for c, s in COCO_FROM_SMPL.items():
        out[..., c, :] = joints[..., s, :]
    face = np.einsum('...ij,kj->...ki', head_rot, FACE_OFFSETS)
    out[..., :5, :] = joints[..., HEAD:HEAD + 1, :] + face
    return out


def simulate_sequences(pose_w, trans_w, betas, joint_model, fps, rng, camera=None, errors=None):
    """Place B world motions of T frames in front of random cameras and simulate estimates.

    Returns (ground truth dict: pose, trans (camera frame), betas, joints (B, T, 24, 3)),
    and the simulate_estimates dict.
    """
    camera = camera or PersonCameraConfig()
    errors = errors or EstimatorNoiseConfig()
    b, t = pose_w.shape[:2]
    with torch.no_grad():
        rest = joint_model.rest_joints(torch.from_numpy(betas).float()).numpy()  # (B, 24, 3)
    rest_root = rest[:, 0]
    mean_pelvis = (trans_w + rest_root[:, None]).mean(1)
    rotation, centre, focal = person_cameras(mean_pelvis, rng, camera)
    pose_c, trans_c = place_in_camera(pose_w, trans_w, rest_root, rotation, centre)
    with torch.no_grad():
        rot = axis_angle_to_matrix(torch.from_numpy(pose_c.reshape(b, t, NUM_JOINTS, 3)))
        joints, glob = forward_kinematics(rot, torch.from_numpy(rest)[:, None],
                                          return_global=True)
    joints = joints.numpy() + trans_c[..., None, :]
    kp3d = coco_keypoints_3d(joints, glob[..., HEAD, :, :].numpy())
    kp = project_centred(kp3d, focal, camera.image_size)
    # Boxes: the projected skeleton plus a margin, as a person detector would draw them.
    allpts = np.concatenate([kp, project_centred(joints, focal, camera.image_size)], 2)
    lo, hi = allpts.min(2), allpts.max(2)
    margin = (hi - lo) * rng.uniform(0.05, 0.2, (b, 1, 1))
    boxes = np.concatenate([lo - margin, hi + margin], -1).astype(np.float32)
    est = simulate_estimates(pose_c, betas, trans_c, kp, boxes, fps, rng, errors)
    gt = {'pose': pose_c, 'trans': trans_c, 'betas': betas, 'joints': joints.astype(np.float32),
          'keypoints': kp, 'boxes': boxes}
    return gt, est
