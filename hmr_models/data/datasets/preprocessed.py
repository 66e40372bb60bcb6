"""Human3.6M, MuCo-3DHP and friends in the common preprocessed npz layout (SPIN / CLIFF style).

One npz per dataset split with N person-frames:
    imgname (N,) image paths relative to `image_dir`
    center (N, 2), scale (N,)   person box centre and size / 200 (pixels)
    part (N, 24, 3)             2D joints in SPIN's 24-joint order + visibility
    S (N, 24, 4)                3D joints (metres, camera frame) + confidence   [optional]
    pose (N, 72), shape (N, 10) SMPL (global orientation in the camera frame)   [optional]
    has_smpl (N,)               [optional, default: 1 where pose is given]
    focal_length (N,) or (N, 2), or cam_int (N, 3, 3)                            [optional]
Without intrinsics the focal length is the image diagonal (CLIFF), principal point the centre.
"""
import logging
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hmr_models.types import CameraIntrinsics

from .formats import remap
from .sample import crop_sample, read_image_rgb

log = logging.getLogger(__name__)


class PreprocessedNPZ(Dataset):
    """Samples of a SPIN-layout npz (see the module docstring)."""

    def __init__(self, npz_path, image_dir, crop_size=256, name=None, stride=1):
        p = Path(npz_path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f'preprocessed dataset file not found: {p}')
        data = np.load(p, allow_pickle=False)
        for key in ('imgname', 'center', 'scale', 'part'):
            if key not in data:
                raise ValueError(f"{p}: missing '{key}' (expected the SPIN npz layout: imgname, "
                                 'center, scale, part[, S, pose, shape, has_smpl])')
        keep = np.arange(len(data['imgname']))[::max(1, int(stride))]
        self.arrays = {k: data[k][keep] for k in data.files}
        self.image_dir = Path(image_dir).expanduser()
        self.crop_size = int(crop_size)
        self.name = name or p.stem
        n_smpl = int(self._has_smpl().sum())
        log.info('%s: %d person-frames (%d with SMPL)', self.name, len(keep), n_smpl)

    def _has_smpl(self):
        a = self.arrays
        if 'pose' not in a:
            return np.zeros(len(a['imgname']), bool)
        if 'has_smpl' in a:
            return a['has_smpl'].astype(bool)
        return np.ones(len(a['imgname']), bool)

    def __len__(self):
        return len(self.arrays['imgname'])

    def _camera(self, i, w, h):
        a = self.arrays
        if 'cam_int' in a:
            k = a['cam_int'][i]
            return CameraIntrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]),
                                    float(k[1, 2]), w, h)
        if 'focal_length' in a:
            f = np.broadcast_to(np.asarray(a['focal_length'][i], np.float32).ravel(), (2,))
            return CameraIntrinsics(float(f[0]), float(f[1]), w / 2.0, h / 2.0, w, h)
        return None

    def __getitem__(self, i):
        a = self.arrays
        image = read_image_rgb(self.image_dir / str(a['imgname'][i]))
        h, w = image.shape[:2]
        c = a['center'][i].astype(np.float32)
        half = float(a['scale'][i]) * 200.0 / 2.0
        box = np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half], np.float32)
        part = a['part'][i]
        kp, ok = remap(part[:, :2], part[:, 2] > 0, 'spin24')
        labels = {}
        if 'S' in a:
            s3 = a['S'][i]
            labels['keypoints3d'], labels['keypoints3d_valid'] = remap(
                s3[:, :3], s3[:, 3] > 0, 'spin24')
        if self._has_smpl()[i]:
            labels.update(pose=a['pose'][i], betas=a['shape'][i])
        # The npz box is already the (square) crop: undo make_crops' 1.25x enlargement.
        centre = (box[:2] + box[2:]) / 2
        inner = (box[2:] - box[:2]) / 2 / 1.25
        box = np.concatenate([centre - inner, centre + inner])
        return crop_sample(image, box, self.crop_size, self._camera(i, w, h), keypoints=kp,
                           keypoints_valid=ok, keypoints2d=kp, keypoints2d_valid=ok, **labels)
