"""Small but consistent training data for tests (no dataset download, no renderer).

`make_test_people` poses a body at random, projects it with a pinhole camera and draws it as a
coloured stick figure; `write_test_shard` stores such people in the synthetic shard format of
`hmr_models.data.synth.writers` (what `SyntheticSamples` reads), crops included.
"""
from pathlib import Path

import numpy as np

from hmr_models.skeleton import SMPL24_PARENTS
from hmr_models.types import CameraIntrinsics


def draw_stick_figure(image, joints2d, thickness=3):
    """Draw SMPL bones (joints2d (24, 2) pixels) in place, one colour per bone."""
    import cv2
    for a, p in enumerate(SMPL24_PARENTS[1:], 1):
        colour = tuple(int(x) for x in (37 * a % 255, 91 * a % 255, 151 * a % 255))
        cv2.line(image, tuple(int(round(v)) for v in joints2d[a]),
                 tuple(int(round(v)) for v in joints2d[p]), colour, thickness)
    return image


def make_test_people(body, n=6, image_size=(320, 240), seed=0, pose_scale=0.3):
    """n people (one per image) with ground truth: dict of stacked numpy arrays + images."""
    import torch
    rng = np.random.default_rng(seed)
    w, h = image_size
    cam = CameraIntrinsics.from_image_diagonal(w, h)
    pose = rng.normal(0.0, pose_scale, (n, 72)).astype(np.float32)
    pose[:, :3] = [np.pi, 0.0, 0.0] + rng.normal(0.0, 0.2, (n, 3))   # upright in camera frame
    betas = rng.normal(0.0, 0.5, (n, 10)).astype(np.float32)
    transl = np.stack([rng.uniform(-0.4, 0.4, n), rng.uniform(-0.2, 0.2, n),
                       rng.uniform(3.0, 5.0, n)], 1).astype(np.float32)
    with torch.no_grad():
        out = body(torch.as_tensor(pose), torch.as_tensor(betas), torch.as_tensor(transl))
        coco = body.regress(out.vertices, 'coco17').numpy()
    joints = out.joints.numpy()
    f = np.array([cam.fx, cam.fy], np.float32)
    c = np.array([cam.cx, cam.cy], np.float32)
    j2d = joints[..., :2] / joints[..., 2:] * f + c
    k2d = coco[..., :2] / coco[..., 2:] * f + c
    images = np.full((n, h, w, 3), 90, np.uint8)
    for i in range(n):
        draw_stick_figure(images[i], j2d[i])
    return {'pose': pose, 'betas': betas, 'transl': transl, 'joints3d': joints,
            'keypoints3d': coco, 'joints2d': j2d.astype(np.float32),
            'keypoints2d': k2d.astype(np.float32), 'camera': cam, 'images': images}


def write_test_shard(path, body, n=6, crop_size=64, seed=0):
    """A synthetic sample shard (writers.person_samples layout) with n people; returns path."""
    from hmr_models.frontend.crops import make_crops
    people = make_test_people(body, n, seed=seed)
    cam = people['camera']
    rng = np.random.default_rng(seed + 1)
    crops, to_image, boxes = [], [], []
    for i in range(n):
        uv = people['joints2d'][i]
        box = np.concatenate([uv.min(0), uv.max(0)]).astype(np.float32)
        cr = make_crops(people['images'][i], box[None], size=crop_size)
        crops.append(cr.images[0])
        to_image.append(cr.crop_to_image[0])
        boxes.append(box)
    codes = np.zeros((n, 17), np.uint8)
    codes[:, 15] = 4                                    # a left ankle hidden by someone
    det = people['keypoints2d'] + rng.normal(0, 2.0, (n, 17, 2)).astype(np.float32)
    det[:, 15] = np.nan
    shard = {
        'pose': people['pose'], 'betas': people['betas'], 'transl': people['transl'],
        'joints3d': people['joints3d'], 'keypoints3d': people['keypoints3d'],
        'keypoints2d': people['keypoints2d'], 'keypoint_codes': codes,
        'keypoint_visible': codes == 0, 'joints2d': people['joints2d'],
        'joint_codes': np.zeros((n, 24), np.uint8),
        'det_keypoints2d': det, 'det_scores': np.where(np.isnan(det[..., 0]), 0.0,
                                                       0.9).astype(np.float32),
        'det_box': np.stack(boxes), 'detected': np.ones(n, bool), 'gt_box': np.stack(boxes),
        'K': np.repeat(cam.matrix[None].astype(np.float32), n, 0),
        'image_size': np.repeat(np.array([[cam.width, cam.height]], np.int32), n, 0),
        'crop': np.stack(crops), 'crop_to_image': np.stack(to_image).astype(np.float32),
        'scene_seed': np.full(n, seed), 'frame': np.arange(n), 'track_id': np.arange(n),
        'clip_id': np.array(['test'] * n), 'free': np.ones(n, bool)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **shard)
    return path
