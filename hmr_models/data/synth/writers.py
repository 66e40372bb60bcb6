"""Files made from synthetic scenes.

Per-person training samples (DPMesh) and per-track sequences (DiffMesh). Rosbags with ground
truth (replay evaluation) are ROS messages: hmr_ros.ground_truth_bags writes them
(`hmr-synth --bags`).

Per-person samples (:func:`person_samples`, :func:`write_samples`): one npz shard holds N
samples stacked along the first axis (camera frame, pixels of the full image):

    pose (N, 72), betas (N, B), transl (N, 3), joints3d (N, 24, 3), keypoints3d (N, 17, 3)
    keypoints2d (N, 17, 2) ground truth; keypoint_codes (N, 17) uint8 occlusion bit flags
        (0 visible, 1 out of frame, 2 self, 4 other person, 8 object); keypoint_visible (N, 17)
    joints2d (N, 24, 2), joint_codes (N, 24)
    det_keypoints2d (N, 17, 2) simulated detector (NaN = missing), det_scores (N, 17),
    det_box (N, 4), detected (N,) bool; gt_box (N, 4) amodal box from the mesh
    K (N, 3, 3), image_size (N, 2) (width, height)
    crop (N, S, S, 3) uint8, crop_to_image (N, 2, 3) and has_crop (N,), when images were
        given (the crop follows the detected box, else the ground-truth box, as at run time;
        zeros and has_crop False for frames without an image)
    neighbor_keypoints2d (N, 17, 2): ground-truth keypoints of the person whose box overlaps
        most (NaN when none does), neighbor_track_id (N,) (-1: none) - for NKR's noise
    scene_seed (N,), frame (N,), track_id (N,), clip_id (N,) str, free (N,) bool

Sequences (:func:`write_sequence`): one npz per scene with (P, T, ...) arrays: ground truth
(pose, betas, transl, joints3d, keypoints2d, codes), the simulated per-frame estimates
(est_pose, est_betas, est_transl, est_confidence, est_spike, est_source_track) and detections
(det_keypoints2d, det_scores, detected), plus K, image_size, fps, clip ids and licences.
"""
import logging
from pathlib import Path

import numpy as np

from .detector_noise import simulate_detections

log = logging.getLogger(__name__)


def detect_scene(scene, rng, config=None):
    """Simulated detections of every frame.

    Returns a list over frames of (People, error types, detected mask) (see
    :func:`.detector_noise.simulate_detections`).
    """
    k = scene.camera.intrinsics
    out = []
    for f in range(scene.num_frames):
        out.append(simulate_detections(
            np.stack([p.keypoints2d[f] for p in scene.people]),
            np.stack([p.keypoint_codes[f] for p in scene.people]),
            np.stack([p.keypoint_occluder[f] for p in scene.people]),
            (k.width, k.height), rng, config,
            boxes=np.stack([p.boxes[f] for p in scene.people])))
    return out


def person_samples(scene, detections, frames=None, images=None, crop_size=256,
                   min_visible=0.0):
    """Per-person samples of chosen frames as a dict of stacked arrays (see module doc).

    Args:
        scene: Scene.
        detections: from :func:`detect_scene`.
        frames: frame indices (default all).
        images: {frame: (H, W, 3) uint8} rendered images; crops are cut when given.
        min_visible: skip people with fewer visible COCO keypoints than this fraction.
    """
    frames = range(scene.num_frames) if frames is None else frames
    k = scene.camera.intrinsics
    rows = []
    for f in frames:
        people, _, detected = detections[f]
        det_index = {int(t): i for i, t in enumerate(people.track_ids)}
        neighbour = _neighbours(np.stack([p.boxes[f] for p in scene.people]))
        for p in scene.people:
            if p.keypoint_visible[f].mean() < min_visible:
                continue
            i = det_index.get(p.track_id)
            row = dict(
                pose=p.pose[f], betas=p.betas, transl=p.transl[f], joints3d=p.joints[f],
                keypoints3d=p.keypoints3d[f], keypoints2d=p.keypoints2d[f],
                keypoint_codes=p.keypoint_codes[f], keypoint_visible=p.keypoint_codes[f] == 0,
                joints2d=p.joints2d[f], joint_codes=p.joint_codes[f], gt_box=p.boxes[f],
                det_keypoints2d=(people.keypoints[i] if i is not None
                                 else np.full((17, 2), np.nan, np.float32)),
                det_scores=(people.keypoint_scores[i] if i is not None
                            else np.zeros(17, np.float32)),
                det_box=people.boxes[i] if i is not None else p.boxes[f],
                detected=bool(detected[p.track_id]), K=k.matrix.astype(np.float32),
                image_size=np.array([k.width, k.height], np.int32), scene_seed=scene.seed,
                frame=f, track_id=p.track_id, clip_id=p.clip_id, free=p.free)
            n = neighbour[p.track_id]
            row['neighbor_track_id'] = n
            row['neighbor_keypoints2d'] = (scene.people[n].keypoints2d[f] if n >= 0 else
                                           np.full((17, 2), np.nan, np.float32))
            if images is not None:
                row['has_crop'] = f in images
                row['crop'] = np.zeros((crop_size, crop_size, 3), np.uint8)
                row['crop_to_image'] = np.zeros((2, 3), np.float32)
                if f in images:
                    from hmr_models.frontend.crops import make_crops
                    crops = make_crops(images[f], row['det_box'][None], size=crop_size)
                    row['crop'] = crops.images[0]
                    row['crop_to_image'] = crops.crop_to_image[0]
            rows.append(row)
    if not rows:
        return {}
    return {key: np.stack([np.asarray(r[key]) for r in rows]) for key in rows[0]}


def _neighbours(boxes):
    """(P,) index of the person whose box overlaps each box most (-1: none overlaps)."""
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    np.fill_diagonal(inter, 0)
    return np.where(inter.max(1) > 0, inter.argmax(1), -1)


def write_samples(path, samples):
    """Write stacked samples (from :func:`person_samples`, possibly concatenated) to npz."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **samples)
    return path


def concat_samples(parts):
    """Concatenate sample dicts along the first axis (skipping empty ones)."""
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def write_sequence(path, scene, estimates, detections):
    """One npz with every track of a scene (see module doc)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = scene.camera.intrinsics
    ppl = scene.people
    t = scene.num_frames
    det_kp = np.full((len(ppl), t, 17, 2), np.nan, np.float32)
    det_sc = np.zeros((len(ppl), t, 17), np.float32)
    det_ok = np.zeros((len(ppl), t), bool)
    for f, (people, _, detected) in enumerate(detections):
        det_ok[:, f] = detected
        for i, tid in enumerate(people.track_ids):
            det_kp[tid, f] = people.keypoints[i]
            det_sc[tid, f] = people.keypoint_scores[i]
    np.savez_compressed(
        path, pose=np.stack([p.pose for p in ppl]), betas=np.stack([p.betas for p in ppl]),
        transl=np.stack([p.transl for p in ppl]), joints3d=np.stack([p.joints for p in ppl]),
        keypoints2d=np.stack([p.keypoints2d for p in ppl]),
        keypoint_codes=np.stack([p.keypoint_codes for p in ppl]),
        joint_codes=np.stack([p.joint_codes for p in ppl]),
        boxes=np.stack([p.boxes for p in ppl]),
        est_pose=np.stack([e.pose for e in estimates]),
        est_betas=np.stack([e.betas for e in estimates]),
        est_transl=np.stack([e.transl for e in estimates]),
        est_confidence=np.stack([e.joint_confidence for e in estimates]),
        est_spike=np.stack([e.spike for e in estimates]),
        est_source_track=np.stack([e.source_track for e in estimates]),
        det_keypoints2d=det_kp, det_scores=det_sc, detected=det_ok,
        K=k.matrix.astype(np.float32), image_size=np.array([k.width, k.height], np.int32),
        fps=np.float32(scene.fps), scene_seed=np.int64(scene.seed),
        clip_id=np.array([p.clip_id for p in ppl]), free=np.array([p.free for p in ppl]),
        body=np.array(scene.body_name))
    return path
