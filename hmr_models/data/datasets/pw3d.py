"""3DPW (von Marcard et al., ECCV 2018) from its official sequence pickles.

Layout (as distributed): `<root>/sequenceFiles/{train,validation,test}/<sequence>.pkl` and
`<root>/imageFiles/<sequence>/image_XXXXX.jpg`. Each pickle (Python 2, latin-1) holds, per actor:
`poses` (T, 72) and `trans` (T, 3) SMPL in world coordinates, `betas`, `jointPositions`
(T, 72) SMPL joints in world coordinates, `poses2d` (T, 3, 18) OpenPose detections,
`campose_valid` (T,), plus the shared `cam_poses` (T, 4, 4) world->camera, `cam_intrinsics`
(3, 3) and `img_frame_ids` (T,).

Samples (one per valid actor-frame) carry the OpenPose detections as input keypoints (as the
DPMesh/3DCrowdNet test protocol does) and ground truth from SMPL: pose with the global
orientation in the camera frame, joints in the camera frame and projected. The smplx
translation in the camera frame needs the body's rest pelvis: pass `body` to get it.
"""
import logging
from pathlib import Path
import pickle

import numpy as np
from scipy.spatial.transform import Rotation
from torch.utils.data import Dataset

from hmr_models.types import CameraIntrinsics

from .formats import remap
from .sample import box_from_points, crop_sample, read_image_rgb

log = logging.getLogger(__name__)

SPLITS = ('train', 'validation', 'test')


def read_sequence(path):
    """The arrays of one 3DPW sequence pickle that the loader uses (numpy)."""
    with open(path, 'rb') as f:
        seq = pickle.load(f, encoding='latin1')
    need = ('sequence', 'poses', 'trans', 'betas', 'jointPositions', 'poses2d', 'cam_poses',
            'cam_intrinsics', 'img_frame_ids', 'campose_valid')
    missing = [k for k in need if k not in seq]
    if missing:
        raise ValueError(f'{path}: not a 3DPW sequence file (missing {missing})')
    actors = len(seq['poses'])
    return {
        'sequence': str(seq['sequence']),
        'poses': [np.asarray(seq['poses'][a], np.float32) for a in range(actors)],
        'trans': [np.asarray(seq['trans'][a], np.float32) for a in range(actors)],
        'betas': [np.asarray(seq['betas'][a], np.float32).ravel()[:10] for a in range(actors)],
        'joints': [np.asarray(seq['jointPositions'][a], np.float32).reshape(-1, 24, 3)
                   for a in range(actors)],
        'poses2d': [np.asarray(seq['poses2d'][a], np.float32) for a in range(actors)],
        'valid': [np.asarray(seq['campose_valid'][a]).astype(bool) for a in range(actors)],
        'cam_poses': np.asarray(seq['cam_poses'], np.float32),
        'K': np.asarray(seq['cam_intrinsics'], np.float32),
        'frames': np.asarray(seq['img_frame_ids'], np.int64),
        'genders': list(seq.get('genders', ['n'] * actors)),
    }


class PW3DSequences(Dataset):
    """3DPW person-frames as DPMesh samples (see `sample.py` for the dict)."""

    def __init__(self, root, split='test', crop_size=256, sequences=None, frame_stride=1,
                 keypoint_threshold=0.2, body=None):
        if split not in SPLITS:
            raise ValueError(f"3DPW split must be one of {SPLITS}, got '{split}'")
        self.root = Path(root).expanduser()
        seq_dir = self.root / 'sequenceFiles' / split
        files = sorted(seq_dir.glob('*.pkl'))
        if sequences:
            files = [f for f in files if f.stem in set(sequences)]
        if not files:
            raise FileNotFoundError(f'no 3DPW sequence pickles in {seq_dir} (expected '
                                    '<root>/sequenceFiles/<split>/*.pkl)')
        self.crop_size = int(crop_size)
        self.threshold = float(keypoint_threshold)
        self.body = body
        self.sequences = [read_sequence(f) for f in files]
        self.index = []
        for s, seq in enumerate(self.sequences):
            for a, valid in enumerate(seq['valid']):
                frames = np.nonzero(valid)[0][::max(1, int(frame_stride))]
                self.index += [(s, a, int(t)) for t in frames]
        log.info('3DPW %s: %d sequences, %d person-frames', split, len(self.sequences),
                 len(self.index))

    def __len__(self):
        return len(self.index)

    def image_path(self, s, t):
        seq = self.sequences[s]
        return self.root / 'imageFiles' / seq['sequence'] / f"image_{seq['frames'][t]:05d}.jpg"

    def __getitem__(self, i):
        s, a, t = self.index[i]
        seq = self.sequences[s]
        ext = seq['cam_poses'][t]
        rot, shift = ext[:3, :3].astype(np.float64), ext[:3, 3].astype(np.float64)
        k = seq['K']
        camera = CameraIntrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]),
                                  float(k[1, 2]), 0, 0)
        pose = seq['poses'][a][t].astype(np.float64).copy()
        pose[:3] = (Rotation.from_matrix(rot) * Rotation.from_rotvec(pose[:3])).as_rotvec()
        joints = seq['joints'][a][t] @ rot.T + shift
        uv = joints[:, :2] / joints[:, 2:3] * np.diag(k)[:2] + k[:2, 2]
        in_front = joints[:, 2] > 1e-3
        op = seq['poses2d'][a][t].T                                     # (18, 3)
        kp, kp_ok = remap(op[:, :2], op[:, 2] > self.threshold, 'openpose18')
        transl = None
        if self.body is not None:
            import torch
            betas = torch.as_tensor(seq['betas'][a][None])
            rest_root = self.body(torch.zeros(1, 72), betas).joints[0, 0].double().numpy()
            transl = rot @ (rest_root + seq['trans'][a][t]) + shift - rest_root
        image = read_image_rgb(self.image_path(s, t))
        camera.width, camera.height = image.shape[1], image.shape[0]
        box = box_from_points(uv, in_front, margin=0.1)
        if box is None:
            box = box_from_points(kp, kp_ok)
        return crop_sample(image, box, self.crop_size, camera, keypoints=kp,
                           keypoints_valid=kp_ok, joints2d=uv, joints2d_valid=in_front,
                           joints3d=joints, pose=pose, betas=seq['betas'][a], transl=transl)
