"""geometry_msgs/TransformStamped and builtin_interfaces/Time <-> numpy transforms and seconds."""
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
import numpy as np

from hmr_models.awareness.frames import pose_to_transform, transform_to_pose


def to_time(stamp):
    sec = int(np.floor(stamp))
    return Time(sec=sec, nanosec=min(int(round((stamp - sec) * 1e9)), 999_999_999))


def to_seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


def transform_msg(parent, child, matrix, stamp):
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = parent
    msg.child_frame_id = child
    position, q = transform_to_pose(matrix)
    t = msg.transform.translation
    t.x, t.y, t.z = (float(v) for v in position)
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return msg


def transform_from_msg(transform):
    t, r = transform.translation, transform.rotation
    return pose_to_transform([t.x, t.y, t.z], [r.x, r.y, r.z, r.w])


def add_transforms(tree, msg):
    """Put the edges of a tf2_msgs/TFMessage into a TransformTree; what could not be read.

    Edges without both frame names or from a frame to itself are skipped; an edge whose
    rotation cannot be read (e.g. an all-zero quaternion) is left out and named in the returned
    list of messages, so that a node reports it instead of failing in its callback.
    """
    problems = []
    for t in msg.transforms:
        parent, child = t.header.frame_id, t.child_frame_id
        if parent and child and parent != child:
            try:
                tree.set(parent, child, transform_from_msg(t.transform))
            except ValueError as exc:
                problems.append(f'transform {parent} -> {child} ignored: {exc}')
    return problems
