"""The web viewer's page (viser): people, camera, ground, trails, labels, images and status.

No ROS here: viewer_node turns messages into `Person` lists and calls `ViewerScene`.
Everything 3D hangs under one scene node, ``/camera``, placed at the camera's pose in the
reference frame (identity when the pose is unknown), so people, skeletons and the frustum
stay in the camera optical frame of the messages (x right, y down, z forward), which is also
the convention of viser's frustums.

Per frame the scene reuses its nodes and sends only what changed: vertex arrays to existing
meshes (a new mesh would resend its 13,776 faces every frame), points to one line-segment
node for all skeletons and one for all trails, text and positions to existing labels.
"""
from collections import deque
from dataclasses import dataclass
import math
from typing import Optional

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from hmr_models.render.colors import track_color
from hmr_models.skeleton import SMPL24_PARENTS

STREAMS = ('smoothed (DiffMesh)', 'per frame')
HEAD = 15
PELVIS = 0
# Optical axes (x right, y down, z forward) written in a REP-103 camera body frame
# (x forward, y left, z up): the columns of the optical frame's rotation in the body frame.
OPTICAL_IN_BODY = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
_BONES = np.array([(p, j) for j, p in enumerate(SMPL24_PARENTS) if p >= 0], dtype=np.int64)


@dataclass
class Person:
    """One person to draw, in the camera optical frame (metres)."""

    track_id: int
    score: float
    joints: np.ndarray                 # (24, 3) SMPL joints
    vertices: Optional[np.ndarray]     # (V, 3), or None when there is no mesh to show


def color_u8(track_id):
    """The track's colour (the overlay's and RViz markers') as RGB uint8."""
    return tuple(int(round(c * 255)) for c in track_color(track_id))


def optical_pose(camera_pose):
    """(wxyz, position, R) of the optical frame in the reference frame, or None.

    camera_pose: [] (unknown) or [x, y, z, qx, qy, qz, qw], the camera's pose in the
    reference frame in the REP-103 body convention (x forward, y left, z up): a level camera
    1.5 m up looking along +x is [0, 0, 1.5, 0, 0, 0, 1].
    """
    if camera_pose is None or len(camera_pose) == 0:
        return None
    if len(camera_pose) != 7:
        raise ValueError(f'camera_pose must be [] or [x, y, z, qx, qy, qz, qw], got '
                         f'{len(camera_pose)} numbers')
    q = np.asarray(camera_pose[3:], np.float64)
    if not np.isfinite(q).all() or np.linalg.norm(q) < 1e-9:
        raise ValueError(f'camera_pose has an invalid quaternion {list(q)}')
    rot = Rotation.from_quat(q / np.linalg.norm(q)).as_matrix() @ OPTICAL_IN_BODY
    x, y, z, w = Rotation.from_matrix(rot).as_quat()
    return (w, x, y, z), np.asarray(camera_pose[:3], np.float64), rot


def fit_width(image, width):
    """Downscale an RGB image to at most `width` pixels wide (area filter)."""
    if image.shape[1] <= width:
        return image
    while image.shape[1] >= 4 * width:   # halving by striding first: the area filter is slow
        image = image[::2, ::2]
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def side_by_side(left, right, height):
    """Two RGB images scaled to one height and joined (either may be None)."""
    parts = []
    for image in (left, right):
        if image is None:
            continue
        width = max(1, round(image.shape[1] * height / image.shape[0]))
        parts.append(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    return np.concatenate(parts, axis=1) if parts else None


class Trails:
    """Recent pelvis positions per track, dropped after `seconds` (receipt time)."""

    def __init__(self, seconds):
        self.seconds = float(seconds)
        self.points = {}

    def add(self, now, people):
        for p in people:
            if p.track_id >= 0 and np.isfinite(p.joints[PELVIS]).all():
                self.points.setdefault(p.track_id, deque()).append((now, p.joints[PELVIS]))
        for track_id in list(self.points):
            trail = self.points[track_id]
            while trail and now - trail[0][0] > self.seconds:
                trail.popleft()
            if not trail:
                del self.points[track_id]

    def segments(self):
        """(S, 2, 3) segments and (S, 2, 3) uint8 colours; S may be 0."""
        segs, colors = [], []
        for track_id, trail in self.points.items():
            if len(trail) < 2:
                continue
            pts = np.array([p for _, p in trail], np.float32)
            segs.append(np.stack([pts[:-1], pts[1:]], axis=1))
            colors.append(np.broadcast_to(np.array(color_u8(track_id), np.uint8),
                                          (len(pts) - 1, 2, 3)))
        if not segs:
            return np.zeros((0, 2, 3), np.float32), np.zeros((0, 2, 3), np.uint8)
        return np.concatenate(segs), np.concatenate(colors)


class ViewerScene:
    """The page of one viser server: scene nodes, controls and their state."""

    def __init__(self, server, faces, camera_pose=None, trail_seconds=3.0,
                 frustum_width=480, panel_height=240):
        self.server = server
        self.faces = None if faces is None else np.asarray(faces, np.uint32)
        self.frustum_width = int(frustum_width)
        self.panel_height = int(panel_height)
        self.trails = Trails(trail_seconds)
        pose = optical_pose(camera_pose)
        scene = server.scene
        if pose is None:
            # No reference frame: the camera frame itself, with its y axis pointing down.
            self._up = np.array([0.0, -1.0, 0.0])
            scene.set_up_direction('-y')
            self.root = scene.add_frame('/camera', show_axes=True, axes_length=0.3,
                                        axes_radius=0.01)
            self._to_world = lambda p: np.asarray(p, np.float64)
            self.grid = None
        else:
            wxyz, position, rot = pose
            self._up = rot.T @ np.array([0.0, 0.0, 1.0])   # reference 'up' in camera axes
            scene.set_up_direction('+z')
            self.root = scene.add_frame('/camera', show_axes=True, axes_length=0.3,
                                        axes_radius=0.01, wxyz=wxyz, position=position)
            self._to_world = lambda p: rot @ np.asarray(p, np.float64) + position
            self.grid = scene.add_grid('/ground', width=20.0, height=20.0, plane='xy',
                                       cell_size=0.5, section_size=1.0)
        # First view: behind, above and beside the camera, looking at where people usually
        # are (a view from straight behind would look through the frustum's image).
        eye = np.array([1.2, 0.0, -1.5]) + 2.0 * self._up
        server.initial_camera.position = tuple(self._to_world(eye))
        server.initial_camera.look_at = tuple(self._to_world([0.0, 0.0, 7.0]))
        server.initial_camera.up = tuple(self._to_world(self._up) - self._to_world([0, 0, 0]))
        self.frustum = None
        self._frustum_shape = None
        self._generation = 0
        self.meshes, self.labels = [], []
        self._mesh_state, self._label_state = [], []
        self.skeletons = None
        self.trail_lines = None
        self._build_gui()

    # -- controls ---------------------------------------------------------------------
    def _build_gui(self):
        gui = self.server.gui
        gui.configure_theme(control_width='large', show_share_button=False)
        self.status = gui.add_markdown('waiting for hmr_node ...')
        self.stream = gui.add_dropdown('stream', STREAMS, initial_value=STREAMS[0],
                                       hint='DiffMesh-smoothed estimates or the per-frame '
                                            'ones (hmr_node ~/persons_smoothed, ~/persons)')
        self.show_meshes = gui.add_checkbox('meshes', True)
        self.show_skeletons = gui.add_checkbox('skeletons', True)
        self.show_labels = gui.add_checkbox('labels', True)
        self.show_trails = gui.add_checkbox('trails', True)
        self.show_frustum_image = gui.add_checkbox('image in the camera frustum', True)
        self.show_panel = gui.add_checkbox(
            'overlay | debug images', True,
            hint="hmr_node's ~/overlay and ~/debug_image (rendered only while shown)")
        self.panel = gui.add_image(np.zeros((self.panel_height, 2 * self.panel_height, 3),
                                            np.uint8), label='overlay | debug', format='jpeg',
                                   jpeg_quality=70, visible=False)
        for box, nodes in ((self.show_meshes, lambda: self.meshes),
                           (self.show_labels, lambda: self.labels)):
            box.on_update(lambda _, n=nodes: self._refresh_visibility(n()))
        self.show_skeletons.on_update(lambda _: self._set_visible(self.skeletons, True))
        self.show_trails.on_update(lambda _: self._set_visible(self.trail_lines, True))
        self.show_panel.on_update(lambda _: setattr(self.panel, 'visible',
                                                    self.show_panel.value and self._panel_set))
        self._panel_set = False

    @property
    def smoothed_selected(self):
        return self.stream.value == STREAMS[0]

    @property
    def images_wanted(self):
        return bool(self.show_panel.value)

    def _set_visible(self, node, have_data):
        if node is None:
            return
        box = self.show_skeletons if node is self.skeletons else self.show_trails
        want = bool(box.value) and have_data
        if node.visible != want:
            node.visible = want

    def _refresh_visibility(self, nodes):
        state = self._mesh_state if nodes is self.meshes else self._label_state
        box = self.show_meshes if nodes is self.meshes else self.show_labels
        for node, used in zip(nodes, state):
            want = bool(box.value) and used[0]
            if node.visible != want:
                node.visible = want

    # -- people -----------------------------------------------------------------------
    def update_people(self, people, now):
        """Show `people` (list of Person); `now` is a monotonic time for the trails."""
        self.trails.add(now, people)
        with self.server.atomic():
            self._update_meshes([p for p in people if p.vertices is not None])
            self._update_skeletons(people)
            self._update_labels(people)
            self._update_trails()

    def _update_meshes(self, people):
        show = bool(self.show_meshes.value)
        for i, p in enumerate(people):
            color = color_u8(p.track_id)
            vertices = np.asarray(p.vertices, np.float32)
            if i == len(self.meshes):
                self.meshes.append(self.server.scene.add_mesh_simple(
                    f'/camera/people/mesh_{i}', vertices, self.faces, color=color,
                    flat_shading=False, side='double', visible=show))
                self._mesh_state.append([True, color, vertices.shape])
                continue
            mesh, state = self.meshes[i], self._mesh_state[i]
            if state[2] != vertices.shape:   # another body model: a new mesh, faces included
                mesh.remove()
                self._generation += 1
                mesh = self.meshes[i] = self.server.scene.add_mesh_simple(
                    f'/camera/people/mesh_{i}_{self._generation}', vertices, self.faces,
                    color=color, side='double', visible=show)
                state[:] = [True, color, vertices.shape]
                continue
            mesh.vertices = vertices      # the vertex update: faces stay on the client
            if state[1] != color:
                mesh.color = color
            state[0], state[1] = True, color
            if mesh.visible != show:
                mesh.visible = show
        for mesh, state in zip(self.meshes[len(people):], self._mesh_state[len(people):]):
            state[0] = False
            if mesh.visible:
                mesh.visible = False

    def _update_skeletons(self, people):
        if people:
            points = np.concatenate([p.joints[_BONES] for p in people]).astype(np.float32)
            colors = np.concatenate([np.broadcast_to(np.array(color_u8(p.track_id), np.uint8),
                                                     (len(_BONES), 2, 3)) for p in people])
            if self.skeletons is None:
                self.skeletons = self.server.scene.add_line_segments(
                    '/camera/people/skeletons', points, colors, thickness=3.0,
                    thickness_units='screen', visible=bool(self.show_skeletons.value))
            else:
                self.skeletons.points = points
                self.skeletons.colors = colors
        self._set_visible(self.skeletons, bool(people))

    def _label_text(self, p):
        distance = float(np.linalg.norm(p.joints[PELVIS]))
        name = f'id {p.track_id}' if p.track_id >= 0 else 'untracked'
        return f'{name}\n{p.score:.2f} · {distance:.1f} m'

    def _update_labels(self, people):
        show = bool(self.show_labels.value)
        for i, p in enumerate(people):
            position = p.joints[HEAD] + 0.35 * self._up
            text = self._label_text(p)
            if i == len(self.labels):
                self.labels.append(self.server.scene.add_label(
                    f'/camera/people/label_{i}', text, position=position,
                    anchor='bottom-center', visible=show))
                self._label_state.append([True])
                continue
            label = self.labels[i]
            label.text = text
            label.position = position
            self._label_state[i][0] = True
            if label.visible != show:
                label.visible = show
        for label, state in zip(self.labels[len(people):], self._label_state[len(people):]):
            state[0] = False
            if label.visible:
                label.visible = False

    def _update_trails(self):
        segments, colors = self.trails.segments()
        if len(segments):
            if self.trail_lines is None:
                self.trail_lines = self.server.scene.add_line_segments(
                    '/camera/trails', segments, colors, thickness=4.0,
                    thickness_units='screen', visible=bool(self.show_trails.value))
            else:
                self.trail_lines.points = segments
                self.trail_lines.colors = colors
        self._set_visible(self.trail_lines, bool(len(segments)))

    def clear_people(self, now):
        """Hide everybody (the stream stopped); the trails fade out over their seconds."""
        self.update_people([], now)

    # -- camera and images ------------------------------------------------------------
    def update_camera(self, width, height, fy, image=None):
        """The frustum of a camera of `width` x `height` pixels and focal `fy`, with `image`."""
        fov = 2.0 * math.atan2(height / 2.0, fy)
        shape = (round(fov, 4), round(width / height, 4))
        small = None
        if image is not None and self.show_frustum_image.value:
            small = fit_width(image, self.frustum_width)
        if self.frustum is None or shape != self._frustum_shape:
            if self.frustum is not None:
                self.frustum.remove()
            self._generation += 1   # a fresh name: never reuse the name of a removed node
            self.frustum = self.server.scene.add_camera_frustum(
                f'/camera/frustum_{self._generation}', fov=fov, aspect=width / height, scale=0.5,
                color=(40, 40, 40), image=small, format='jpeg', jpeg_quality=70)
            self._frustum_shape = shape
        elif small is not None or self.frustum.image is not None:
            self.frustum.image = small

    def update_panel(self, overlay, debug):
        """Show the overlay and debug images side by side in the control panel."""
        joined = side_by_side(overlay, debug, self.panel_height)
        if joined is None:
            return
        self.panel.image = joined
        self._panel_set = True
        if self.panel.visible != bool(self.show_panel.value):
            self.panel.visible = bool(self.show_panel.value)

    def set_status(self, text):
        if self.status.content != text:
            self.status.content = text
