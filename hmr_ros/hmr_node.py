"""hmr_node: camera images in, SMPL people out.

Subscribes `image_topic` (sensor_msgs/Image, or its `/compressed` sibling when
image_transport is 'compressed') and the camera_info beside it; runs hmr_models.HMRPipeline
on the newest frame (when busy it keeps only the newest and counts the drops: no backlog),
with the front-end of the next frame overlapping the mesh stages of the current one;
publishes hmr_ros/SMPLPersonArray on `~/persons` (per frame), `~/persons_smoothed` (temporal
model) and `~/persons_delayed` (temporal_delay_frames > 0), debug visuals while subscribed,
and diagnostic_msgs/DiagnosticArray on /diagnostics with a periodic summary in the log.

Sources that feed it (hmr_ros.frame_flow): a latched `~/ready` says the models are loaded, and
`~/frame_done` acknowledges every image finished or dropped, so a video file or a bag can be
processed frame by frame without loss; a Header on `~/end_of_stream` says a file or bag has
ended: the delayed stream's last frames go out, then it is acknowledged like a frame.
"""
from collections import deque
from dataclasses import dataclass, fields
import re
import threading
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Bool
from tf2_msgs.msg import TFMessage

from hmr_models.awareness import TransformTree
from hmr_models.diffmesh import OneEuroConfig, StreamingConfig, TemporalConfig
from hmr_models.dpmesh.factory import MeshConfig
from hmr_models.fitting import RefineConfig
from hmr_models.frontend import FrontEndConfig, ModelLoadError, PersonFrontEnd
from hmr_models.pacing import FrontEndPacer, LatestSlot
from hmr_models.paths import MissingModelFile
from hmr_models.pipeline import build_pipeline, FrontResult, PipelineConfig, StageConfigs
from hmr_models.types import CameraIntrinsics, People
from hmr_ros.camera_info import CameraInfoByStamp
from hmr_ros.external_people import ExternalPeople
from hmr_ros.frame_flow import announce_ready, done_publisher, on_end_of_stream, stamp_key
from hmr_ros.image_conversion import (
    DEFAULT_MAX_PIXELS, ImageError, compressed_to_rgb, header_from_cdr, image_to_rgb)
from hmr_ros.msg import SMPLPersonArray
from hmr_ros.node_main import LoggingNode, run_main, SetupError
from hmr_ros.params import (
    Param, declare_config, declare_params, non_negative, one_of, positive)
from hmr_ros.person_msgs import to_person_array
from hmr_ros.rectification import MODES as RECTIFY_MODES, Rectifier
from hmr_ros.tf_conversion import add_transforms
from hmr_ros.visuals import Visuals

NODE_PARAMS = [
    Param('image_topic', '/camera/image_raw', 'input image topic (sensor_msgs/Image)'),
    Param('camera_info_topic', '', "camera_info topic; empty: 'camera_info' beside image_topic"),
    Param('camera_info_wait_s', 0.05, "once images and camera_infos have come with the same "
          "stamps, how long an image waits for its own camera_info (it can come after the "
          "image, on its own topic); then the latest one is used and the waiting stops until "
          "a pair is seen again; 0 = never wait", non_negative),
    Param('image_transport', 'raw', "'raw' (Image) or 'compressed' (CompressedImage on "
          '<image_topic>/compressed)', one_of('raw', 'compressed')),
    Param('max_image_pixels', DEFAULT_MAX_PIXELS, 'larger images are dropped (counted)', positive),
    Param('rectify', 'auto', "undo the lens distortion camera_info describes, as image_proc "
          "does, then use its P: 'auto' unless the topic is already rectified (image_rect*), "
          "'true', or 'false' (images used as they come, with K)", one_of(*RECTIFY_MODES)),
    Param('publish_markers', True, 'publish visualization_msgs/MarkerArray on ~/markers'),
    Param('publish_overlay', True, 'publish meshes drawn on the image on ~/overlay'),
    Param('publish_debug_image', True, 'publish boxes, 2D skeletons and ids on ~/debug_image'),
    Param('visuals_max_width', 640, 'overlay and debug images are scaled down to at most this '
          'width (pixels; 0 = the input size): drawing and sending full-size images cost more '
          'than the mesh stage on a CPU', non_negative),
    Param('diagnostics_period', 1.0, 'seconds between DiagnosticArray messages', positive),
    Param('log_period', 10.0, 'seconds between summary lines in the log', positive),
    Param('no_input_warning_s', 10.0, 'a matched image publisher that has sent nothing for this '
          'long is reported once in the log (often a Fast DDS transport mismatch)', positive),
    Param('up_frame', 'base_link', "a frame whose z axis points up (REP-103, e.g. the robot's "
          "base): when /tf_static links it to the images' frame, the keypoint fit keeps "
          "upright people upright (refine.refine_upright_sigma); '' = not used"),
    Param('floor_frame', 'base_footprint', "a frame whose xy plane is the ground (REP-120) "
          "and z axis points up: when /tf_static links it to the images' frame, people on "
          "the floor get their size and distance from it (refine.refine_floor_sigma), and up "
          "comes from it; '' = not used"),
    Param('people_topic', '', "hmr_ros/SMPLPersonArray of people (boxes, keypoints, track "
          "ids) used instead of the front-end's, matched to images by stamp (another "
          "detector, or a bag's simulated detections in an evaluation); '' = the front-end"),
]
# Node parameters that take effect while the node runs (the pipeline's own live settings are
# listed by HMRPipeline.live_parameters()); every other parameter is read-only.
NODE_LIVE = ('publish_markers', 'publish_overlay', 'publish_debug_image', 'visuals_max_width',
             'log_period')
NODE_CHECKS = {p.name: p.check for p in NODE_PARAMS if p.name in NODE_LIVE}
MESH_LIVE = ('keypoint_threshold', 'image_correction_interval')
# The stages' parameters are namespaced by stage: `frontend.max_people`, `mesh.dpmesh_checkpoint`,
# `refine.refine_iterations` (the keypoint fit of both mesh outputs), `temporal.temporal_method`
# (DiffMesh's streaming and the One-Euro filter share the temporal stage's namespace: one
# `temporal.temporal_track_timeout` for whichever runs). In YAML they nest under the stage
# (`frontend: {max_people: 5}`); in Python they are the config classes' fields.
STAGES = (('frontend', 'frontend', FrontEndConfig), ('mesh', 'mesh', MeshConfig),
          ('temporal', 'temporal', TemporalConfig), ('streaming', 'temporal', StreamingConfig),
          ('one_euro', 'temporal', OneEuroConfig), ('refine', 'refine', RefineConfig))
MAX_ARRIVAL_AGE_S = 5.0   # older on arrival: a replayed stamp, not a delay worth reporting
RECENT_STAMPS = 8           # a frame sent again with one of these stamps is acknowledged only
DISCOVERY_S = 2.0           # outputs exist at least this long before the node says it is ready


def sibling_topic(topic, name):
    """'/camera/image_raw' -> '/camera/<name>' (the camera_info convention)."""
    head = topic.rstrip('/').rpartition('/')[0]
    return f'{head}/{name}' if head or topic.startswith('/') else name


class RateMeter:
    """Events per second over a sliding time window."""

    def __init__(self, window=5.0):
        self.window = window
        self.times = deque()

    def tick(self, now):
        self.times.append(now)
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()

    def rate(self, now):
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()
        if len(self.times) < 2:
            return 0.0
        return (len(self.times) - 1) / max(self.times[-1] - self.times[0], 1e-6)


@dataclass
class Ticket:
    """One received image on its way through the node."""

    raw: bytes            # the serialized message (decoded only if the frame is processed)
    msg_type: type        # Image or CompressedImage
    received: float       # time.monotonic() of arrival
    received_clock: float = 0.0   # the node's clock (ROS time, seconds) at arrival
    header: object = None
    rgb: object = None
    camera: object = None
    front: object = None
    decode_ms: float = 0.0
    started: float = 0.0      # time.monotonic() when the front-end took it
    handed_over: float = 0.0  # time.monotonic() when its front-end result was ready
    mesh_started: float = 0.0  # time.monotonic() when the mesh worker took it
    result: object = None     # the per-frame FrameResult, on its way to the temporal stage
    publish_ms: float = 0.0   # publishing its outputs so far


def ros_parameter_names(message):
    """A library message with the stage parameters it names as this node's (namespaced) ones."""
    for _, namespace, cls in STAGES:
        for f in fields(cls):
            message = re.sub(rf"(?<![\w.])'{f.name}'", f"'{namespace}.{f.name}'", message)
    return message


class HMRNode(LoggingNode):
    def __init__(self):
        super().__init__('hmr_node')
        self.p = declare_params(self, NODE_PARAMS, live=NODE_LIVE)
        self.pipeline_config = declare_config(self, PipelineConfig)
        live = {'frontend': PersonFrontEnd.LIVE_PARAMETERS, 'mesh': MESH_LIVE}
        stages = StageConfigs(**{
            key: declare_config(self, cls, prefix=f'{namespace}.', live=live.get(key, ()))
            for key, namespace, cls in STAGES})
        self._check_unknown_parameters()
        # ROS name -> config field of the live stage parameters
        self._live_fields = {f'{ns}.{name}': name for key, ns, _ in STAGES
                             for name in live.get(key, ())}
        self.profile = self.pipeline_config.model_profile
        self.pipelined = self.pipeline_config.pipelining
        # Outputs first: subscribers discover them while the models load, so the first results
        # are not sent before anyone has matched (discovery takes 1-3 s).
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.persons_pub = self.create_publisher(SMPLPersonArray, '~/persons', reliable)
        self.smoothed_pub = self.create_publisher(SMPLPersonArray, '~/persons_smoothed', reliable)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', reliable)
        self.done_pub = done_publisher(self)
        t0 = time.monotonic()
        try:
            self.pipeline = build_pipeline(self.pipeline_config, stages)
        except (MissingModelFile, ModelLoadError, ValueError) as exc:
            raise SetupError(ros_parameter_names(str(exc))) from None
        t1 = time.monotonic()
        self.pipeline.warm_up()
        self.get_logger().info(f'models loaded in {t1 - t0:.1f} s, warmed up in '
                               f'{time.monotonic() - t1:.1f} s')
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.delayed_pub = None
        if self.pipeline.delay_frames:
            self.delayed_pub = self.create_publisher(SMPLPersonArray, '~/persons_delayed',
                                                     reliable)
        mesh = self.pipeline.mesh
        self.visuals = Visuals(self, getattr(getattr(mesh, 'body', None), 'faces', None))

        if self.p.image_transport == 'compressed':
            self.image_topic = self.p.image_topic.rstrip('/') + '/compressed'
            msg_type = CompressedImage
        else:
            self.image_topic = self.p.image_topic
            msg_type = Image
        # Raw (serialized) intake: a frame that is dropped because the node is busy is never
        # deserialized or decoded (at 30 FPS that was a large share of a core).
        self.create_subscription(msg_type, self.image_topic,
                                 lambda raw: self._offer(raw, msg_type),
                                 qos_profile_sensor_data, raw=True)
        info_topic = self.p.camera_info_topic or sibling_topic(self.p.image_topic, 'camera_info')
        self.create_subscription(CameraInfo, info_topic, self._on_camera_info,
                                 qos_profile_sensor_data)
        self.rectifier = Rectifier(self.p.rectify, self.p.image_topic, self.get_logger().info)
        self._camera_infos = CameraInfoByStamp(self.p.camera_info_wait_s, RECENT_STAMPS)
        self._warned_estimated = ''      # why the focal length was estimated, once said
        # Which way is up in the images: the camera's mounting on /tf_static (latched).
        self.static_tree = TransformTree()
        self._up_source = None
        if self.p.up_frame or self.p.floor_frame:
            self.create_subscription(TFMessage, '/tf_static', self._on_tf_static, QoSProfile(
                depth=100, reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.external = ExternalPeople(self, self.p.people_topic) if self.p.people_topic \
            else None

        self._stopping = threading.Event()
        # Pipelined, the front-end starts each frame just in time for the mesh stage.
        self._pacer = FrontEndPacer() if self.pipelined and self.pipeline_config.pace_frontend \
            else None
        self._intake = LatestSlot()     # received images -> front-end worker
        self._handoff = LatestSlot(replace=False)   # front-end results -> mesh worker
        # per-frame results -> temporal worker (pipelined, temporal_worker): the mesh worker is
        # free for the next image once this one's per-frame people are out
        self._to_temporal = LatestSlot(replace=False) \
            if self.pipelined and self.pipeline_config.temporal_worker else None
        self._lock = threading.Lock()   # counters are written by the executor and the workers
        # the temporal stage's tracks: its worker, and the end of a stream (executor)
        self._temporal_lock = threading.Lock()
        self._recent_stamps = deque(maxlen=RECENT_STAMPS)
        self._headers = deque(maxlen=64)   # (stamp seconds, header) for the delayed output
        self.counts = dict(frames_in=0, processed=0, dropped_busy=0, dropped_bad_input=0,
                           duplicates_ignored=0, errors=0, people=0)
        self.extra_counts = {}
        self.in_rate = RateMeter()
        self.out_rate = RateMeter()
        self.latencies = deque(maxlen=200)
        self.stage_ms = {}
        self._started = time.monotonic()
        self._last_log = time.monotonic()
        self._last_problem = ''
        self._problem_log = {}
        self._warned_no_input = False

        self.workers = [threading.Thread(target=self._front_worker, name='hmr_frontend',
                                         daemon=True)]
        if self.pipelined:
            self.workers.append(threading.Thread(target=self._body_worker, name='hmr_mesh',
                                                 daemon=True))
        if self._to_temporal is not None:
            self.workers.append(threading.Thread(target=self._temporal_worker,
                                                 name='hmr_temporal', daemon=True))
        for worker in self.workers:
            worker.start()
        self.create_timer(self.p.diagnostics_period, self._publish_diagnostics)
        on_end_of_stream(self, self._on_end_of_stream)
        time.sleep(max(0.0, DISCOVERY_S - (time.monotonic() - t0)))
        self.ready_pub = announce_ready(self)
        self.get_logger().info(
            f'ready: listening on {self.image_topic} ({self.p.image_transport}) and '
            f'{info_topic}; profile {self.profile}; publishing {self.persons_pub.topic_name}'
            + (' (front-end and mesh stages pipelined)' if self.pipelined else ''))
        if self.pipeline_config.stills:
            self.get_logger().info(
                'stills: every image stands alone (photos): people are found afresh in each, '
                f'nothing is tracked or smoothed across images, {self.smoothed_pub.topic_name} '
                'stays silent')

    # -- parameters -----------------------------------------------------------------------
    def _check_unknown_parameters(self):
        """Parameters given (file, command line) that the node does not have: say so.

        A stage parameter given by its bare name (the flat names before they were namespaced,
        e.g. `temporal_delay_frames`) would otherwise be ignored without a word: that is an error
        naming the parameter to use; any other unknown name is a warning.
        """
        stage_names = {f.name: namespace for _, namespace, cls in STAGES for f in fields(cls)}
        unknown = sorted(set(self._parameter_overrides) - set(self._parameters))
        moved = [f"'{name}' is '{stage_names[name]}.{name}'" for name in unknown
                 if name in stage_names]
        if moved:
            raise SetupError('stage parameters are namespaced by stage (in YAML: nested under '
                             'frontend, mesh, refine or temporal): ' + '; '.join(moved))
        if unknown:
            self.get_logger().warning(f'ignoring parameters hmr_node does not have: {unknown}')

    def _on_set_parameters(self, params):
        """Apply live parameters (read-only ones never get here: rclpy refuses them)."""
        live = self.pipeline.live_parameters()
        for param in params:
            if param.name in NODE_LIVE:
                check = NODE_CHECKS.get(param.name)
                problem = check(param.value) if check is not None else None
                if problem:
                    return SetParametersResult(successful=False,
                                               reason=f'{param.name} {problem}')
                continue
            name = self._live_fields.get(param.name)
            if name not in live:
                return SetParametersResult(successful=False, reason=(
                    f"'{param.name}' cannot change in profile {self.profile}"))
            try:
                self.pipeline.set_parameter(name, param.value)
            except (TypeError, ValueError) as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        for param in params:
            if param.name in NODE_LIVE:
                setattr(self.p, param.name, param.value)
            self.get_logger().info(f'parameter {param.name} = {param.value!r} (live)')
        return SetParametersResult(successful=True)

    # -- input ----------------------------------------------------------------------------
    def _on_camera_info(self, msg):
        self._camera_infos.put(stamp_key(msg.header.stamp), msg)

    def _offer(self, raw, msg_type):
        now = time.monotonic()
        with self._lock:
            self.counts['frames_in'] += 1
            self.in_rate.tick(now)
        if self._pacer is not None:
            self._pacer.frame_arrived(now)
        old = self._intake.put(Ticket(raw, msg_type, now,
                                      received_clock=self.get_clock().now().nanoseconds * 1e-9))
        if old is not None:
            self._drop(old, 'dropped_busy')   # the worker never saw the older frame
            if self._pacer is not None:
                self._pacer.frame_dropped(now)

    def _drop(self, ticket, counter):
        with self._lock:
            self.counts[counter] += 1
        try:
            header = ticket.header or header_from_cdr(ticket.raw)
        except ImageError:
            return  # nothing to acknowledge: the bytes are not an image message
        self.done_pub.publish(header)

    # -- processing -----------------------------------------------------------------------
    def _front_worker(self):
        """Decode and run the front-end; hand over to the mesh worker (or run it inline)."""
        try:
            while True:
                if self._pacer is not None and self._pacer.active():
                    self._handoff.wait_taken()
                    self._stopping.wait(self._pacer.delay())
                if self._pacer is not None:
                    waiting = self._intake.newest()
                    if waiting is not None:
                        self._intake.wait_newer(waiting, self._pacer.fresh_wait(waiting.received))
                ticket = self._intake.take()
                if ticket is None:
                    return
                t0 = ticket.started = time.monotonic()
                if not self._guarded(self._front, ticket):
                    continue
                if self._pacer is not None:
                    self._pacer.front_finished(time.monotonic() - t0)
                if ticket.front is None:
                    continue
                ticket.handed_over = time.monotonic()
                if self.pipelined:
                    self._handoff.put(ticket)
                else:
                    self._guarded(self._bodies, ticket)
        finally:
            if not self.pipelined:
                self.visuals.close()  # GL resources belong to the thread that rendered

    def _body_worker(self):
        self._serve(self._handoff, self._bodies, self._pacer,
                    renders=self._to_temporal is None)

    def _temporal_worker(self):
        self._serve(self._to_temporal, self._after_mesh, None, renders=True)

    def _serve(self, slot, stage, pacer, renders):
        """Run `stage` on each ticket `slot` hands over, until it closes."""
        try:
            while (ticket := slot.take()) is not None:
                if pacer is not None:
                    pacer.mesh_started()
                self._guarded(stage, ticket)
                if pacer is not None:
                    pacer.mesh_finished()
        finally:
            if renders:
                self.visuals.close()  # GL resources belong to the thread that rendered

    def _guarded(self, stage, ticket):
        """Run a stage; a bug in it must not kill the node: count, log, acknowledge."""
        try:
            stage(ticket)
            return True
        except Exception:
            with self._lock:
                self.counts['errors'] += 1
            self._report_problem('pipeline error:\n' + traceback.format_exc())
            if ticket.header is not None:
                self.done_pub.publish(ticket.header)
            return False

    def _front(self, ticket):
        t0 = time.perf_counter()
        try:
            msg = deserialize_message(ticket.raw, ticket.msg_type)
            decode = compressed_to_rgb if ticket.msg_type is CompressedImage else image_to_rgb
            ticket.header = msg.header
            key = stamp_key(msg.header.stamp)
            if key != (0, 0) and key in self._recent_stamps:
                self._drop(ticket, 'duplicates_ignored')   # a source sent it again
                return
            self._recent_stamps.append(key)
            ticket.rgb = decode(msg, self.p.max_image_pixels)
        except ImageError as exc:
            self._drop(ticket, 'dropped_bad_input')
            self._report_problem(f'dropped image: {exc}')
            return
        ticket.raw = None
        ticket.rgb, intrinsics = self._rectified(ticket.rgb, stamp_key(ticket.header.stamp))
        ticket.decode_ms = (time.perf_counter() - t0) * 1e3
        ticket.camera = self._with_up(intrinsics, ticket.header.frame_id)
        stamp = ticket.header.stamp.sec + ticket.header.stamp.nanosec * 1e-9
        if self.external is not None:
            people = self.external.take(ticket.header.stamp)
            ticket.front = FrontResult(
                People() if people is None else self.rectifier.people(people), stamp)
        else:
            ticket.front = self.pipeline.process_front(ticket.rgb, stamp)

    def _bodies(self, ticket):
        """Per-frame meshes and ~/persons; then the temporal stage, here or on its worker."""
        ticket.mesh_started = time.monotonic()
        result = ticket.result = self.pipeline.process_mesh(ticket.rgb, ticket.camera,
                                                            ticket.front)
        t0 = time.perf_counter()
        # The per-frame people go out before the temporal stage: they need not wait for it.
        self.persons_pub.publish(
            to_person_array(ticket.header, result.people, result.bodies, self.profile))
        ticket.publish_ms = (time.perf_counter() - t0) * 1e3
        now = time.monotonic()
        with self._lock:
            self.latencies.append((now - ticket.received) * 1e3)
        if self._to_temporal is not None:
            self._to_temporal.put(ticket)
        else:
            self._after_mesh(ticket)

    def _after_mesh(self, ticket):
        """The temporal stage, the smoothed and delayed outputs, the visuals, the bookkeeping."""
        header, result = ticket.header, ticket.result
        with self._temporal_lock:
            self.pipeline.process_temporal(result, ticket.camera)
            t0 = time.perf_counter()
            if result.smoothed is not None:
                self.smoothed_pub.publish(
                    to_person_array(header, result.people, result.smoothed, self.profile))
            if self.delayed_pub is not None:
                self._headers.append((ticket.front.stamp, header))
                self._publish_delayed(result.delayed, header)
        self.visuals.publish(header, ticket.rgb, ticket.camera, result, self.p)
        if not self.pipelined:
            # An every-frame source answers this acknowledgement with its next image at once:
            # the image waiting now is this worker's next, not a stale one to replace.
            self._intake.claim()
        self.done_pub.publish(header)
        now = time.monotonic()
        # Waits are part of the latency too: the newest image waiting for the front-end, and
        # the front-end's result waiting for the mesh worker (pipelined).
        timings = dict(result.timings_ms, decode=ticket.decode_ms,
                       publish=ticket.publish_ms + (time.perf_counter() - t0) * 1e3,
                       wait_intake=(ticket.started - ticket.received) * 1e3,
                       wait_mesh=(ticket.mesh_started - ticket.handed_over) * 1e3)
        # How old the image was on arrival (capture, conversion and transport), where the stamp
        # is on the node's clock (a live source; not a bag replayed with its old stamps).
        age = ticket.received_clock - (header.stamp.sec + header.stamp.nanosec * 1e-9)
        if 0.0 <= age < MAX_ARRIVAL_AGE_S:
            timings['arrival'] = age * 1e3
        with self._lock:
            self.counts['processed'] += 1
            self.counts['people'] = len(result.people)
            for key, value in result.counters.items():
                self.extra_counts[key] = self.extra_counts.get(key, 0) + int(value)
            self.out_rate.tick(now)
            for stage, ms in timings.items():
                self.stage_ms.setdefault(stage, deque(maxlen=200)).append(ms)

    def _publish_delayed(self, frames, fallback):
        for frame in frames:
            self.delayed_pub.publish(to_person_array(
                self._header_at(frame.stamp, fallback), frame.people, frame.bodies,
                self.profile))

    def _on_end_of_stream(self, header):
        """A source's file or bag has ended: publish what is still owed, then acknowledge.

        The source sends this once its frames are all acknowledged; what is owed is the
        delayed stream's last frames.
        """
        try:
            with self._temporal_lock:
                frames = self.pipeline.end_of_stream()
                if frames:
                    self._publish_delayed(frames, self._headers[-1][1])
            if frames:
                with self._lock:
                    self.extra_counts['delayed_at_end'] = \
                        self.extra_counts.get('delayed_at_end', 0) + len(frames)
                self.get_logger().info(
                    f'end of stream: its last {len(frames)} frames published on '
                    f'{self.delayed_pub.topic_name}')
        except Exception:
            with self._lock:
                self.counts['errors'] += 1
            self._report_problem('pipeline error at the end of a stream:\n'
                                 + traceback.format_exc())
        self.done_pub.publish(header)

    def _header_at(self, stamp, fallback):
        """The header of the processed frame at `stamp` (a delayed estimate's frame)."""
        for s, header in reversed(self._headers):
            if abs(s - stamp) <= 1e-3:
                return header
        return fallback

    def _report_problem(self, text, period=5.0):
        """Log a problem; repeats of the same kind (numbers ignored) at most once per period."""
        first_line = text.splitlines()[0] if text else ''
        self._last_problem = first_line
        kind = re.sub(r'\d+', '#', first_line)
        now = time.monotonic()
        last, suppressed = self._problem_log.get(kind, (-1e9, 0))
        if now - last < period:
            self._problem_log[kind] = (last, suppressed + 1)
            return
        self._problem_log[kind] = (now, 0)
        more = f' ({suppressed} more like it not logged)' if suppressed else ''
        self.get_logger().error(text + more)

    def _on_tf_static(self, msg):
        for problem in add_transforms(self.static_tree, msg):
            self._report_problem(f'/tf_static: {problem}')

    def _with_up(self, camera, frame):
        """`camera` with the floor (floor_frame) or up (up_frame) in the images' frame, from TF.

        The floor, when linked, gives both; else up_frame's z axis; else the camera as it was.
        """
        if not frame:
            return camera
        floor = self.static_tree.floor_in(frame, self.p.floor_frame) if self.p.floor_frame \
            else None
        up = floor[0] if floor is not None else \
            self.static_tree.up_in(frame, self.p.up_frame) if self.p.up_frame else None
        if up is None:
            return camera
        source = (frame, floor is not None)
        if self._up_source != source:
            self._up_source = source
            tilt = np.degrees(np.arccos(np.clip(-up[1], -1.0, 1.0)))
            if floor is not None:
                self.get_logger().info(
                    f"floor in {frame}: {self.p.floor_frame}'s xy plane from /tf_static, the "
                    f"camera {floor[1]:.2f} m above it ({tilt:.0f} deg from the image's "
                    "vertical): people on it get their size and distance from it, upright "
                    "people are kept upright")
            else:
                self.get_logger().info(
                    f"up in {frame}: {self.p.up_frame}'s z from /tf_static ({tilt:.0f} deg from "
                    "the image's vertical): upright people are kept upright")
        return camera.with_floor(up, floor[1]) if floor is not None else camera.with_up(up)

    def _rectified(self, rgb, key=None):
        """The image (rectified when its camera_info says so) and the intrinsics describing it."""
        timeouts = self._camera_infos.waits_timed_out
        info = self._camera_infos.get(key)
        if self._camera_infos.waits_timed_out > timeouts:
            self.get_logger().info(
                f'no camera_info stamped like the image after {self.p.camera_info_wait_s} s '
                '(camera_info_wait_s): the latest one is used, and images do not wait for '
                'theirs until one comes with its image\'s stamp again')
        if info is not None:
            rectified, intr = self.rectifier.apply(rgb, info)
            if intr is not None:
                return rectified, intr
        height, width = rgb.shape[:2]
        why = 'no camera_info received yet' if info is None else \
            f'camera_info without a usable camera matrix (K {list(info.k)}, {info.width}x' \
            f'{info.height})'
        if self._warned_estimated != why:     # said once per reason
            self._warned_estimated = why
            self.get_logger().info(f'{why}: focal length estimated from the image diagonal')
        return rgb, CameraIntrinsics.from_image_diagonal(width, height)

    # -- reporting ------------------------------------------------------------------------
    def _stats(self):
        """Current figures, as the strings the DiagnosticArray carries."""
        now = time.monotonic()
        lat = np.array(self.latencies) if self.latencies else np.zeros(1)
        return {
            'input_fps': f'{self.in_rate.rate(now):.2f}',
            'output_fps': f'{self.out_rate.rate(now):.2f}',
            'latency_ms_median': f'{np.median(lat):.1f}',
            'latency_ms_p95': f'{np.percentile(lat, 95):.1f}',
            'latency_ms_p99': f'{np.percentile(lat, 99):.1f}',
            **{k: str(v) for k, v in self.counts.items()},
            **{f'count_{k}': str(v) for k, v in self.extra_counts.items()},
            **{f'stage_ms_{k}': f'{np.median(v):.1f}' for k, v in self.stage_ms.items()},
            'model_profile': self.profile,
        }

    def _publish_diagnostics(self):
        if getattr(self, 'ready_pub', None) is not None and not self._intake.closed:
            # Latched, and said again: a source whose discovery missed the latched sample
            # (seen once in a launch of four processes) still starts.
            self.ready_pub.publish(Bool(data=True))
        with self._lock:
            values = self._stats()
        c = self.counts
        self._check_input()
        status = DiagnosticStatus()
        status.name = f'{self.get_name()}: pipeline'
        status.hardware_id = self.profile
        if c['errors'] or (c['frames_in'] and c['processed'] == 0 and c['dropped_bad_input']):
            status.level = DiagnosticStatus.WARN
            status.message = self._last_problem or 'errors in the pipeline'
        elif c['frames_in'] == 0:
            status.level = DiagnosticStatus.WARN
            status.message = 'no images received yet'
        else:
            status.level = DiagnosticStatus.OK
            status.message = f"{values['output_fps']} FPS out of {values['input_fps']} FPS in"
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        diag = DiagnosticArray()
        diag.header.stamp = self.get_clock().now().to_msg()
        diag.status = [status]
        self.diag_pub.publish(diag)
        now = time.monotonic()
        if now - self._last_log >= self.p.log_period:
            self._last_log = now
            self._log_summary(values)

    def _log_summary(self, values=None):
        v = values or self._stats()
        finder = self.pipeline.floor_estimate
        self.get_logger().info(
            f"in {v['input_fps']} FPS, out {v['output_fps']} FPS, latency median "
            f"{v['latency_ms_median']} ms p95 {v['latency_ms_p95']} ms; frames {v['frames_in']} "
            f"in, {v['processed']} done, {v['dropped_busy']} dropped (busy), "
            f"{v['dropped_bad_input']} dropped (bad input), {v['errors']} errors; "
            f"{v['people']} people in the last frame"
            + (f'; {finder.describe()}' if finder is not None else ''))

    def _check_input(self):
        """Say so once when a publisher is matched but no image has arrived for a while."""
        if self.counts['frames_in'] or self._warned_no_input:
            return
        waited = time.monotonic() - self._started
        publishers = self.count_publishers(self.image_topic)
        if waited >= self.p.no_input_warning_s and publishers:
            self._warned_no_input = True
            self.get_logger().warning(
                f'{publishers} publisher(s) on {self.image_topic} but no image received in '
                f'{waited:.0f} s: a publisher in another process may use other Fast DDS '
                'transports (FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA cannot talk to the '
                'defaults); the launch files use config/fastdds_large_images.xml')

    def close(self):
        self._stopping.set()
        self._intake.close()
        self._handoff.close()
        if self._to_temporal is not None:
            self._to_temporal.close()
        for worker in self.workers:
            worker.join(timeout=10.0)
        self.pipeline.close()
        self.ready_pub.publish(Bool(data=False))
        self._log_summary()


def main(args=None):
    run_main(HMRNode, args)


if __name__ == '__main__':
    main()
