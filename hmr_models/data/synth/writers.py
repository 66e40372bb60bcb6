"""Files made from synthetic scenes.

Per-person training samples (DPMesh), per-track sequences (DiffMesh) and rosbags with ground
truth (replay evaluation).

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
import json
import logging
from pathlib import Path
import sys

import numpy as np

from .detector_noise import simulate_detections

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
MESSAGES = ('SMPLPerson', 'SMPLPersonArray')
TOPICS = {'image': '/camera/image_raw', 'camera_info': '/camera/camera_info',
          'ground_truth': '/ground_truth/persons', 'detections': '/ground_truth/detections'}


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


# ---- rosbags ------------------------------------------------------------------------------


def message_dir():
    """Folder with SMPLPerson.msg / SMPLPersonArray.msg.

    The checkout's msg/, else the installed share/hmr_ros/msg.
    """
    for folder in (REPO_ROOT / 'msg', Path(sys.prefix) / 'share' / 'hmr_ros' / 'msg'):
        if (folder / 'SMPLPersonArray.msg').is_file():
            return folder
    raise FileNotFoundError('hmr_ros message definitions (SMPLPersonArray.msg) not found in '
                            f'{REPO_ROOT / "msg"} or {Path(sys.prefix) / "share/hmr_ros/msg"}'
                            ': pass msg_dir=')


def typestore(msg_dir=None):
    """rosbags type store: ROS 2 Kilted types + hmr_ros/msg/* registered from the .msg text."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg
    store = get_typestore(Stores.ROS2_KILTED)
    folder = Path(msg_dir) if msg_dir else message_dir()
    types = {}
    for name in MESSAGES:
        types.update(get_types_from_msg((folder / f'{name}.msg').read_text(),
                                        f'hmr_ros/msg/{name}'))
    store.register(types)
    return store


def _header(store, stamp_ns, frame_id):
    Time = store.types['builtin_interfaces/msg/Time']
    Header = store.types['std_msgs/msg/Header']
    return Header(stamp=Time(sec=int(stamp_ns // 10**9), nanosec=int(stamp_ns % 10**9)),
                  frame_id=frame_id)


def _camera_info(store, header, k):
    CameraInfo = store.types['sensor_msgs/msg/CameraInfo']
    RegionOfInterest = store.types['sensor_msgs/msg/RegionOfInterest']
    kk = k.matrix.reshape(-1)
    p = np.array([k.fx, 0, k.cx, 0, 0, k.fy, k.cy, 0, 0, 0, 1, 0], np.float64)
    return CameraInfo(header=header, height=k.height, width=k.width,
                      distortion_model='plumb_bob', d=np.zeros(5), k=kk,
                      r=np.eye(3).reshape(-1), p=p, binning_x=0, binning_y=0,
                      roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0,
                                           do_rectify=False))


def _person_msgs(store, scene, frame, detections=None):
    """SMPLPerson messages: ground truth of every person (or the simulated detections)."""
    Person = store.types['hmr_ros/msg/SMPLPerson']
    Vector3 = store.types['geometry_msgs/msg/Vector3']
    out = []
    if detections is not None:
        people = detections[frame][0]
        for i in range(len(people)):
            out.append(Person(
                track_id=int(people.track_ids[i]), score=float(people.scores[i]),
                bbox=people.boxes[i].astype(np.float32),
                keypoints_2d=people.keypoints[i].reshape(-1).astype(np.float32),
                keypoint_scores=people.keypoint_scores[i].astype(np.float32), has_mesh=False,
                pose=np.zeros(72, np.float32), betas=np.zeros(10, np.float32),
                translation=Vector3(x=0.0, y=0.0, z=0.0), joints_3d=np.zeros(72, np.float32),
                joint_confidence=np.zeros(24, np.float32), temporal=False, body_model='',
                model_profile='simulated_detector'))
        return out
    for p in scene.people:
        vis = (p.keypoint_codes[frame] == 0).astype(np.float32)
        betas = np.zeros(10, np.float32)
        betas[:min(10, len(p.betas))] = p.betas[:10]
        out.append(Person(
            track_id=int(p.track_id), score=1.0, bbox=p.boxes[frame].astype(np.float32),
            keypoints_2d=p.keypoints2d[frame].reshape(-1).astype(np.float32),
            keypoint_scores=vis, has_mesh=True, pose=p.pose[frame].astype(np.float32),
            betas=betas, translation=Vector3(x=float(p.transl[frame, 0]),
                                             y=float(p.transl[frame, 1]),
                                             z=float(p.transl[frame, 2])),
            joints_3d=p.joints[frame].reshape(-1).astype(np.float32),
            joint_confidence=(p.joint_codes[frame] == 0).astype(np.float32), temporal=False,
            body_model=scene.body_name, model_profile='ground_truth'))
    return out


def write_scene_bag(path, scene, images, detections=None, msg_dir=None, storage='mcap',
                    frame_id='camera_optical_frame', start_ns=1_700_000_000 * 10**9):
    """Write a rosbag2 (MCAP by default) of one scene for replay evaluation.

    Topics: /camera/image_raw (sensor_msgs/Image rgb8), /camera/camera_info,
    /ground_truth/persons (hmr_ros/SMPLPersonArray: the true SMPL parameters, 3D joints,
    COCO-17 pixels with visibility as keypoint_scores, joint_confidence = joint visible) and,
    with `detections`, /ground_truth/detections (the simulated detector's keypoints).

    Args:
        path: new bag folder (must not exist).
        scene: Scene.
        images: iterable of (H, W, 3) uint8 RGB frames (e.g. from SceneRenderer), one per
            scene frame.
        detections: optional output of :func:`detect_scene`.
    Returns:
        the bag path.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    path = Path(path)
    if path.exists():
        raise FileExistsError(f'bag output {path} already exists (rosbag2 writes a new folder)')
    plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise ValueError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
    store = typestore(msg_dir)
    Image = store.types['sensor_msgs/msg/Image']
    PersonArray = store.types['hmr_ros/msg/SMPLPersonArray']
    k = scene.camera.intrinsics
    period_ns = int(round(1e9 / scene.fps))
    with Writer(path, version=9, storage_plugin=plugins[storage]) as writer:
        conns = {
            'image': writer.add_connection(TOPICS['image'], Image.__msgtype__,
                                           typestore=store),
            'camera_info': writer.add_connection(TOPICS['camera_info'],
                                                 'sensor_msgs/msg/CameraInfo',
                                                 typestore=store),
            'ground_truth': writer.add_connection(TOPICS['ground_truth'],
                                                  PersonArray.__msgtype__, typestore=store),
        }
        if detections is not None:
            conns['detections'] = writer.add_connection(
                TOPICS['detections'], PersonArray.__msgtype__, typestore=store)
        count = 0
        for f, image in enumerate(images):
            if f >= scene.num_frames:
                break
            image = np.ascontiguousarray(image, np.uint8)
            if image.shape != (k.height, k.width, 3):
                raise ValueError(f'frame {f}: image is {image.shape}, camera is '
                                 f'{k.width}x{k.height}x3')
            stamp = start_ns + f * period_ns
            header = _header(store, stamp, frame_id)
            # camera_info first: a node then has this camera's intrinsics for the image.
            msgs = {
                'camera_info': _camera_info(store, header, k),
                'image': Image(header=header, height=k.height, width=k.width,
                               encoding='rgb8', is_bigendian=0, step=3 * k.width,
                               data=image.reshape(-1)),
                'ground_truth': PersonArray(header=header,
                                            persons=_person_msgs(store, scene, f)),
            }
            if detections is not None:
                msgs['detections'] = PersonArray(
                    header=header, persons=_person_msgs(store, scene, f, detections))
            for key, msg in msgs.items():
                writer.write(conns[key], stamp, store.serialize_cdr(msg, msg.__msgtype__))
            count += 1
    (path / 'scene.json').write_text(json.dumps(dict(
        seed=scene.seed, fps=scene.fps, frames=count, body=scene.body_name,
        people=[dict(track_id=p.track_id, clip_id=p.clip_id, collection=p.collection,
                     free=p.free) for p in scene.people],
        occluders=[dict(kind=o.kind, centre=o.centre.tolist(),
                        half_size=o.half_size.tolist(), yaw=o.yaw)
                   for o in scene.occluders]), indent=1))
    log.info('wrote %s: %d frames', path, count)
    return path
