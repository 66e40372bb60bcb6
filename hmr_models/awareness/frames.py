"""Rigid transforms, quaternions, the frame conventions and a small transform tree (no ROS).

Transforms are 4x4 homogeneous float64 matrices ``T_a_b`` that map points from frame ``b`` into
frame ``a`` (``p_a = T_a_b @ p_b``); the same matrix is the pose of ``b`` in ``a``, which is what
a TF message with header.frame_id ``a`` and child_frame_id ``b`` carries.

Conventions:

- camera optical frame (the images' frame_id): x right, y down, z forward (REP-103 ``_optical``);
- camera body frame (REP-103, e.g. ``camera_link``): x forward, y left, z up;
- robot frames (``base_link``): x forward, y left, z up; the ground plane is z = 0;
- SMPL's canonical body: y up, z forward (the way the body faces), x to the body's left;
- REP-155 body frames (``body_<id>``) and the joint frames (``<joint>_<id>``): x forward (the way
  the body faces), y left, z up.
"""
import numpy as np
from scipy.spatial.transform import Rotation

# Optical frame axes in the camera body frame (REP-103): x_opt = -y_cam, y_opt = -z_cam,
# z_opt = x_cam. As a quaternion (x, y, z, w): (-0.5, 0.5, -0.5, 0.5).
OPTICAL_IN_CAMERA = np.array([[0.0, 0.0, 1.0],
                              [-1.0, 0.0, 0.0],
                              [0.0, -1.0, 0.0]])
# Body-frame coordinates of a vector given in SMPL's canonical coordinates:
# x_body = z_smpl (forward), y_body = x_smpl (left), z_body = y_smpl (up).
SMPL_TO_BODY = np.array([[0.0, 0.0, 1.0],
                         [1.0, 0.0, 0.0],
                         [0.0, 1.0, 0.0]])


def make_transform(rotation=None, translation=None):
    """4x4 transform from a 3x3 rotation (default identity) and a translation (default 0)."""
    t = np.eye(4)
    if rotation is not None:
        t[:3, :3] = rotation
    if translation is not None:
        t[:3, 3] = translation
    return t


def invert(transform):
    """Inverse of a rigid 4x4 transform (or a stack of them, (..., 4, 4))."""
    t = np.asarray(transform, np.float64)
    rot_t = np.swapaxes(t[..., :3, :3], -1, -2)
    out = np.zeros_like(t)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -np.einsum('...ij,...j->...i', rot_t, t[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def transform_points(transform, points):
    """Apply a 4x4 transform to points (..., 3)."""
    t = np.asarray(transform, np.float64)
    p = np.asarray(points, np.float64)
    return p @ t[:3, :3].T + t[:3, 3]


def quaternion_xyzw(rotation):
    """Unit quaternion (x, y, z, w), ROS order, of a 3x3 rotation; w >= 0."""
    q = Rotation.from_matrix(np.asarray(rotation, np.float64)).as_quat()
    return q if q[3] >= 0 else -q


def rotation_from_quaternion(quaternion):
    """3x3 rotation of a quaternion (x, y, z, w); it is normalised first."""
    q = np.asarray(quaternion, np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError(f'quaternion {tuple(q)} has no direction')
    return Rotation.from_quat(q / norm).as_matrix()


def pose_to_transform(position, quaternion):
    """4x4 transform of a pose given as position (x, y, z) and quaternion (x, y, z, w)."""
    return make_transform(rotation_from_quaternion(quaternion), position)


def transform_to_pose(transform):
    """(position (3,), quaternion (x, y, z, w)) of a 4x4 transform."""
    t = np.asarray(transform, np.float64)
    return t[:3, 3].copy(), quaternion_xyzw(t[:3, :3])


def rpy_to_rotation(roll, pitch, yaw):
    """3x3 rotation of fixed-axis roll, pitch, yaw (URDF / tf2 convention: Rz(y) Ry(p) Rx(r))."""
    return Rotation.from_euler('xyz', [roll, pitch, yaw]).as_matrix()


def camera_pose_to_optical(camera_pose):
    """T_reference_optical from a camera pose [x, y, z, qx, qy, qz, qw] in REP-103 camera axes.

    ``camera_pose`` is the pose of the camera body frame (x along the optical axis, y left,
    z up) in the reference frame; the optical frame of the images (x right, y down, z forward)
    is fixed to it. A level camera 1.5 m up looking along x: [0, 0, 1.5, 0, 0, 0, 1]. Returns
    None when the pose is unset (None or empty).
    """
    if camera_pose is None or len(camera_pose) == 0:
        return None
    pose = np.asarray(camera_pose, np.float64).reshape(-1)
    if pose.shape != (7,) or not np.isfinite(pose).all():
        raise ValueError(f'camera_pose needs 7 numbers [x, y, z, qx, qy, qz, qw], got '
                         f'{list(pose)}')
    return pose_to_transform(pose[:3], pose[3:]) @ make_transform(OPTICAL_IN_CAMERA)


class TransformTree:
    """Frames and their latest transform to their parent, like a tf2 buffer without time.

    ``set(parent, child, T_parent_child)`` records an edge (a child has one parent; a new
    parent replaces the old one); ``lookup(target, source)`` composes the edges into
    ``T_target_source`` when both frames are in one tree, else returns None.
    """

    def __init__(self):
        self._edges = {}   # child -> (parent, T_parent_child)

    def set(self, parent, child, transform):
        if not parent or not child or parent == child:
            raise ValueError(f'bad edge {parent!r} -> {child!r}')
        self._edges[child] = (parent, np.asarray(transform, np.float64))

    def remove(self, child):
        self._edges.pop(child, None)

    def parent(self, child):
        edge = self._edges.get(child)
        return edge[0] if edge else None

    def frames(self):
        return set(self._edges) | {p for p, _ in self._edges.values()}

    def _to_root(self, frame):
        """(root, T_root_frame) following parents; loops are cut."""
        t = np.eye(4)
        seen = {frame}
        while frame in self._edges:
            parent, edge = self._edges[frame]
            t = edge @ t
            frame = parent
            if frame in seen:
                break
            seen.add(frame)
        return frame, t

    def lookup(self, target, source):
        """T_target_source (maps points of `source` into `target`), or None if unconnected."""
        if target == source:
            return np.eye(4)
        root_t, t_root_target = self._to_root(target)
        root_s, t_root_source = self._to_root(source)
        if root_t != root_s:
            return None
        return invert(t_root_target) @ t_root_source

    def up_in(self, frame, up_frame):
        """`up_frame`'s z axis (REP-103: up) as a unit vector in `frame`, or None if unlinked."""
        return _z_axis_in(self.lookup(up_frame, frame))

    def floor_in(self, frame, floor_frame):
        """(up, height) of the floor in `frame`, or None if unlinked.

        up: `floor_frame`'s z axis in `frame`; height: `frame`'s origin above floor_frame's xy
        plane (REP-120 base_footprint: the ground).
        """
        t = self.lookup(floor_frame, frame)
        up = _z_axis_in(t)
        if up is None or not np.isfinite(t[2, 3]):
            return None
        return up, float(t[2, 3])


def _z_axis_in(t):
    """The z axis of T's target frame as a unit vector in its source frame (None: no T)."""
    if t is None:
        return None
    up = t[:3, :3].T @ np.array([0.0, 0.0, 1.0])    # t maps the source frame into the target
    norm = np.linalg.norm(up)
    return up / norm if np.isfinite(norm) and norm > 1e-9 else None
