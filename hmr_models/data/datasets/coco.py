"""COCO / CrowdPose keypoint annotations with pseudo-ground-truth SMPL fits.

Keypoints: a COCO-format json (`images`, `annotations` with `bbox` [x, y, w, h] and
`keypoints` [x, y, v] * K; `keypoint_format` 'coco17' or 'crowdpose14').

Pseudo-GT SMPL (optional), matched by annotation id:
- 'neuralannot' (3DCrowdNet/DPMesh's files, e.g. MSCOCO_train_SMPL_NeuralAnnot.json): a json
  object {"<ann_id>": {"smpl_param": {"pose": [72], "shape": [10], "trans": [3]},
  "cam_param": {"focal": [fx, fy], "princpt": [cx, cy]}}}; the parameters live in that
  camera's frame, so pose, betas, translation and (with `body`) 3D joints are all supervised.
- 'eft' (Joo et al. EFT fits): {"data": [{"annotId": id, "parm_pose": 24 x 3 x 3 rotation
  matrices, "parm_shape": [10], ...}]}; pose and betas only (no metric camera).
"""
import json
import logging
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation
from torch.utils.data import Dataset

from hmr_models.types import CameraIntrinsics

from .formats import remap
from .sample import box_from_points, crop_sample, read_image_rgb

log = logging.getLogger(__name__)


def _load_json(path, what):
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f'{what} not found: {p}')
    with open(p) as f:
        return json.load(f)


def read_smpl_fits(path, fmt):
    """{annotation id: {'pose', 'betas', 'transl' or None, 'camera' or None}}."""
    data = _load_json(path, f'{fmt} SMPL fits')
    fits = {}
    if fmt == 'neuralannot':
        for key, item in data.items():
            sp = item.get('smpl_param', item)
            cam = item.get('cam_param')
            fits[int(key)] = {
                'pose': np.asarray(sp['pose'], np.float32).ravel(),
                'betas': np.asarray(sp['shape'], np.float32).ravel(),
                'transl': np.asarray(sp['trans'], np.float32).ravel() if 'trans' in sp
                else None,
                'camera': (np.asarray(cam['focal'], np.float32).ravel(),
                           np.asarray(cam['princpt'], np.float32).ravel()) if cam else None}
    elif fmt == 'eft':
        for item in data['data']:
            rot = np.asarray(item['parm_pose'], np.float64).reshape(24, 3, 3)
            fits[int(item['annotId'])] = {
                'pose': Rotation.from_matrix(rot).as_rotvec().astype(np.float32).ravel(),
                'betas': np.asarray(item['parm_shape'], np.float32).ravel(),
                'transl': None, 'camera': None}
    else:
        raise ValueError(f"smpl_format must be 'neuralannot' or 'eft', got '{fmt}'")
    return fits


class COCOKeypoints(Dataset):
    """Person annotations of a COCO-format keypoint json as DPMesh samples."""

    def __init__(self, image_dir, annotation_file, smpl_file=None, smpl_format='neuralannot',
                 keypoint_format='coco17', crop_size=256, min_keypoints=6, body=None,
                 require_smpl=False):
        if keypoint_format not in ('coco17', 'crowdpose14'):
            raise ValueError(f"keypoint_format must be 'coco17' or 'crowdpose14', got "
                             f"'{keypoint_format}'")
        self.image_dir = Path(image_dir).expanduser()
        self.format = keypoint_format
        self.crop_size = int(crop_size)
        self.body = body
        data = _load_json(annotation_file, 'keypoint annotation file')
        self.images = {int(im['id']): im for im in data['images']}
        self.fits = read_smpl_fits(smpl_file, smpl_format) if smpl_file else {}
        self.anns = []
        for ann in data['annotations']:
            if ann.get('iscrowd', 0):
                continue
            kp = np.asarray(ann['keypoints'], np.float32).reshape(-1, 3)
            if (kp[:, 2] > 0).sum() < min_keypoints:
                continue
            if require_smpl and int(ann['id']) not in self.fits:
                continue
            self.anns.append(ann)
        log.info('%s: %d person annotations (%d with SMPL fits)', Path(annotation_file).name,
                 len(self.anns), sum(int(a['id']) in self.fits for a in self.anns))

    def __len__(self):
        return len(self.anns)

    def __getitem__(self, i):
        ann = self.anns[i]
        info = self.images[int(ann['image_id'])]
        image = read_image_rgb(self.image_dir / info['file_name'])
        h, w = image.shape[:2]
        raw = np.asarray(ann['keypoints'], np.float32).reshape(-1, 3)
        kp, ok = remap(raw[:, :2], raw[:, 2] > 0, self.format)
        x, y, bw, bh = (float(v) for v in ann['bbox'])
        box = np.array([x, y, x + bw, y + bh], np.float32)
        if bw <= 1 or bh <= 1:
            box = box_from_points(kp, ok)
        fit = self.fits.get(int(ann['id']))
        camera = None
        labels = {}
        if fit is not None:
            labels.update(pose=fit['pose'], betas=fit['betas'])
            if fit['camera'] is not None:
                (fx, fy), (cx, cy) = fit['camera']
                camera = CameraIntrinsics(float(fx), float(fy), float(cx), float(cy), w, h)
            if fit['transl'] is not None and camera is not None:
                labels['transl'] = fit['transl']
                if self.body is not None:
                    labels.update(self._body_labels(fit, camera))
        return crop_sample(image, box, self.crop_size, camera, keypoints=kp,
                           keypoints_valid=ok, keypoints2d=kp, keypoints2d_valid=ok, **labels)

    def _body_labels(self, fit, camera):
        import torch
        with torch.no_grad():
            out = self.body(torch.as_tensor(fit['pose'][None]),
                            torch.as_tensor(fit['betas'][None, :10]),
                            torch.as_tensor(fit['transl'][None]))
            joints = out.joints[0].numpy()
            coco = self.body.regress(out.vertices, 'coco17')[0].numpy()
        f = np.array([camera.fx, camera.fy], np.float32)
        c = np.array([camera.cx, camera.cy], np.float32)
        uv = joints[:, :2] / np.maximum(joints[:, 2:3], 1e-3) * f + c
        return {'joints3d': joints, 'keypoints3d': coco, 'joints2d': uv,
                'joints2d_valid': joints[:, 2] > 1e-3}
