"""hmr-convert-3dpw: a 3DPW sequence as a bag with ground truth, for `hmr-eval`.

    hmr-convert-3dpw SEQUENCE.pkl IMAGE_DIR OUT_BAG [--body PATH.npz] [--fps 30]

Reads the official sequence pickle (`sequenceFiles/<split>/<name>.pkl`: per actor `poses`
(T, 72) and `trans` (T, 3) SMPL in world coordinates, `betas`, `campose_valid` (T,), `genders`,
`v_template` when present; shared `cam_poses` (T, 4, 4) world -> camera and `cam_intrinsics`)
and its images (`imageFiles/<name>/image_XXXXX.jpg`), and writes a rosbag2 (MCAP) with
/camera/image_raw (rgb8), /camera/camera_info and /ground_truth/persons (hmr_ros/
SMPLPersonArray per image: the actors whose camera pose is valid, with their SMPL parameters
turned into the camera frame, 24 joints (3DPW's `jointPositions` when present, else the body
model's), COCO-17 keypoints and box projected from the mesh, track_id = actor index).
3DPW has no occlusion labels: joint_confidence is 1 for every joint (OCC-MPJPE is then
empty) and a keypoint counts as visible when it projects into the image. The bundled open
body (or `--body`: your SMPL .npz, hmr-convert-smpl) gives the mesh, keypoints and box;
3DPW's gendered models and a per-actor `v_template` are not applied (said on stderr).
"""
import argparse
from pathlib import Path
import pickle
import sys

import numpy as np

FPS = 30.0


def camera_frame_params(pose, trans, rot, shift, rest_root):
    """World SMPL (pose (72,), trans (3,)) -> camera-frame pose and smplx translation."""
    from scipy.spatial.transform import Rotation
    pose = np.asarray(pose, np.float64).copy()
    pose[:3] = (Rotation.from_matrix(rot) * Rotation.from_rotvec(pose[:3])).as_rotvec()
    transl = rot @ (rest_root + np.asarray(trans, np.float64)) + shift - rest_root
    return pose, transl


def read_3dpw(path):
    """The fields of a 3DPW sequence pickle this converter uses."""
    with open(path, 'rb') as f:
        seq = pickle.load(f, encoding='latin1')
    need = ('poses', 'trans', 'betas', 'cam_poses', 'cam_intrinsics', 'campose_valid')
    missing = [k for k in need if k not in seq]
    if missing:
        raise ValueError(f'{path}: not a 3DPW sequence file (missing {missing})')
    return seq


def convert(pkl, image_dir, out, body=None, fps=FPS):
    """Write the bag; returns (frames written, person-frames)."""
    import cv2
    import torch

    from hmr_models.body import load_body_model
    from hmr_models.types import BodyEstimate, CameraIntrinsics, People
    from hmr_ros.ground_truth_bags import GroundTruthBagWriter
    from hmr_ros.person_msgs import to_person_array
    seq = read_3dpw(pkl)
    body = body or load_body_model(None)
    cam_poses = np.asarray(seq['cam_poses'], np.float64)
    k = np.asarray(seq['cam_intrinsics'], np.float64)
    frames = np.asarray(seq.get('img_frame_ids', np.arange(len(cam_poses))), np.int64)
    actors = len(seq['poses'])
    genders = list(seq.get('genders', ['n'] * actors))
    betas = [np.asarray(seq['betas'][a], np.float32).ravel()[:10] for a in range(actors)]
    if seq.get('v_template', seq.get('v_template_clothed')) is not None:
        print('hmr-convert-3dpw: the per-actor v_template is not applied (the mesh comes from '
              'betas; the joints from jointPositions when present)', file=sys.stderr)
    image_dir = Path(image_dir)
    period = int(round(1e9 / fps))
    start = 1_600_000_000 * 10**9
    written = people = 0
    with GroundTruthBagWriter(out) as bag:
        for t, fid in enumerate(frames):
            path = image_dir / f'image_{int(fid):05d}.jpg'
            bgr = cv2.imread(str(path))
            if bgr is None:
                raise FileNotFoundError(f'image {path} missing or unreadable')
            rgb = np.ascontiguousarray(bgr[..., ::-1])
            h, w = rgb.shape[:2]
            intr = CameraIntrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], w, h)
            rot, shift = cam_poses[t, :3, :3], cam_poses[t, :3, 3]
            rows = []                    # (actor, box, keypoints, visible, pose, transl, joints)
            for a in range(actors):
                if not bool(np.asarray(seq['campose_valid'][a])[t]):
                    continue
                b = torch.as_tensor(betas[a][None])
                with torch.no_grad():
                    rest_root = body(torch.zeros(1, 72), b).joints[0, 0].double().numpy()
                    pose, transl = camera_frame_params(seq['poses'][a][t], seq['trans'][a][t],
                                                       rot, shift, rest_root)
                    res = body(torch.as_tensor(pose[None], dtype=torch.float32), b,
                               torch.as_tensor(transl[None], dtype=torch.float32))
                    verts = res.vertices[0].numpy()
                    joints = res.joints[0].numpy()
                    coco = body.regress(res.vertices, 'coco17')[0].numpy()
                if 'jointPositions' in seq:
                    world = np.asarray(seq['jointPositions'][a][t], np.float64).reshape(24, 3)
                    joints = (world @ rot.T + shift).astype(np.float32)
                uv = coco[:, :2] / coco[:, 2:3] * [k[0, 0], k[1, 1]] + k[:2, 2]
                inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h) \
                    & (coco[:, 2] > 0)
                vuv = verts[:, :2] / verts[:, 2:3] * [k[0, 0], k[1, 1]] + k[:2, 2]
                box = np.concatenate([vuv.min(0), vuv.max(0)])
                rows.append((a, box, uv, inside, pose, transl, joints))
            n = len(rows)

            def col(i, shape):
                return np.array([r[i] for r in rows], np.float32).reshape(shape)
            gt = to_person_array(None, People(
                boxes=col(1, (n, 4)), scores=np.ones(n, np.float32), keypoints=col(2, (n, 17, 2)),
                keypoint_scores=col(3, (n, 17)),
                track_ids=np.array([r[0] for r in rows], np.int64)), BodyEstimate(
                pose=col(4, (n, 72)),
                betas=np.array([betas[r[0]] for r in rows], np.float32).reshape(n, 10),
                translation=col(5, (n, 3)), joints=col(6, (n, 24, 3)),
                joint_confidence=np.ones((n, 24), np.float32), body_model=body.name))
            for person, row in zip(gt.persons, rows):   # 3DPW's gender per actor
                person.model_profile = f'3dpw_ground_truth_{genders[row[0]]}'
            bag.write(start + int(fid) * period, rgb, intr, gt)
            people += n
            written += 1
    return written, people


def main(argv=None):
    p = argparse.ArgumentParser(prog='hmr-convert-3dpw', description=__doc__.split('\n\n')[0])
    p.add_argument('sequence', help='3DPW sequence pickle (sequenceFiles/<split>/<name>.pkl)')
    p.add_argument('images', help="the sequence's image folder (imageFiles/<name>/)")
    p.add_argument('out', help='new bag folder')
    p.add_argument('--body', default='', help="SMPL-format .npz ('' = bundled open body)")
    p.add_argument('--fps', type=float, default=FPS)
    ns = p.parse_args(argv)
    from hmr_models.body import load_body_model
    try:
        body = load_body_model(ns.body or None)
        frames, people = convert(ns.sequence, ns.images, ns.out, body, ns.fps)
    except (OSError, ValueError) as exc:
        print(f'hmr-convert-3dpw: {exc}', file=sys.stderr)
        return 2
    print(f'wrote {ns.out}: {frames} frames, {people} person-frames with ground truth')
    return 0


if __name__ == '__main__':
    sys.exit(main())
