"""Synthetic scenarios with exact geometry, for tests and benchmarks of the awareness layer.

A person is placed in a robot frame (x forward, y left, z up, ground z = 0), standing on the
ground at (x, y) and facing `yaw`, then seen by a camera whose optical frame has the pose
``T_robot_optical``: the result is what hmr_node would publish for that image (SMPL pose and
joints in the camera optical frame, COCO-17 keypoints and box in pixels).
"""
import numpy as np
from scipy.spatial.transform import Rotation

from hmr_models.types import CameraIntrinsics

from .frames import SMPL_TO_BODY, camera_pose_to_optical, invert, transform_points
from .humans import PersonInput

L_HIP, R_HIP, L_KNEE, R_KNEE, L_SHOULDER, R_SHOULDER = 1, 2, 4, 5, 16, 17


def walking_pose(phase, stride=0.35):
    """(24, 3) SMPL local axis-angles of a simple walk cycle at `phase` (radians); arms down."""
    pose = np.zeros((24, 3))
    swing = stride * np.sin(phase)
    pose[L_HIP, 0], pose[R_HIP, 0] = -swing, swing
    pose[L_KNEE, 0] = 0.5 * max(0.0, np.sin(phase + np.pi / 2))
    pose[R_KNEE, 0] = 0.5 * max(0.0, -np.sin(phase + np.pi / 2))
    pose[L_SHOULDER, 2], pose[R_SHOULDER, 2] = -1.25, 1.25   # arms down by the sides
    pose[L_SHOULDER, 0], pose[R_SHOULDER, 0] = swing, -swing
    return pose


def pointing_pose():
    """(24, 3) local axis-angles: standing, left arm down, right arm pointing straight ahead."""
    pose = walking_pose(0.0)
    pose[R_SHOULDER] = (0.0, np.pi / 2, 0.0)   # T-pose arm (-x) turned about up to forward
    return pose


def facing(position, target=(0.0, 0.0)):
    """Yaw of a person at `position` (x, y) facing `target`."""
    return float(np.arctan2(target[1] - position[1], target[0] - position[0]))


def level_camera(height=1.2, pitch_down=0.0, x=0.0, y=0.0):
    """Camera pose [x, y, z, qx, qy, qz, qw] (REP-103 camera axes) looking along the robot's x."""
    q = Rotation.from_euler('xyz', [0.0, pitch_down, 0.0]).as_quat()
    return [x, y, height, *q]


def synthetic_person(body_model, track_id, position, yaw, robot_from_optical, intrinsics,
                     local_pose=None, betas=None, score=0.9):
    """PersonInput of a person standing at `position` (x, y) of the robot frame facing `yaw`.

    Returns (PersonInput, vertices in the robot frame (V, 3)).
    """
    import torch
    local = np.zeros((24, 3)) if local_pose is None else np.asarray(local_pose, np.float64)
    betas = np.zeros(10) if betas is None else np.asarray(betas, np.float64)
    world_orient = Rotation.from_euler('z', yaw).as_matrix() @ SMPL_TO_BODY
    pose_w = local.copy()
    pose_w[0] = Rotation.from_matrix(world_orient).as_rotvec()
    with torch.no_grad():
        out = body_model(pose_w.reshape(1, 72), betas.reshape(1, -1))
    vertices, joints = (a[0].astype(np.float64) for a in out.numpy())
    rest_pelvis = joints[0].copy()           # smplx: the posed root is rest root + transl
    lift = np.array([position[0], position[1], 0.0]) - joints[0]
    lift[2] = -vertices[:, 2].min()               # feet on the ground
    vertices, joints = vertices + lift, joints + lift
    optical_from_robot = invert(robot_from_optical)
    pose_c = local.copy()
    pose_c[0] = Rotation.from_matrix(optical_from_robot[:3, :3] @ world_orient).as_rotvec()
    joints_c = transform_points(optical_from_robot, joints)
    vertices_c = transform_points(optical_from_robot, vertices)
    uv = intrinsics.project(vertices_c)          # NaN for vertices behind the camera
    keypoints = intrinsics.project(
        body_model.regress(vertices_c[None].astype(np.float32), 'coco17')[0])
    person = PersonInput(
        track_id=track_id, bbox=np.array([*np.nanmin(uv, 0), *np.nanmax(uv, 0)]),
        keypoints=keypoints,
        keypoint_scores=np.full(17, score), score=score, has_mesh=True,
        pose=pose_c.reshape(72), betas=betas, joints=joints_c, body_model=body_model.name,
        translation=joints_c[0] - rest_pelvis)
    return person, vertices


def default_camera(width=640, height=480):
    return CameraIntrinsics.from_image_diagonal(width, height)


def approach_sequence(body_model, camera_pose, start=5.0, stop=0.5, speed=1.0, rate=10.0,
                      lateral=0.3, track_id=7, intrinsics=None):
    """A person walking straight at the robot along its x axis: [(stamp, PersonInput), ...]."""
    intrinsics = intrinsics or default_camera()
    robot_from_optical = camera_pose_to_optical(camera_pose)
    frames = []
    steps = int(round((start - stop) / speed * rate)) + 1
    for k in range(steps):
        x = start - k * speed / rate
        person, _ = synthetic_person(body_model, track_id, (x, lateral), np.pi, robot_from_optical,
                                     intrinsics, walking_pose(k * 2 * np.pi / 10))
        frames.append((k / rate, person))
    return frames


def approach_scene(body_model, camera_pose, rate=10.0, hidden_s=0.8, start=4.0, stop=0.5,
                   speed=1.4, intrinsics=None):
    """The demo and test clip: [(stamp, [PersonInput])] in one robot frame.

    Track 7 walks straight at the robot from `start` to `stop` metres (passing 0.3 m to its
    left) while track 3 stands at (3.0, 1.6), facing the robot and pointing at it with the
    right arm; then 7 disappears (occluded, or gone) for `hidden_s` seconds.
    """
    intrinsics = intrinsics or default_camera()
    robot_from_optical = camera_pose_to_optical(camera_pose)
    at = (3.0, 1.6)
    pointer, _ = synthetic_person(body_model, 3, at, facing(at), robot_from_optical, intrinsics,
                                  pointing_pose())
    walk = approach_sequence(body_model, camera_pose, start=start, stop=stop, speed=speed,
                             rate=rate, intrinsics=intrinsics)
    frames = [(stamp, [walker, pointer]) for stamp, walker in walk]
    end = frames[-1][0]
    frames += [(end + k / rate, [pointer]) for k in range(1, int(round(hidden_s * rate)) + 1)]
    return frames
