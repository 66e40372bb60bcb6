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


class SyntheticSamples(Dataset):
    """All samples of one or more synthetic shards (files, folders or glob patterns)."""

    def __init__(self, paths, input_keypoints='gt', detector_threshold=0.2):
        if input_keypoints not in ('gt', 'detected'):
            raise ValueError(f"input_keypoints must be 'gt' or 'detected', got "
                             f"'{input_keypoints}'")
        self.input_keypoints = input_keypoints
        self.threshold = float(detector_threshold)
        self.shards, self.index = [], []
        for path in _shard_paths(paths):
            if not path.is_file():
                raise FileNotFoundError(f'synthetic sample shard not found: {path}')
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in REQUIRED if k not in data.files]
                if 'crop' in missing:
                    raise ValueError(f'{path}: no rendered crops; write the shard with images '
                                     '(hmr_models.data.synth with rendering on)')
                if missing:
                    raise ValueError(f'{path}: not a synthetic sample shard (missing {missing})')
                arrays = {k: data[k] for k in data.files}
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
        if self.input_keypoints == 'gt':
            kp, kp_ok = a['keypoints2d'][j], in_frame
        else:
            kp = a['det_keypoints2d'][j]
            kp_ok = (a['det_scores'][j] >= self.threshold) & np.isfinite(kp).all(-1)
        return sample_from_crop(
            a['crop'][j], a['crop_to_image'][j], camera, (w, h),
            keypoints=kp, keypoints_valid=kp_ok,
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
