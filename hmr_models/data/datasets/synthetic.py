"""The project's synthetic people (hmr_models.data.synth) as DPMesh samples.

Reads the per-person sample shards that `hmr_models.data.synth.writers.write_samples` writes
(one npz, N people stacked): ground truth in full-image pixels / camera frame (pose, betas,
transl, joints3d, keypoints3d, keypoints2d, joints2d, occlusion codes), the simulated detector
output (det_keypoints2d, det_scores), intrinsics K and image_size, and the rendered crop with its
crop_to_image affine. Shards without rendered crops cannot train an image model and are refused.

`input_keypoints` chooses the conditioning: 'gt' (teacher: ground-truth COCO-17 positions of the
keypoints inside the frame) or 'detected' (the simulated detector: missing, jittered, swapped,
neighbour keypoints, i.e. realistic student input). Occluded keypoints keep their ground-truth
position as a 2D label; only out-of-frame ones are masked.

All shards are read into memory when the dataset is built (a 256x256 crop is 192 KB: about
2 GB per 10k people); split very large sets into several datasets or shards per worker.
"""
import glob
import logging
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from hmr_models.types import CameraIntrinsics

from .sample import sample_from_crop

log = logging.getLogger(__name__)

OUT_OF_FRAME = 1       # occlusion code bit of hmr_models.data.synth (0 = visible)
REQUIRED = ('pose', 'betas', 'transl', 'joints3d', 'keypoints3d', 'keypoints2d',
            'keypoint_codes', 'joints2d', 'joint_codes', 'K', 'image_size', 'crop',
            'crop_to_image')


def _shard_paths(paths):
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            out += sorted(p.glob('*.npz'))
        elif any(ch in str(p) for ch in '*?['):
            out += sorted(Path(x) for x in glob.glob(str(p)))
        else:
            out.append(p)
    if not out:
        raise FileNotFoundError(f'no synthetic sample shards (*.npz) found in {paths}')
    return out


def _check_input_mode(input_keypoints):
    if input_keypoints not in ('gt', 'detected'):
        raise ValueError(f"input_keypoints must be 'gt' or 'detected', got '{input_keypoints}'")


def _read_shard(path, required, keys=None):
    """The arrays `keys` (default all) of one shard; errors name the file and what is missing."""
    if not path.is_file():
        raise FileNotFoundError(f'synthetic sample shard not found: {path}')
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in required if k not in data.files]
        if 'crop' in missing:
            raise ValueError(f'{path}: no rendered crops; write the shard with images '
                             '(hmr_models.data.synth with rendering on)')
        if missing:
            raise ValueError(f'{path}: not a synthetic sample shard (missing {missing})')
        return {k: data[k] for k in (keys or data.files)}


def _input_keypoints(mode, threshold, keypoints2d, codes, det_keypoints2d, det_scores):
    """(keypoints, valid, scores) the model is conditioned on, one person or stacked people.

    Ground-truth input has score 1 where valid; detected input the detector's scores.
    """
    if mode == 'gt':
        ok = (codes & OUT_OF_FRAME) == 0
        return keypoints2d, ok, ok.astype(np.float32)
    ok = (det_scores >= threshold) & np.isfinite(det_keypoints2d).all(-1)
    return det_keypoints2d, ok, np.where(ok, np.nan_to_num(det_scores), 0.0).astype(np.float32)


class SyntheticSamples(Dataset):
    """All samples of one or more synthetic shards (files, folders or glob patterns)."""

    def __init__(self, paths, input_keypoints='gt', detector_threshold=0.2):
        _check_input_mode(input_keypoints)
        self.input_keypoints = input_keypoints
        self.threshold = float(detector_threshold)
        self.shards, self.index = [], []
        for path in _shard_paths(paths):
            arrays = _read_shard(path, REQUIRED)
            s = len(self.shards)
            self.shards.append(arrays)
            self.index += [(s, i) for i in range(len(arrays['pose']))]
        log.info('synthetic samples: %d people from %d shard(s)', len(self.index),
                 len(self.shards))

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        s, j = self.index[i]
        a = self.shards[s]
        k = a['K'][j]
        w, h = (int(v) for v in a['image_size'][j])
        camera = CameraIntrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]),
                                  float(k[1, 2]), w, h)
        in_frame = (a['keypoint_codes'][j] & OUT_OF_FRAME) == 0
        kp, kp_ok, kp_score = _input_keypoints(
            self.input_keypoints, self.threshold, a['keypoints2d'][j], a['keypoint_codes'][j],
            a['det_keypoints2d'][j], a['det_scores'][j])
        return sample_from_crop(
            a['crop'][j], a['crop_to_image'][j], camera, (w, h),
            keypoints=kp, keypoints_valid=kp_ok, keypoints_score=kp_score,
            keypoints2d=a['keypoints2d'][j], keypoints2d_valid=in_frame,
            joints2d=a['joints2d'][j],
            joints2d_valid=(a['joint_codes'][j] & OUT_OF_FRAME) == 0,
            joints3d=a['joints3d'][j], keypoints3d=a['keypoints3d'][j],
            pose=a['pose'][j], betas=a['betas'][j], transl=a['transl'][j])


class SampleList(Dataset):
    """Samples already in memory (a list of sample dicts), e.g. generated on the fly."""

    def __init__(self, samples):
        from .sample import validate_sample
        self.samples = list(samples)
        for s in self.samples:
            validate_sample(s)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


class SyntheticKeypoints(Dataset):
    """Keypoint-only synthetic people (shards with or without crops) for the keypoint lifter.

    Everything is computed once, vectorised, when the dataset is built: the crop square of each
    person's box (the detector's for 'detected', the true one for 'gt'; 1.25x, as the front-end
    crops), crop-normalised input keypoints and labels, and the CLIFF camera fields of DPMesh
    samples (`image_to_crop` maps to [0, 1] crop coordinates, i.e. a crop of size 1). People with
    fewer than `min_keypoints` valid input keypoints are left out (counted in the log).
    Items also carry the ground-truth input (`gt_keypoints`, `gt_keypoints_valid`) for NKR.
    """

    def __init__(self, paths, input_keypoints='detected', detector_threshold=0.2,
                 min_keypoints=0):
        from hmr_models.frontend.boxes import square_boxes
        from hmr_models.geometry.affine import box_to_crop_affine
        _check_input_mode(input_keypoints)
        need = ('pose', 'betas', 'joints3d', 'keypoints3d', 'keypoints2d', 'keypoint_codes',
                'joints2d', 'joint_codes', 'K', 'det_keypoints2d', 'det_scores', 'det_box',
                'gt_box')
        parts = [_read_shard(path, need, need) for path in _shard_paths(paths)]
        a = {k: np.concatenate([p[k] for p in parts]) for k in need}
        kp_in_frame = (a['keypoint_codes'] & OUT_OF_FRAME) == 0
        kp, ok, score = _input_keypoints(input_keypoints, float(detector_threshold),
                                         a['keypoints2d'], a['keypoint_codes'],
                                         a['det_keypoints2d'], a['det_scores'])
        box = a['gt_box'] if input_keypoints == 'gt' else a['det_box']
        square = square_boxes(box)
        to_crop = box_to_crop_affine(square, 1)
        norm = lambda p: p * to_crop[:, None, 0, 0:1] + to_crop[:, None, :, 2]  # noqa: E731
        keep = ok.sum(1) >= int(min_keypoints)
        self.dropped = int((~keep).sum())
        if self.dropped:
            log.info('synthetic keypoints: %d of %d people have fewer than %d valid keypoints '
                     'and are left out', self.dropped, len(keep), min_keypoints)
        k = a['K']
        self.items = {
            'keypoints': np.where(ok[..., None], norm(np.nan_to_num(kp)), 0.0),
            'keypoints_valid': ok, 'keypoints_score': score,
            'gt_keypoints': np.where(kp_in_frame[..., None], norm(a['keypoints2d']), 0.0),
            'gt_keypoints_valid': kp_in_frame,
            'keypoints2d': norm(a['keypoints2d']), 'keypoints2d_valid': kp_in_frame,
            'joints2d': norm(a['joints2d']),
            'joints2d_valid': (a['joint_codes'] & OUT_OF_FRAME) == 0,
            'joints3d': a['joints3d'], 'joints3d_valid': np.ones(a['joints3d'].shape[:2], bool),
            'keypoints3d': a['keypoints3d'],
            'keypoints3d_valid': np.ones(a['keypoints3d'].shape[:2], bool),
            'pose': a['pose'], 'betas': a['betas'],
            'focal': np.stack([k[:, 0, 0], k[:, 1, 1]], -1),
            'principal': np.stack([k[:, 0, 2], k[:, 1, 2]], -1),
            'box_center': 0.5 * (square[:, :2] + square[:, 2:]),
            'box_size': square[:, 2] - square[:, 0], 'image_to_crop': to_crop}
        self.items = {n: np.ascontiguousarray(v[keep], np.float32 if v.dtype.kind == 'f'
                                              else v.dtype) for n, v in self.items.items()}
        log.info('synthetic keypoints: %d people (%s input keypoints)', len(self), input_keypoints)

    def __len__(self):
        return len(self.items['pose'])

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.items.items()}
