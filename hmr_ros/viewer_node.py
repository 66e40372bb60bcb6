"""viewer: hmr_node's outputs as a live 3D web page (viser), served offline on localhost.

Subscribes hmr_node's SMPLPersonArray topics and skins the selected stream (smoothed or per
frame) with the project's body model: the messages carry pose, shape and translation, not
vertices, and skinning here (a few ms per person) keeps hmr_node's cost unchanged, where
reading ~/markers would make hmr_node build them and would carry only one stream. Also
shows the camera image in the camera frustum (the image whose stamp matches the people
shown), hmr_node's overlay and debug images side by side (subscribed only while a browser
shows them, so hmr_node renders them only then), the ground grid when `camera_pose` is set,
trails, labels and hmr_node's FPS and latency from /diagnostics. Publishes its own
DiagnosticStatus (URL, clients, FPS, CPU) on /diagnostics.

Callbacks only keep the newest messages; a timer at up to `max_rate` Hz updates the page, and
does nothing heavy while no browser is connected.
"""
from collections import deque
import struct
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, Image

from hmr_ros.hmr_node import RateMeter, sibling_topic
from hmr_ros.image_conversion import ImageError, image_to_rgb
from hmr_ros.msg import SMPLPersonArray
from hmr_ros.node_main import LoggingNode, run_main, SetupError
from hmr_ros.params import Param, declare_params, non_negative, positive

VIEWER_PARAMS = [
    Param('viewer_host', '127.0.0.1', "address the web server listens on ('0.0.0.0': every "
          'interface, for a browser on another machine)'),
    Param('viewer_port', 8080, 'web server port; when taken, the next free one is used (the '
          'log says which); 0 = any free port', non_negative),
    Param('persons_topic', '/hmr_node/persons', 'per-frame people (hmr_ros/SMPLPersonArray)'),
    Param('smoothed_topic', '/hmr_node/persons_smoothed', 'smoothed people (DiffMesh)'),
    Param('image_topic', '/camera/image_raw', 'camera images shown in the camera frustum'),
    Param('camera_info_topic', '', "camera_info topic; empty: 'camera_info' beside image_topic"),
    Param('overlay_topic', '/hmr_node/overlay', 'mesh overlay image shown in the panel'),
    Param('debug_image_topic', '/hmr_node/debug_image', 'debug image shown in the panel'),
    Param('body_model_path', '', 'SMPL-format .npz or folder (as hmr_node); empty = the '
          'bundled open body; must be the model hmr_node uses'),
    Param('max_rate', 15.0, 'most page updates per second', positive),
    Param('trail_seconds', 3.0, 'length of the position trails in seconds', non_negative),
    Param('stale_after', 2.0, 'seconds without people messages after which nobody is shown',
          positive),
    Param('frustum_image_width', 480, 'width of the image in the camera frustum (pixels)',
          positive),
    Param('panel_image_height', 240, 'height of the overlay and debug images (pixels)',
          positive),
    Param('diagnostics_period', 2.0, 'seconds between the viewer\'s DiagnosticArray messages',
          positive),
]
CAMERA_POSE_HELP = ('[x, y, z, qx, qy, qz, qw]: the camera\'s pose in the reference frame '
                    '(REP-103 camera body axes: x forward, y left, z up; the reference frame '
                    'has z up); empty = show everything in the camera optical frame, no '
                    'ground grid')
IMAGE_RING = 45     # raw images kept to find the one a person message was computed from


def stamp_of_cdr(raw):
    """(sec, nanosec) of a serialized message that starts with a std_msgs/Header."""
    return struct.unpack_from('<iI', raw, 4)


def _stamp(header):
    return header.stamp.sec, header.stamp.nanosec


def persons_arrays(msg):
    """Arrays of one SMPLPersonArray: ids, scores, has_mesh, pose, betas, transl, joints."""
    persons = msg.persons
    n = len(persons)
    ids = np.array([p.track_id for p in persons], np.int64)
    scores = np.array([p.score for p in persons], np.float32)
    has_mesh = np.array([p.has_mesh for p in persons], bool)
    pose = np.array([p.pose for p in persons], np.float32).reshape(n, 72)
    betas = np.array([p.betas for p in persons], np.float32).reshape(n, 10)
    transl = np.array([(p.translation.x, p.translation.y, p.translation.z)
                       for p in persons], np.float32).reshape(n, 3)
    joints = np.array([p.joints_3d for p in persons], np.float32).reshape(n, 24, 3)
    return ids, scores, has_mesh, pose, betas, transl, joints


class Skinner:
    """Vertices from SMPL parameters with the project's body model (one batched forward)."""

    def __init__(self, path):
        import torch
        from hmr_models.body import load_body_model
        torch.set_num_threads(1)   # the viewer must not compete with hmr_node for cores
        self.torch = torch
        self.body = load_body_model(path or None).eval()
        self.name = self.body.name
        self.faces = self.body.faces

    def vertices(self, pose, betas, transl):
        with self.torch.no_grad():
            return self.body(pose, betas, transl).vertices.numpy()


class ViewerNode(LoggingNode):
    def __init__(self):
        super().__init__('viewer')
        self.p = declare_params(self, VIEWER_PARAMS)
        self.declare_parameter('camera_pose', Parameter.Type.DOUBLE_ARRAY,
                               ParameterDescriptor(description=CAMERA_POSE_HELP))
        try:
            camera_pose = list(self.get_parameter('camera_pose').value)
        except ParameterUninitializedException:   # not set, or set to []
            camera_pose = []
        from hmr_models.paths import MissingModelFile
        try:
            self.skinner = Skinner(self.p.body_model_path)
        except (MissingModelFile, ValueError, OSError) as exc:
            raise SetupError(f'body model: {exc}') from None
        import viser
        from hmr_ros.viewer_scene import ViewerScene
        try:
            self.server = viser.ViserServer(host=self.p.viewer_host, port=self.p.viewer_port,
                                            label='hmr_ros', verbose=False)
        except OSError as exc:
            raise SetupError(f'cannot serve on {self.p.viewer_host}:{self.p.viewer_port}: '
                             f'{exc}') from None
        try:
            self.scene = ViewerScene(self.server, self.skinner.faces, camera_pose,
                                     trail_seconds=self.p.trail_seconds,
                                     frustum_width=self.p.frustum_image_width,
                                     panel_height=self.p.panel_image_height)
        except ValueError as exc:
            self.server.stop()
            raise SetupError(f"parameter 'camera_pose': {exc}") from None

        reliable = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self.latest = {'persons': None, 'smoothed': None}
        self.received = {'persons': 0.0, 'smoothed': 0.0}
        self.create_subscription(SMPLPersonArray, self.p.persons_topic,
                                 lambda m: self._on_persons('persons', m), reliable)
        self.create_subscription(SMPLPersonArray, self.p.smoothed_topic,
                                 lambda m: self._on_persons('smoothed', m), reliable)
        # Camera images (30 FPS, megabytes each) are subscribed only while a browser shows
        # them, as raw bytes: only the one that matches the people shown is deserialized.
        self.images = deque(maxlen=IMAGE_RING)
        self.images_received = 0
        self.image_sub = None
        info_topic = self.p.camera_info_topic or sibling_topic(self.p.image_topic, 'camera_info')
        self.camera_info = None
        self.create_subscription(CameraInfo, info_topic,
                                 lambda m: setattr(self, 'camera_info', m),
                                 qos_profile_sensor_data)
        self.node_stats = {}
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', reliable)
        self.panel_subs = None          # overlay + debug subscriptions while shown
        self.panel_images = {'overlay': None, 'debug': None}
        self.panel_dirty = False

        self.shown = None               # (stream, stamp) of the people on the page
        self.showing_people = False
        self.frames_shown = 0
        self.people_shown = 0
        self.shown_rate = RateMeter()
        self.update_ms = deque(maxlen=100)
        self._warned = set()
        self._cpu_last = (time.monotonic(), time.process_time())
        self.cpu_percent = 0.0
        self.create_timer(1.0 / self.p.max_rate, self._tick)
        self.create_timer(self.p.diagnostics_period, self._publish_diagnostics)
        self.url = self._url()
        requested = self.p.viewer_port
        if requested and self.server.get_port() != requested:
            self.get_logger().warning(f'port {requested} is taken: serving on '
                                      f'{self.server.get_port()} instead')
        self.get_logger().info(f'web viewer ready: {self.url} (open it in a browser; body '
                               f'model {self.skinner.name})')

    def _url(self):
        host = self.p.viewer_host
        host = 'localhost' if host in ('0.0.0.0', '::', '') else host
        return f'http://{host}:{self.server.get_port()}'

    # -- input ------------------------------------------------------------------------
    def _on_persons(self, stream, msg):
        self.latest[stream] = msg
        self.received[stream] = time.monotonic()

    def _on_image_raw(self, raw):
        self.images.append(raw)
        self.images_received += 1

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name.startswith('hmr_node'):
                self.node_stats = {kv.key: kv.value for kv in status.values}
                self.node_stats['_received'] = time.monotonic()

    def _on_panel_image(self, which, msg):
        try:
            self.panel_images[which] = image_to_rgb(msg)
            self.panel_dirty = True
        except ImageError as exc:
            self._warn_once('panel', f'{which} image not shown: {exc}')

    def _warn_once(self, key, text):
        if key not in self._warned:
            self._warned.add(key)
            self.get_logger().warning(text)

    # -- page updates -----------------------------------------------------------------
    def _selected(self, now):
        """(stream, message) to show: the chosen stream, or the other when it is silent."""
        first, second = ('smoothed', 'persons') if self.scene.smoothed_selected \
            else ('persons', 'smoothed')
        for stream in (first, second):
            msg = self.latest[stream]
            if msg is not None and now - self.received[stream] <= self.p.stale_after:
                return stream, msg
        return None, None

    def _people(self, msg):
        from hmr_ros.viewer_scene import Person
        ids, scores, has_mesh, pose, betas, transl, joints = persons_arrays(msg)
        vertices = [None] * len(ids)
        mesh = np.flatnonzero(has_mesh)
        if len(mesh):
            models = {p.body_model for p in msg.persons if p.has_mesh}
            if models - {self.skinner.name, ''}:
                self._warn_once('model', f'people were estimated with body model(s) '
                                         f'{sorted(models)} but the viewer loaded '
                                         f"'{self.skinner.name}': meshes not shown (set the "
                                         "viewer's body_model_path to hmr_node's)")
            else:
                verts = self.skinner.vertices(pose[mesh], betas[mesh], transl[mesh])
                for k, i in enumerate(mesh):
                    vertices[i] = verts[k]
        return [Person(int(ids[i]), float(scores[i]), joints[i], vertices[i])
                for i in range(len(ids))]

    def _image_for(self, stamp):
        """The camera image with this stamp (else the newest before it), as RGB."""
        ring = list(self.images)
        if not ring:
            return None
        best = None
        for raw in ring:
            s = stamp_of_cdr(raw)
            if s == stamp:
                best = raw
                break
            if s < stamp:
                best = raw if best is None or s >= stamp_of_cdr(best) else best
        try:
            return image_to_rgb(deserialize_message(best or ring[-1], Image))
        except ImageError as exc:
            self._warn_once('image', f'camera image not shown: {exc}')
            return None

    def _update_panel_subscriptions(self, wanted):
        if wanted and self.panel_subs is None:
            reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
            self.panel_subs = [
                self.create_subscription(Image, self.p.overlay_topic,
                                         lambda m: self._on_panel_image('overlay', m), reliable),
                self.create_subscription(Image, self.p.debug_image_topic,
                                         lambda m: self._on_panel_image('debug', m), reliable)]
        elif not wanted and self.panel_subs is not None:
            for sub in self.panel_subs:
                self.destroy_subscription(sub)
            self.panel_subs = None
            self.panel_images = {'overlay': None, 'debug': None}

    def _update_image_subscription(self, wanted):
        if wanted and self.image_sub is None:
            self.image_sub = self.create_subscription(Image, self.p.image_topic,
                                                      self._on_image_raw,
                                                      qos_profile_sensor_data, raw=True)
        elif not wanted and self.image_sub is not None:
            self.destroy_subscription(self.image_sub)
            self.image_sub = None
            self.images.clear()

    def _tick(self):
        now = time.monotonic()
        clients = len(self.server.get_clients())
        self._update_panel_subscriptions(clients > 0 and self.scene.images_wanted)
        self._update_image_subscription(clients > 0
                                        and bool(self.scene.show_frustum_image.value))
        stream, msg = self._selected(now)
        if msg is None:
            if self.showing_people:
                self.scene.clear_people(now)
                self.showing_people = False
                self.shown = None
            self._update_status(now, clients, None)
            return
        key = (stream, _stamp(msg.header))
        if key == self.shown and not self.panel_dirty:
            return
        if clients == 0:
            return      # nobody looks: no skinning, no encoding (the page catches up later)
        t0 = time.perf_counter()
        if key != self.shown:
            people = self._people(msg)
            self.scene.update_people(people, now)
            self.showing_people = True
            self.people_shown = len(people)
            info = self.camera_info
            image = self._image_for(key[1])
            if info is not None and info.k[4] > 0 and info.width and info.height:
                self.scene.update_camera(info.width, info.height, info.k[4], image)
            elif image is not None:   # no camera_info: focal length from the diagonal
                h, w = image.shape[:2]
                self.scene.update_camera(w, h, float(np.hypot(w, h)), image)
            self.shown = key
            self.frames_shown += 1
            self.shown_rate.tick(now)
        if self.panel_dirty:
            self.panel_dirty = False
            self.scene.update_panel(self.panel_images['overlay'], self.panel_images['debug'])
        self.update_ms.append((time.perf_counter() - t0) * 1e3)
        self._update_status(now, clients, stream)

    def _update_status(self, now, clients, stream):
        s = self.node_stats
        if s and now - s.get('_received', 0) < 5.0:
            node = (f"**hmr_node** in {s.get('input_fps', '?')} FPS · out "
                    f"{s.get('output_fps', '?')} FPS · latency {s.get('latency_ms_median', '?')}"
                    f" ms")
        else:
            node = '**hmr_node** no diagnostics yet'
        if stream is None:
            shown = f'waiting for {self.p.smoothed_topic} or {self.p.persons_topic} ...'
        else:
            name = 'smoothed' if stream == 'smoothed' else 'per frame'
            shown = (f'**viewer** {self.shown_rate.rate(now):.1f} FPS · {self.people_shown} '
                     f'people ({name})')
        self.scene.set_status(f'{node}  \n{shown}')

    # -- reporting --------------------------------------------------------------------
    def _publish_diagnostics(self):
        now, cpu = time.monotonic(), time.process_time()
        last_now, last_cpu = self._cpu_last
        self.cpu_percent = 100.0 * (cpu - last_cpu) / max(now - last_now, 1e-6)
        self._cpu_last = (now, cpu)
        ms = np.array(self.update_ms) if self.update_ms else np.zeros(1)
        values = {
            'url': self.url,
            'clients': str(len(self.server.get_clients())),
            'frames_shown': str(self.frames_shown),
            'people_shown': str(self.people_shown if self.showing_people else 0),
            'display_fps': f'{self.shown_rate.rate(now):.2f}',
            'update_ms_median': f'{np.median(ms):.1f}',
            'cpu_percent': f'{self.cpu_percent:.1f}',
            'panel_subscribed': str(self.panel_subs is not None).lower(),
            'images_received': str(self.images_received),
            'camera_info': 'yes' if self.camera_info is not None else 'no',
        }
        status = DiagnosticStatus(name=f'{self.get_name()}: web viewer', hardware_id='viser',
                                  level=DiagnosticStatus.OK,
                                  message=f"{values['display_fps']} FPS shown to "
                                          f"{values['clients']} browser(s) at {self.url}")
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        diag = DiagnosticArray()
        diag.header.stamp = self.get_clock().now().to_msg()
        diag.status = [status]
        self.diag_pub.publish(diag)

    def close(self):
        self.server.stop()   # closes the port before the process ends
        self.get_logger().info(f'web viewer stopped ({self.url})')


def main(args=None):
    run_main(ViewerNode, args)


if __name__ == '__main__':
    main()
