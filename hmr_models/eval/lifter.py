"""The keypoint lifter alone on synthetic keypoint samples (no image, no refinement).

    figures = evaluate_lifter(lifter, ['data/synth/pitch/val_18-25/samples'])
    rotated = rotate_view(shard, -15.0)    # the same people seen by a camera tilted 15 deg up

A fast check of a lifter round on validation scenes of any camera range (`hmr-synth
--camera-pitch`), before the whole pipeline runs (`benchmarks/eval_lifter.py`).
`rotate_view` turns the camera about its own x axis: the 2D fields move by the rotation's
homography K R K^-1 (exact for a pinhole camera), the 3D fields turn with it. It is the view a
camera at the same place would have, tilted by that angle: what a lifter would see if the
camera's tilt were known and undone.
"""
from pathlib import Path
import tempfile

import numpy as np
import torch

from hmr_models.eval.metrics import mpjpe, pa_mpjpe

POINTS_2D = ('det_keypoints2d', 'keypoints2d', 'joints2d')
POINTS_3D = ('joints3d', 'keypoints3d')
BOXES = ('det_box', 'gt_box')


def tilt_rotation(degrees):
    """(3, 3) rotation of camera-frame points about the camera's x axis by `degrees`.

    Positive: points ahead move up in the image, i.e. the camera is tilted further down.
    """
    a = np.radians(degrees)
    return np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])


def rotate_view(shard, degrees):
    """A sample shard (dict of arrays, writers.person_samples layout) seen by the tilted camera.

    Boxes become the bounds of their turned corners; visibility codes stay as they were.
    """
    rot = tilt_rotation(degrees)
    k = np.asarray(shard['K'], np.float64)
    h = k @ rot[None] @ np.linalg.inv(k)                                # (N, 3, 3)

    def move(points):
        p = np.asarray(points, np.float64)
        q = np.einsum('nij,nkj->nki', h, np.concatenate([p, np.ones(p.shape[:-1] + (1,))], -1))
        return (q[..., :2] / q[..., 2:]).astype(np.float32)
    out = dict(shard)
    for key in POINTS_2D:
        out[key] = move(shard[key])
    for key in BOXES:
        b = np.asarray(shard[key], np.float64)
        corners = move(np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [0, 3]], b[:, [2, 3]]], 1))
        out[key] = np.concatenate([corners.min(1), corners.max(1)], 1).astype(np.float32)
    for key in POINTS_3D:
        out[key] = (np.asarray(shard[key], np.float64) @ rot.T).astype(np.float32)
    return out


def rotated_copy(folder, degrees, out_dir):
    """Write every shard of a samples folder turned by `degrees` into out_dir; returns it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(Path(folder).glob('*.npz')):
        with np.load(f) as z:
            np.savez(out_dir / f.name, **rotate_view(dict(z), degrees))
    return out_dir


@torch.no_grad()
def evaluate_lifter(lifter, folders, tilt_degrees=0.0, batch_size=512, body=None):
    """MPJPE / PA-MPJPE (mm, 24 joints) of `lifter` on the detected keypoints of `folders`.

    Returns {'people', 'MPJPE', 'PA-MPJPE'} over every person the lifter can take (>= 4
    keypoints; as in training) and the same over the people whose whole body is in the frame
    ('whole body ...'): cut-off people make steep views look harder than they are.
    tilt_degrees: lift the views turned by this angle (rotate_view), scored in that view.
    """
    from hmr_models.body import load_body_model
    from hmr_models.data.datasets import SyntheticKeypoints
    from hmr_models.train.train_lifter import LifterTraining
    module = LifterTraining(lifter, body or load_body_model(None)).eval()
    with tempfile.TemporaryDirectory(prefix='lifter_eval_') as tmp:
        if tilt_degrees:
            folders = [rotated_copy(f, tilt_degrees, Path(tmp) / str(i))
                       for i, f in enumerate(folders)]
        data = SyntheticKeypoints([str(f) for f in folders], input_keypoints='detected')
        pred, truth, whole = [], [], []
        for batch in torch.utils.data.DataLoader(data, batch_size=batch_size):
            _, _, out = module.run(batch)
            pred.append(out.joints.double().cpu().numpy() * 1000.0)
            truth.append(batch['joints3d'].double().cpu().numpy() * 1000.0)
            whole.append(batch['gt_keypoints_valid'].numpy().all(1))
    pred, truth, whole = np.concatenate(pred), np.concatenate(truth), np.concatenate(whole)
    res = {'people': len(pred), 'MPJPE': mpjpe(pred, truth), 'PA-MPJPE': pa_mpjpe(pred, truth),
           'whole body people': int(whole.sum())}
    if whole.any():
        res['whole body MPJPE'] = mpjpe(pred[whole], truth[whole])
        res['whole body PA-MPJPE'] = pa_mpjpe(pred[whole], truth[whole])
    return res
