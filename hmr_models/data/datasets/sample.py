"""The training-sample contract shared by every DPMesh data source, and how to build one.

One sample = one person, cropped (square box enlarged 1.25x around the person, as at run time).
Every source returns a dict with ALL of these keys (missing labels are zeros with a False
mask), so batches from different datasets collate together:

    image               (S, S, 3) uint8 RGB crop
    keypoints           (17, 2) float32 input COCO-17 keypoints, crop-normalised (the crop spans
                        [0, 1]); 0 where missing        keypoints_valid (17,) bool
    keypoints_score     (17,) float32 the detector's confidence of each input keypoint, 0 where
                        missing (sources without scores: 1 for valid keypoints)
    keypoints2d         (17, 2) ground-truth COCO-17 keypoints, crop-normalised
                                                        keypoints2d_valid (17,) bool
    joints2d            (24, 2) ground-truth SMPL joints projected, crop-normalised
                                                        joints2d_valid (24,) bool
    joints3d            (24, 3) SMPL joints, camera frame, metres   joints3d_valid (24,) bool
    keypoints3d         (17, 3) COCO-17 keypoints, camera frame, metres
                                                        keypoints3d_valid (17,) bool
    pose (72,) axis-angle, global orientation in the camera frame; betas (10,); transl (3,)
        smplx translation in the camera frame          has_smpl () bool, has_transl () bool
    focal (2,), principal (2,)  intrinsics of the full image (pixels)
    box_center (2,), box_size () the square crop in image pixels
    image_to_crop (2, 3)        affine from image pixels to crop pixels
    neighbor_keypoints (17, 2) + neighbor_valid (17,)  another person's keypoints in this crop
                                (crop-normalised; all False when unknown), for NKR noise

The `keypoints` are what the model is conditioned on: ground truth for the teacher (or the
source's detections when it has them), corrupted on the fly for the NKR student.
"""
from pathlib import Path

import numpy as np

from hmr_models.types import CameraIntrinsics

NUM_KP, NUM_J = 17, 24

SAMPLE_SHAPES = {
    'image': None, 'keypoints': (NUM_KP, 2), 'keypoints_valid': (NUM_KP,),
    'keypoints_score': (NUM_KP,),
    'keypoints2d': (NUM_KP, 2), 'keypoints2d_valid': (NUM_KP,),
    'joints2d': (NUM_J, 2), 'joints2d_valid': (NUM_J,),
    'joints3d': (NUM_J, 3), 'joints3d_valid': (NUM_J,),
    'keypoints3d': (NUM_KP, 3), 'keypoints3d_valid': (NUM_KP,),
    'pose': (72,), 'betas': (10,), 'transl': (3,), 'has_smpl': (), 'has_transl': (),
    'focal': (2,), 'principal': (2,), 'box_center': (2,), 'box_size': (),
    'image_to_crop': (2, 3), 'neighbor_keypoints': (NUM_KP, 2), 'neighbor_valid': (NUM_KP,),
}
BOOL_KEYS = {k for k in SAMPLE_SHAPES if k.endswith('_valid') or k.startswith('has_')}


def read_image_rgb(path):
    """(H, W, 3) uint8 RGB image from disk; FileNotFoundError naming the file otherwise."""
    import cv2
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f'image not found: {p}')
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'cannot decode image: {p}')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _to_crop(points, affine, size):
    """Image pixels (N, 2) -> crop-normalised (N, 2) (NaN stays NaN)."""
    pts = np.asarray(points, np.float32)
    return (pts @ affine[:, :2].T + affine[:, 2]) / np.float32(size)


def _mask(valid, points):
    v = np.asarray(valid, bool) & np.isfinite(points).all(-1)
    return v


def pad_betas(betas):
    b = np.zeros(10, np.float32)
    if betas is not None:
        betas = np.asarray(betas, np.float32).ravel()[:10]
        b[:len(betas)] = betas
    return b


LABELS = ('keypoints', 'keypoints_valid', 'keypoints_score', 'keypoints2d', 'keypoints2d_valid',
          'joints2d', 'joints2d_valid', 'joints3d', 'joints3d_valid', 'keypoints3d',
          'keypoints3d_valid', 'pose', 'betas', 'transl', 'neighbor_keypoints', 'neighbor_valid')


def crop_sample(image, box, crop_size, camera=None, **labels):
    """A complete sample dict from a full image, a person box and labels.

    Args:
        image: (H, W, 3) uint8 RGB.
        box: (4,) xyxy person box in image pixels (made square and enlarged 1.25x).
        crop_size: side S of the crop.
        camera: CameraIntrinsics of the image (None: focal = image diagonal, CLIFF).
        labels: any of LABELS; 2D ones in image pixels, 3D ones in the camera frame (metres),
            `*_valid` masks default to all True for given points (NaN points are invalid).
    """
    from hmr_models.frontend.crops import make_crops
    h, w = image.shape[:2]
    crops = make_crops(image, np.asarray(box, np.float32)[None], size=crop_size)
    return _finish(crops.images[0], crops.image_to_crop[0], crop_size, camera, (w, h), labels)


def sample_from_crop(crop, crop_to_image, camera, image_size, **labels):
    """Like `crop_sample` for a source that stores crops (and their crop -> image affine)."""
    from hmr_models.geometry.affine import invert_affine
    crop = np.asarray(crop, np.uint8)
    to_crop = invert_affine(np.asarray(crop_to_image, np.float32)[None])[0]
    return _finish(crop, to_crop, crop.shape[0], camera, image_size, labels)


def _finish(crop, to_crop, size, camera, image_size, labels):
    unknown = sorted(set(labels) - set(LABELS))
    if unknown:
        raise ValueError(f'unknown sample label(s) {unknown}; known: {LABELS}')
    if camera is None:
        camera = CameraIntrinsics.from_image_diagonal(*image_size)
    from hmr_models.geometry.affine import invert_affine
    to_image = invert_affine(to_crop[None].astype(np.float32))[0]
    corners = np.array([[0, 0], [size, size]], np.float32) @ to_image[:, :2].T + to_image[:, 2]
    s = {'image': np.ascontiguousarray(crop, np.uint8),
         'focal': np.array([camera.fx, camera.fy], np.float32),
         'principal': np.array([camera.cx, camera.cy], np.float32),
         'box_center': corners.mean(0).astype(np.float32),
         'box_size': np.float32(corners[1, 0] - corners[0, 0]),
         'image_to_crop': to_crop.astype(np.float32)}
    for name, n in (('keypoints', NUM_KP), ('keypoints2d', NUM_KP), ('joints2d', NUM_J),
                    ('neighbor_keypoints', NUM_KP)):
        pts = labels.get(name)
        vname = 'neighbor_valid' if name == 'neighbor_keypoints' else f'{name}_valid'
        if pts is None:
            s[name], s[vname] = np.zeros((n, 2), np.float32), np.zeros(n, bool)
            continue
        valid = labels.get(vname)
        valid = np.ones(n, bool) if valid is None else valid
        c = _to_crop(pts, to_crop, size)
        ok = _mask(valid, c)
        s[name], s[vname] = np.where(ok[:, None], c, 0.0).astype(np.float32), ok
    score = labels.get('keypoints_score')
    s['keypoints_score'] = np.where(
        s['keypoints_valid'], 1.0 if score is None else np.clip(np.nan_to_num(
            np.asarray(score, np.float32)), 0.0, 1.0), 0.0).astype(np.float32)
    for name, n in (('joints3d', NUM_J), ('keypoints3d', NUM_KP)):
        pts = labels.get(name)
        if pts is None:
            s[name], s[f'{name}_valid'] = np.zeros((n, 3), np.float32), np.zeros(n, bool)
            continue
        valid = labels.get(f'{name}_valid')
        pts = np.asarray(pts, np.float32)
        ok = _mask(np.ones(n, bool) if valid is None else valid, pts)
        s[name], s[f'{name}_valid'] = np.where(ok[:, None], pts, 0.0).astype(np.float32), ok
    pose, transl = labels.get('pose'), labels.get('transl')
    s['has_smpl'] = np.bool_(pose is not None)
    s['pose'] = np.zeros(72, np.float32) if pose is None else np.asarray(pose, np.float32)
    s['betas'] = pad_betas(labels.get('betas'))
    s['has_transl'] = np.bool_(transl is not None)
    s['transl'] = np.zeros(3, np.float32) if transl is None else np.asarray(transl, np.float32)
    validate_sample(s)
    return s


def validate_sample(sample):
    """Raise ValueError naming the key when a sample breaks the contract."""
    for key, shape in SAMPLE_SHAPES.items():
        if key not in sample:
            raise ValueError(f"sample lacks key '{key}'")
        v = np.asarray(sample[key])
        if key == 'image':
            if v.ndim != 3 or v.shape[0] != v.shape[1] or v.shape[2] != 3 or v.dtype != np.uint8:
                raise ValueError(f'sample image must be (S, S, 3) uint8, got {v.shape} {v.dtype}')
            continue
        if v.shape != shape:
            raise ValueError(f"sample '{key}' must have shape {shape}, got {v.shape}")
        if key in BOOL_KEYS and v.dtype != np.bool_:
            raise ValueError(f"sample '{key}' must be bool, got {v.dtype}")
        if key not in BOOL_KEYS and not np.isfinite(v).all():
            raise ValueError(f"sample '{key}' contains NaN or inf")


def box_from_points(points, valid, margin=0.0):
    """xyxy box (4,) around valid points (image px), optionally enlarged by `margin`."""
    pts = np.asarray(points, np.float32)[np.asarray(valid, bool) & np.isfinite(points).all(-1)]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(0), pts.max(0)
    c, half = (lo + hi) / 2, (hi - lo) / 2 * (1.0 + margin)
    return np.concatenate([c - half, c + half]).astype(np.float32)
