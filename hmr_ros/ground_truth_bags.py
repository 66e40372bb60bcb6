"""Bags with ground truth for replay evaluation (`hmr-eval`): synthetic scenes and 3DPW.

`GroundTruthBagWriter` writes one topic set (images, camera_info, ground-truth SMPLPersonArray,
optionally simulated detections) with the node's own messages (rclpy classes filled by
`to_person_array`, `camera_info_from_intrinsics`, `rgb_to_image`), serialized by rclpy and
written with `hmr_ros.bags`: such a bag has exactly the layout the node reads and publishes.
Users: `write_scene_bag` (synthetic scenes; `hmr-synth --bags`, which is
`python -m hmr_models.data.synth.generate` with this writer) and `hmr-convert-3dpw`.
"""
import json
import logging
from pathlib import Path
import sys

from builtin_interfaces.msg import Time
import numpy as np
from rclpy.serialization import serialize_message
from std_msgs.msg import Header

from hmr_models.types import BodyEstimate, People
from hmr_ros.bags import open_writer, typestore
from hmr_ros.camera_info import camera_info_from_intrinsics
from hmr_ros.image_conversion import rgb_to_image
from hmr_ros.person_msgs import to_person_array

log = logging.getLogger(__name__)

TOPICS = {'image': '/camera/image_raw', 'camera_info': '/camera/camera_info',
          'ground_truth': '/ground_truth/persons', 'detections': '/ground_truth/detections'}
TYPES = {'image': 'sensor_msgs/msg/Image', 'camera_info': 'sensor_msgs/msg/CameraInfo',
         'ground_truth': 'hmr_ros/msg/SMPLPersonArray',
         'detections': 'hmr_ros/msg/SMPLPersonArray'}


def ground_truth(scene, frame):
    """(People, BodyEstimate) of every person of the scene at `frame`, as the node's output.

    Keypoint scores are the keypoints' visibility, joint confidences the joints' visibility.
    """
    ppl = scene.people
    n = len(ppl)
    betas = np.zeros((n, 10), np.float32)
    for i, p in enumerate(ppl):
        betas[i, :min(10, len(p.betas))] = p.betas[:10]
    people = People(
        boxes=np.array([p.boxes[frame] for p in ppl], np.float32).reshape(n, 4),
        scores=np.ones(n, np.float32),
        keypoints=np.array([p.keypoints2d[frame] for p in ppl], np.float32).reshape(n, 17, 2),
        keypoint_scores=np.array([p.keypoint_codes[frame] == 0 for p in ppl],
                                 np.float32).reshape(n, 17),
        track_ids=np.array([p.track_id for p in ppl], np.int64))
    bodies = BodyEstimate(
        pose=np.array([p.pose[frame] for p in ppl], np.float32).reshape(n, 72), betas=betas,
        translation=np.array([p.transl[frame] for p in ppl], np.float32).reshape(n, 3),
        joints=np.array([p.joints[frame] for p in ppl], np.float32).reshape(n, 24, 3),
        joint_confidence=np.array([p.joint_codes[frame] == 0 for p in ppl],
                                  np.float32).reshape(n, 24),
        temporal=False, body_model=scene.body_name, model_profile='ground_truth')
    return people, bodies


class GroundTruthBagWriter:
    """A new bag of frames: image, camera_info, ground truth (and simulated detections).

    Use as a context manager; `write` one frame at a time, in time order.
    """

    def __init__(self, path, storage='mcap', detections=False,
                 frame_id='camera_optical_frame'):
        path = Path(path)
        if path.exists():
            raise FileExistsError(f'bag output {path} already exists (rosbag2 writes a new '
                                  'folder)')
        if storage not in ('mcap', 'sqlite3'):
            raise ValueError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
        store = typestore()
        self.path, self.frame_id, self.frames = path, frame_id, 0
        self._writer = open_writer(path, storage)
        keys = [key for key in TOPICS if key != 'detections' or detections]
        self._conns = {key: self._writer.add_connection(TOPICS[key], TYPES[key],
                                                        typestore=store) for key in keys}

    def write(self, stamp_ns, rgb, intrinsics, ground_truth, detections=None):
        """One frame: rgb (H, W, 3) uint8, CameraIntrinsics, SMPLPersonArray messages.

        The header (stamp, frame) is set on every message here.
        """
        rgb = np.ascontiguousarray(rgb, np.uint8)
        if rgb.shape != (intrinsics.height, intrinsics.width, 3):
            raise ValueError(f'frame {self.frames}: image is {rgb.shape}, camera is '
                             f'{intrinsics.width}x{intrinsics.height}x3')
        stamp_ns = int(stamp_ns)
        header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                        frame_id=self.frame_id)
        # camera_info first: a node then has this camera's intrinsics for the image.
        msgs = {'camera_info': camera_info_from_intrinsics(intrinsics),
                'image': rgb_to_image(rgb), 'ground_truth': ground_truth}
        if detections is not None:
            msgs['detections'] = detections
        for key, msg in msgs.items():
            msg.header = header
            self._writer.write(self._conns[key], stamp_ns, serialize_message(msg))
        self.frames += 1

    def close(self):
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_scene_bag(path, scene, images, detections=None, storage='mcap',
                    frame_id='camera_optical_frame', start_ns=1_700_000_000 * 10**9):
    """Write a rosbag2 (MCAP by default) of one synthetic scene for replay evaluation.

    Topics: /camera/image_raw (sensor_msgs/Image rgb8), /camera/camera_info,
    /ground_truth/persons (hmr_ros/SMPLPersonArray: the true SMPL parameters, 3D joints,
    COCO-17 pixels with visibility as keypoint_scores, joint_confidence = joint visible) and,
    with `detections`, /ground_truth/detections (the simulated detector's keypoints).

    Args:
        path: new bag folder (must not exist).
        scene: hmr_models.data.synth.Scene.
        images: iterable of (H, W, 3) uint8 RGB frames (e.g. from SceneRenderer), one per
            scene frame.
        detections: optional output of hmr_models.data.synth.detect_scene.
    Returns:
        the bag path.
    """
    k = scene.camera.intrinsics
    period_ns = int(round(1e9 / scene.fps))
    with GroundTruthBagWriter(path, storage, detections is not None, frame_id) as bag:
        for f, image in enumerate(images):
            if f >= scene.num_frames:
                break
            det = None if detections is None else \
                to_person_array(None, detections[f][0], None, 'simulated_detector')
            bag.write(start_ns + f * period_ns, image, k,
                      to_person_array(None, *ground_truth(scene, f)), det)
    path = Path(path)
    (path / 'scene.json').write_text(json.dumps(dict(
        seed=scene.seed, fps=scene.fps, frames=bag.frames, body=scene.body_name,
        people=[dict(track_id=p.track_id, clip_id=p.clip_id, collection=p.collection,
                     free=p.free) for p in scene.people],
        occluders=[dict(kind=o.kind, centre=o.centre.tolist(),
                        half_size=o.half_size.tolist(), yaw=o.yaw)
                   for o in scene.occluders]), indent=1))
    log.info('wrote %s: %d frames', path, bag.frames)
    return path


def main(argv=None):
    """`hmr-synth`: synthetic samples, sequences and (this module) rosbags."""
    from hmr_models.data.synth.generate import main as generate
    return generate(argv, write_bag=write_scene_bag, prog='hmr-synth')


if __name__ == '__main__':
    sys.exit(main())
