"""RViz markers for body meshes: pure functions, no node.

One ``visualization_msgs/MarkerArray`` per frame: for every person a TRIANGLE_LIST mesh coloured
by track id (namespace ``mesh``), the SMPL skeleton as a LINE_LIST (``skeleton``) and a text
label with the id (``label``); a leading DELETEALL clears people who left.

Building a 14k-triangle TRIANGLE_LIST from ``geometry_msgs/Point`` objects takes ~90 ms in
Python, so :func:`body_markers_cdr` writes the serialized message (CDR, as rmw_fastrtps sends
it) straight from numpy; rclpy publishes ``bytes`` as a serialized message. The slow path
:func:`body_markers` builds the same MarkerArray as message objects (for subscribers in the
same process, and as the reference the tests compare the bytes with).
"""
import struct

import numpy as np

from hmr_models.render.colors import track_colors
from hmr_models.skeleton import SMPL24_PARENTS

TRIANGLE_LIST = 11
LINE_LIST = 5
TEXT_VIEW_FACING = 9
ADD = 0
DELETEALL = 3

# Little-endian plain CDR encapsulation header (what rclpy's serialize_message produces).
_CDR_LE = b'\x00\x01\x00\x00'
_SKELETON_PAIRS = np.array([(p, j) for j, p in enumerate(SMPL24_PARENTS) if p >= 0],
                           dtype=np.int64)


class MarkerStyle:
    """Appearance knobs (same names as the node's parameters would use).

    mesh_alpha: mesh opacity; line_width: skeleton width (m); text_height: label height (m);
    label_offset: label position relative to the head joint, in the message frame (default:
    30 cm "up" in a camera optical frame, where y points down); lifetime: seconds before RViz
    drops markers that were not refreshed (0 = forever).
    """

    def __init__(self, mesh_alpha=0.8, line_width=0.02, text_height=0.15,
                 label_offset=(0.0, -0.3, 0.0), lifetime=0.5, skeleton=True, labels=True):
        self.mesh_alpha = float(mesh_alpha)
        self.line_width = float(line_width)
        self.text_height = float(text_height)
        self.label_offset = np.asarray(label_offset, np.float64).reshape(3)
        self.lifetime = float(lifetime)
        self.skeleton = bool(skeleton)
        self.labels = bool(labels)


def _marker_ids(track_ids):
    """Marker ids: the track id, or 1,000,000 + index for untracked (-1) people."""
    track_ids = np.asarray(track_ids, np.int64).reshape(-1)
    return np.where(track_ids >= 0, track_ids, 1_000_000 + np.arange(len(track_ids)))


def _check(vertices, faces, joints, track_ids):
    vertices = np.asarray(vertices, np.float64)
    if vertices.ndim != 3 or vertices.shape[2] != 3:
        raise ValueError(f'vertices must be (N, V, 3), got {vertices.shape}')
    faces = np.asarray(faces, np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f'faces must be (F, 3), got {faces.shape}')
    n = vertices.shape[0]
    track_ids = np.asarray(track_ids, np.int64).reshape(-1)
    if track_ids.shape != (n,):
        raise ValueError(f'track_ids must have {n} entries, got {track_ids.shape}')
    if joints is not None:
        joints = np.asarray(joints, np.float64)
        if joints.shape != (n, 24, 3):
            raise ValueError(f'joints must be ({n}, 24, 3), got {joints.shape}')
    return vertices, faces, joints, track_ids


def _split_stamp(stamp):
    """(sec, nanosec) from a builtin_interfaces/Time, a (sec, nanosec) pair or float seconds."""
    if hasattr(stamp, 'sec') and hasattr(stamp, 'nanosec'):
        return int(stamp.sec), int(stamp.nanosec)
    if isinstance(stamp, (tuple, list)):
        return int(stamp[0]), int(stamp[1])
    ns = int(round(float(stamp) * 1e9))
    return ns // 1_000_000_000, ns % 1_000_000_000


def _marker_specs(vertices, faces, joints, track_ids, style):
    """Everything both paths need, as plain numbers and arrays, one dict per marker."""
    colors = track_colors(track_ids)
    ids = _marker_ids(track_ids)
    specs = []
    for i in range(vertices.shape[0]):
        rgba = (*colors[i], style.mesh_alpha)
        specs.append(dict(ns='mesh', id=int(ids[i]), type=TRIANGLE_LIST, scale=(1.0, 1.0, 1.0),
                          color=rgba, position=(0.0, 0.0, 0.0),
                          points=vertices[i][faces].reshape(-1, 3), text=''))
        if joints is not None and style.skeleton:
            specs.append(dict(ns='skeleton', id=int(ids[i]), type=LINE_LIST,
                              scale=(style.line_width, 0.0, 0.0), color=(*colors[i], 1.0),
                              position=(0.0, 0.0, 0.0),
                              points=joints[i][_SKELETON_PAIRS].reshape(-1, 3), text=''))
        if style.labels:
            anchor = joints[i, 15] if joints is not None else vertices[i].mean(0)
            label = f'id {track_ids[i]}' if track_ids[i] >= 0 else 'untracked'
            specs.append(dict(ns='label', id=int(ids[i]), type=TEXT_VIEW_FACING,
                              scale=(0.0, 0.0, style.text_height), color=(*colors[i], 1.0),
                              position=tuple(anchor + style.label_offset),
                              points=np.zeros((0, 3)), text=label))
    return specs


# ----------------------------------------------------------------------------- fast path
class _CdrWriter:
    """Minimal little-endian CDR writer; alignment is relative to the payload start."""

    def __init__(self):
        self.parts = []
        self.size = 0

    def _put(self, data):
        self.parts.append(data)
        self.size += len(data)

    def align(self, n):
        pad = -self.size % n
        if pad:
            self._put(b'\x00' * pad)

    def pack(self, fmt, *values, align):
        self.align(align)
        self._put(struct.pack('<' + fmt, *values))

    def string(self, text):
        data = text.encode('utf-8') + b'\x00'
        self.pack('I', len(data), align=4)
        self._put(data)

    def doubles(self, array):
        """A sequence of float64 triples (geometry_msgs/Point[]) from an (M, 3) array."""
        self.pack('I', len(array), align=4)
        if len(array):
            self.align(8)
            self._put(np.ascontiguousarray(array, dtype='<f8').tobytes())

    def payload(self):
        return _CDR_LE + b''.join(self.parts)


def _write_marker(w, spec, sec, nanosec, frame_id, style):
    w.pack('iI', sec, nanosec, align=4)                  # header.stamp
    w.string(frame_id)                                   # header.frame_id
    w.string(spec['ns'])
    w.pack('iii', spec['id'], spec['type'], spec['action'], align=4)
    w.pack('7d', *spec['position'], 0.0, 0.0, 0.0, 1.0, align=8)   # pose
    w.pack('3d', *spec['scale'], align=8)
    w.pack('4f', *spec['color'], align=4)
    life_ns = int(round(style.lifetime * 1e9))
    w.pack('iI', life_ns // 1_000_000_000, life_ns % 1_000_000_000, align=4)   # lifetime
    w.pack('?', False, align=1)                          # frame_locked
    w.doubles(spec['points'])
    w.pack('I', 0, align=4)                              # colors[]
    w.string('')                                         # texture_resource
    w.pack('iI', 0, 0, align=4)                          # texture.header.stamp
    w.string('')                                         # texture.header.frame_id
    w.string('')                                         # texture.format
    w.pack('I', 0, align=4)                              # texture.data[]
    w.pack('I', 0, align=4)                              # uv_coordinates[]
    w.string(spec['text'])
    w.string('')                                         # mesh_resource
    w.string('')                                         # mesh_file.filename
    w.pack('I', 0, align=4)                              # mesh_file.data[]
    w.pack('?', False, align=1)                          # mesh_use_embedded_materials


def _delete_all_spec():
    return dict(ns='', id=0, type=0, action=DELETEALL, scale=(1.0, 1.0, 1.0),
                color=(0.0, 0.0, 0.0, 0.0), position=(0.0, 0.0, 0.0),
                points=np.zeros((0, 3)), text='')


def _body_specs(vertices, faces, track_ids, joints, style, clear):
    """Marker specs (dicts) of N bodies, DELETEALL first when `clear`.

    One layout for both the fast CDR path and the message path.
    """
    vertices, faces, joints, track_ids = _check(vertices, faces, joints, track_ids)
    specs = _marker_specs(vertices, faces, joints, track_ids, style)
    for spec in specs:
        spec['action'] = ADD
    if clear:
        specs.insert(0, _delete_all_spec())
    return specs


def body_markers_cdr(stamp, frame_id, vertices, faces, track_ids, joints=None, style=None,
                     clear=True):
    """Serialized ``visualization_msgs/MarkerArray`` (CDR bytes) for N posed bodies.

    Args:
        stamp: builtin_interfaces/Time (a message header's stamp), (sec, nanosec) or float
            seconds.
        frame_id: frame of the vertices (e.g. the camera optical frame).
        vertices: (N, V, 3) metres; faces: (F, 3) shared triangles.
        track_ids: (N,) ints (-1 = untracked) choosing colours and marker ids.
        joints: (N, 24, 3) SMPL joints for the skeleton and label anchor, or None.
        style: MarkerStyle.
        clear: start with a DELETEALL marker (removes people who left).
    Returns:
        bytes that ``Publisher.publish`` sends as they are (publisher of MarkerArray).
    """
    style = style or MarkerStyle()
    specs = _body_specs(vertices, faces, track_ids, joints, style, clear)
    sec, nanosec = _split_stamp(stamp)
    w = _CdrWriter()
    w.pack('I', len(specs), align=4)
    for spec in specs:
        _write_marker(w, spec, sec, nanosec, frame_id, style)
    return w.payload()


# ----------------------------------------------------------------------------- message path
def body_markers(stamp, frame_id, vertices, faces, track_ids, joints=None, style=None,
                 clear=True):
    """The same MarkerArray as :func:`body_markers_cdr`, built from message objects (slow)."""
    from builtin_interfaces.msg import Duration, Time
    from geometry_msgs.msg import Point
    from std_msgs.msg import ColorRGBA
    from visualization_msgs.msg import Marker, MarkerArray

    style = style or MarkerStyle()
    specs = _body_specs(vertices, faces, track_ids, joints, style, clear)
    sec, nanosec = _split_stamp(stamp)
    life_ns = int(round(style.lifetime * 1e9))
    out = MarkerArray()
    for spec in specs:
        m = Marker()
        m.header.stamp = Time(sec=sec, nanosec=nanosec)
        m.header.frame_id = frame_id
        m.ns, m.id, m.type, m.action = spec['ns'], spec['id'], spec['type'], spec['action']
        m.pose.position.x, m.pose.position.y, m.pose.position.z = map(float, spec['position'])
        m.pose.orientation.w = 1.0
        m.scale.x, m.scale.y, m.scale.z = map(float, spec['scale'])
        r, g, b, a = (float(c) for c in np.asarray(spec['color'], np.float32))  # float32 field
        m.color = ColorRGBA(r=r, g=g, b=b, a=a)
        m.lifetime = Duration(sec=life_ns // 1_000_000_000, nanosec=life_ns % 1_000_000_000)
        m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in spec['points']]
        m.text = spec['text']
        out.markers.append(m)
    return out
