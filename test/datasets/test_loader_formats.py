"""Dataset loaders on small files written here in each dataset's own format."""
import json
import pickle

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import ConcatDataset, DataLoader

from hmr_models.data.datasets import (COCOKeypoints, PW3DSequences, PreprocessedNPZ,
                                      SampleList, SyntheticSamples, crop_sample, remap,
                                      sample_from_crop, validate_sample)
from hmr_models.data.datasets.formats import OPENPOSE18_NAMES, SPIN24_NAMES
from fixtures.datasets import make_test_people, write_test_shard
from hmr_models.skeleton import COCO17_NAMES
from hmr_models.types import CameraIntrinsics


def _image(path, w=320, h=240, seed=0):
    img = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


def _crop_norm(sample, points):
    a = sample['image_to_crop']
    return (np.asarray(points) @ a[:, :2].T + a[:, 2]) / sample['image'].shape[0]


# ---------------------------------------------------------------------------- sample contract
def test_crop_sample_geometry_and_contract():
    img = np.zeros((200, 300, 3), np.uint8)
    box = np.array([100, 50, 180, 150], np.float32)       # 80 x 100 -> square 125 around it
    kp = np.full((17, 2), np.nan, np.float32)
    kp[0] = [140, 100]                                    # the box centre
    kp[1] = [140 + 62.5, 100]                             # the square's right edge
    s = crop_sample(img, box, 64, keypoints=kp)
    validate_sample(s)
    np.testing.assert_allclose(s['keypoints'][0], [0.5, 0.5], atol=1e-5)
    np.testing.assert_allclose(s['keypoints'][1], [1.0, 0.5], atol=1e-5)
    assert s['keypoints_valid'][:2].all() and not s['keypoints_valid'][2:].any()
    np.testing.assert_allclose(s['box_center'], [140, 100], atol=1e-3)
    assert s['box_size'] == pytest.approx(125.0, abs=1e-3)
    cam = CameraIntrinsics.from_image_diagonal(300, 200)
    np.testing.assert_allclose(s['focal'], [cam.fx, cam.fy])
    assert not s['has_smpl'] and not s['joints3d_valid'].any()
    # a stored crop and its affine give the same sample
    inv = cv2.invertAffineTransform(s['image_to_crop'])
    again = sample_from_crop(s['image'], inv, None, (300, 200), keypoints=kp)
    np.testing.assert_allclose(again['keypoints'], s['keypoints'], atol=1e-4)
    with pytest.raises(ValueError, match='unknown sample label'):
        crop_sample(img, box, 64, keypoint=kp)
    bad = dict(s, pose=np.zeros(71, np.float32))
    with pytest.raises(ValueError, match="'pose'"):
        validate_sample(bad)


def test_format_maps():
    pts = np.arange(18 * 2, dtype=np.float32).reshape(18, 2)
    out, ok = remap(pts, np.ones(18, bool), 'openpose18')
    assert ok.all()
    for name in ('nose', 'left_shoulder', 'right_ankle', 'left_ear'):
        np.testing.assert_array_equal(out[COCO17_NAMES.index(name)],
                                      pts[OPENPOSE18_NAMES.index(name)])
    out, ok = remap(np.zeros((14, 2)), np.ones(14, bool), 'crowdpose14')
    assert not ok[:5].any() and ok[5:].all()             # CrowdPose has no face keypoints


# ---------------------------------------------------------------------------- 3DPW
def _write_3dpw(root, body, frames=3):
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(0)
    actors, poses, trans, betas, joints, p2d, valid = 2, [], [], [], [], [], []
    cam_rot = Rotation.from_euler('xyz', [0.1, -0.4, 0.05]).as_matrix()
    cam_poses = np.tile(np.eye(4), (frames, 1, 1))
    cam_poses[:, :3, :3] = cam_rot
    cam_poses[:, :3, 3] = [0.2, -0.1, 4.0]
    for a in range(actors):
        pose = rng.normal(0, 0.2, (frames, 72)).astype(np.float32)
        tr = rng.normal(0, 0.3, (frames, 3)).astype(np.float32)
        b = rng.normal(0, 0.5, 10).astype(np.float32)
        with torch.no_grad():
            j = body(torch.as_tensor(pose), torch.as_tensor(b[None]).expand(frames, 10),
                     torch.as_tensor(tr)).joints.numpy()
        poses.append(pose)
        trans.append(tr)
        betas.append(b)
        joints.append(j.reshape(frames, 72))
        p2d.append(np.concatenate([rng.uniform(50, 250, (frames, 2, 18)),
                                   np.full((frames, 1, 18), 0.9)], 1))
        valid.append(np.array([1, 0, 1][:frames]))
    seq = {'sequence': 'courtyard_test_00', 'poses': poses, 'trans': trans, 'betas': betas,
           'jointPositions': joints, 'poses2d': p2d, 'cam_poses': cam_poses,
           'cam_intrinsics': np.array([[500, 0, 160], [0, 500, 120], [0, 0, 1]], np.float64),
           'img_frame_ids': np.arange(frames), 'campose_valid': valid, 'genders': ['m', 'f']}
    (root / 'sequenceFiles' / 'test').mkdir(parents=True)
    with open(root / 'sequenceFiles' / 'test' / 'courtyard_test_00.pkl', 'wb') as f:
        pickle.dump(seq, f, protocol=2)
    for t in range(frames):
        _image(root / 'imageFiles' / 'courtyard_test_00' / f'image_{t:05d}.jpg', seed=t)
    return seq, cam_rot


def test_3dpw_sequences(tmp_path, test_body):
    seq, rot = _write_3dpw(tmp_path, test_body)
    ds = PW3DSequences(tmp_path, 'test', crop_size=64, body=test_body)
    assert len(ds) == 4                                   # 2 actors x 2 valid frames
    s = ds[1]                                             # actor 0, frame 2
    validate_sample(s)
    j_world = seq['jointPositions'][0][2].reshape(24, 3)
    j_cam = j_world @ rot.T + np.array([0.2, -0.1, 4.0])
    np.testing.assert_allclose(s['joints3d'], j_cam, atol=1e-4)
    uv = j_cam[:, :2] / j_cam[:, 2:] * 500 + [160, 120]
    np.testing.assert_allclose(s['joints2d'], _crop_norm(s, uv), atol=1e-4)
    # camera-frame pose + transl reproduce the joints through the body model
    with torch.no_grad():
        out = test_body(torch.as_tensor(s['pose'][None]), torch.as_tensor(s['betas'][None]),
                        torch.as_tensor(s['transl'][None]))
    np.testing.assert_allclose(out.joints[0].numpy(), j_cam, atol=1e-4)
    op = seq['poses2d'][0][2].T
    np.testing.assert_allclose(s['keypoints'][COCO17_NAMES.index('left_wrist')],
                               _crop_norm(s, op[OPENPOSE18_NAMES.index('left_wrist'), :2]),
                               atol=1e-4)
    with pytest.raises(FileNotFoundError, match='sequenceFiles'):
        PW3DSequences(tmp_path, 'train')


# ---------------------------------------------------------------------------- COCO / CrowdPose
def _write_coco(root, fmt='coco17'):
    k = 17 if fmt == 'coco17' else 14
    rng = np.random.default_rng(1)
    _image(root / 'images' / 'a.jpg')
    _image(root / 'images' / 'b.jpg', seed=1)

    def ann(i, img, n_vis, crowd=0):
        kp = np.zeros((k, 3))
        kp[:n_vis, :2] = rng.uniform(60, 200, (n_vis, 2))
        kp[:n_vis, 2] = 2
        return {'id': i, 'image_id': img, 'bbox': [50, 40, 120, 170], 'iscrowd': crowd,
                'num_keypoints': n_vis, 'keypoints': kp.ravel().tolist()}
    data = {'images': [{'id': 1, 'file_name': 'a.jpg', 'width': 320, 'height': 240},
                       {'id': 2, 'file_name': 'b.jpg', 'width': 320, 'height': 240}],
            'annotations': [ann(10, 1, k), ann(11, 1, 3), ann(12, 2, k, crowd=1),
                            ann(13, 2, k)]}
    (root / 'ann.json').write_text(json.dumps(data))
    return data


def test_coco_with_neuralannot_fits(tmp_path, test_body):
    data = _write_coco(tmp_path)
    rng = np.random.default_rng(2)
    fits = {'10': {'smpl_param': {'pose': rng.normal(0, 0.2, 72).tolist(),
                                  'shape': rng.normal(0, 0.5, 10).tolist(),
                                  'trans': [0.1, 0.2, 5.0]},
                   'cam_param': {'focal': [600, 600], 'princpt': [160, 120]}}}
    (tmp_path / 'smpl.json').write_text(json.dumps(fits))
    ds = COCOKeypoints(tmp_path / 'images', tmp_path / 'ann.json', tmp_path / 'smpl.json',
                       crop_size=64, body=test_body)
    assert len(ds) == 2                     # crowd and 3-keypoint annotations skipped
    s = ds[0]
    validate_sample(s)
    assert s['has_smpl'] and s['has_transl'] and s['joints3d_valid'].all()
    np.testing.assert_allclose(s['focal'], [600, 600])
    uv = s['joints3d'][:, :2] / s['joints3d'][:, 2:] * 600 + [160, 120]
    np.testing.assert_allclose(s['joints2d'], _crop_norm(s, uv), atol=1e-4)
    raw = np.asarray(data['annotations'][0]['keypoints']).reshape(17, 3)
    np.testing.assert_allclose(s['keypoints2d'], _crop_norm(s, raw[:, :2]), atol=1e-4)
    assert not ds[1]['has_smpl']            # annotation 13 has no fit
    required = COCOKeypoints(tmp_path / 'images', tmp_path / 'ann.json',
                             tmp_path / 'smpl.json', require_smpl=True)
    assert len(required) == 1


def test_crowdpose_with_eft_fits(tmp_path):
    from scipy.spatial.transform import Rotation
    _write_coco(tmp_path, 'crowdpose14')
    rot = Rotation.from_rotvec(np.random.default_rng(3).normal(0, 0.3, (24, 3)))
    eft = {'data': [{'annotId': 13, 'parm_pose': rot.as_matrix().tolist(),
                     'parm_shape': [0.1] * 10}]}
    (tmp_path / 'eft.json').write_text(json.dumps(eft))
    ds = COCOKeypoints(tmp_path / 'images', tmp_path / 'ann.json', tmp_path / 'eft.json',
                       smpl_format='eft', keypoint_format='crowdpose14', crop_size=64)
    s = ds[1]
    assert s['has_smpl'] and not s['has_transl']
    np.testing.assert_allclose(s['pose'], rot.as_rotvec().ravel(), atol=1e-5)
    assert not s['keypoints_valid'][:5].any() and s['keypoints_valid'][5:].all()
    with pytest.raises(ValueError, match='keypoint_format'):
        COCOKeypoints(tmp_path / 'images', tmp_path / 'ann.json', keypoint_format='mpii')


# ---------------------------------------------------------------------------- SPIN-style npz
def test_preprocessed_npz(tmp_path):
    rng = np.random.default_rng(4)
    n = 3
    for i in range(n):
        _image(tmp_path / 'imgs' / f's{i}.jpg', seed=i)
    part = np.concatenate([rng.uniform(100, 200, (n, 24, 2)), np.ones((n, 24, 1))], -1)
    part[:, SPIN24_NAMES.index('nose'), 2] = 0
    s3 = np.concatenate([rng.normal(0, 0.3, (n, 24, 3)), np.ones((n, 24, 1))], -1)
    np.savez(tmp_path / 'h36m_train.npz', imgname=np.array([f's{i}.jpg' for i in range(n)]),
             center=np.tile([[150.0, 150.0]], (n, 1)), scale=np.full(n, 0.8), part=part,
             S=s3, pose=rng.normal(0, 0.2, (n, 72)), shape=rng.normal(0, 0.5, (n, 10)),
             has_smpl=np.array([1, 0, 1]))
    ds = PreprocessedNPZ(tmp_path / 'h36m_train.npz', tmp_path / 'imgs', crop_size=64)
    s = ds[0]
    validate_sample(s)
    assert s['box_size'] == pytest.approx(160.0, abs=1e-3)      # scale * 200
    lw = COCO17_NAMES.index('left_wrist')
    np.testing.assert_allclose(s['keypoints'][lw],
                               _crop_norm(s, part[0, SPIN24_NAMES.index('left_wrist'), :2]),
                               atol=1e-4)
    assert not s['keypoints_valid'][COCO17_NAMES.index('nose')]
    assert s['keypoints3d_valid'][5:].all() and s['has_smpl'] and not ds[1]['has_smpl']
    with pytest.raises(ValueError, match="missing 'part'"):
        np.savez(tmp_path / 'bad.npz', imgname=np.array(['x']), center=np.zeros((1, 2)),
                 scale=np.ones(1))
        PreprocessedNPZ(tmp_path / 'bad.npz', tmp_path)


# ---------------------------------------------------------------------------- synthetic shards
def test_synthetic_shards_and_mixed_batches(tmp_path, test_body):
    path = write_test_shard(tmp_path / 'shards' / 'a.npz', test_body, n=4, crop_size=64)
    gt = SyntheticSamples(tmp_path / 'shards')
    det = SyntheticSamples(str(tmp_path / 'shards' / '*.npz'), input_keypoints='detected')
    assert len(gt) == len(det) == 4
    s, d = gt[2], det[2]
    validate_sample(s)
    with np.load(path) as z:
        k2d, j3d = z['keypoints2d'][2], z['joints3d'][2]
    np.testing.assert_allclose(s['keypoints2d'], _crop_norm(s, k2d), atol=1e-4)
    np.testing.assert_allclose(s['joints3d'], j3d)
    assert s['keypoints_valid'].all()                    # ground truth, occluded or not
    assert not d['keypoints_valid'][15]                  # the detector missed it
    assert s['keypoints2d_valid'][15]                    # ...but its 2D label stays
    # a shard without rendered crops cannot train an image model
    with np.load(path) as z:
        no_crop = {k: z[k] for k in z.files if k not in ('crop', 'crop_to_image')}
    np.savez(tmp_path / 'nocrop.npz', **no_crop)
    with pytest.raises(ValueError, match='no rendered crops'):
        SyntheticSamples(tmp_path / 'nocrop.npz')
    # different sources collate into one batch
    people = make_test_people(test_body, n=2, seed=5)
    extra = SampleList([crop_sample(people['images'][i],
                                    np.concatenate([people['joints2d'][i].min(0),
                                                    people['joints2d'][i].max(0)]), 64,
                                    people['camera'], keypoints=people['keypoints2d'][i])
                        for i in range(2)])
    batch = next(iter(DataLoader(ConcatDataset([gt, extra]), batch_size=6)))
    assert batch['image'].shape == (6, 64, 64, 3) and batch['has_smpl'].tolist() == [
        True] * 4 + [False] * 2
