"""hmr_node: camera images in, SMPL people out.

Subscribes `image_topic` (sensor_msgs/Image, or its `/compressed` sibling when
image_transport is 'compressed') and the camera_info beside it; runs hmr_models.HMRPipeline
on the newest frame (when busy it keeps only the newest and counts the drops: no backlog);
publishes hmr_ros/SMPLPersonArray on `~/persons` (per frame) and `~/persons_smoothed`
(temporal model), debug visuals when enabled, and diagnostic_msgs/DiagnosticArray on
/diagnostics with a periodic summary in the log.
"""
from collections import deque
import re
import threading
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from hmr_models.diffmesh import OneEuroConfig, StreamingConfig, TemporalConfig
from hmr_models.dpmesh.factory import MeshConfig
from hmr_models.frontend import FrontEndConfig, ModelLoadError
from hmr_models.paths import MissingModelFile
from hmr_models.pipeline import build_pipeline, PipelineConfig, StageConfigs
from hmr_models.types import CameraIntrinsics
from hmr_ros.camera_info import intrinsics_from_camera_info
from hmr_ros.image_conversion import (
    DEFAULT_MAX_PIXELS, ImageError, compressed_to_rgb, image_to_rgb)
from hmr_ros.msg import SMPLPersonArray
from hmr_ros.node_main import run_node, SetupError
from hmr_ros.params import Param, declare_config, declare_params, one_of, positive
from hmr_ros.person_msgs import to_person_array
from hmr_ros.visuals import Visuals

NODE_PARAMS = [
    Param('image_topic', '/camera/image_raw', 'input image topic (sensor_msgs/Image)'),
    Param('camera_info_topic', '', "camera_info topic; empty: 'camera_info' beside image_topic"),
    Param('image_transport', 'raw', "'raw' (Image) or 'compressed' (CompressedImage on "
          '<image_topic>/compressed)', one_of('raw', 'compressed')),
    Param('max_image_pixels', DEFAULT_MAX_PIXELS, 'larger images are dropped (counted)', positive),
    Param('publish_markers', True, 'publish visualization_msgs/MarkerArray on ~/markers'),
    Param('publish_overlay', True, 'publish meshes drawn on the image on ~/overlay'),
    Param('publish_debug_image', True, 'publish boxes, 2D skeletons and ids on ~/debug_image'),
    Param('diagnostics_period', 1.0, 'seconds between DiagnosticArray messages', positive),
    Param('log_period', 10.0, 'seconds between summary lines in the log', positive),
]


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


class HMRNode(Node):
    def __init__(self):
        super().__init__('hmr_node')
        self.p = declare_params(self, NODE_PARAMS)
        self.pipeline_config = declare_config(self, PipelineConfig)
        stages = StageConfigs(
            frontend=declare_config(self, FrontEndConfig), mesh=declare_config(self, MeshConfig),
            temporal=declare_config(self, TemporalConfig),
            streaming=declare_config(self, StreamingConfig),
            one_euro=declare_config(self, OneEuroConfig))
        self.profile = self.pipeline_config.model_profile
        t0 = time.monotonic()
        try:
            self.pipeline = build_pipeline(self.pipeline_config, stages)
        except (MissingModelFile, ModelLoadError, ValueError) as exc:
            raise SetupError(str(exc)) from None
        self.get_logger().info(f'models loaded in {time.monotonic() - t0:.1f} s')

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.persons_pub = self.create_publisher(SMPLPersonArray, '~/persons', reliable)
        self.smoothed_pub = self.create_publisher(SMPLPersonArray, '~/persons_smoothed', reliable)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', reliable)
        mesh = self.pipeline.mesh
        self.visuals = Visuals(self, getattr(getattr(mesh, 'body', None), 'faces', None),
                               self.p.publish_markers, self.p.publish_overlay,
                               self.p.publish_debug_image)

        if self.p.image_transport == 'compressed':
            topic = self.p.image_topic.rstrip('/') + '/compressed'
            self.create_subscription(CompressedImage, topic, self._on_compressed,
                                     qos_profile_sensor_data)
        else:
            topic = self.p.image_topic
            self.create_subscription(Image, topic, self._on_image, qos_profile_sensor_data)
        info_topic = self.p.camera_info_topic or sibling_topic(self.p.image_topic, 'camera_info')
        self.create_subscription(CameraInfo, info_topic, self._on_camera_info,
                                 qos_profile_sensor_data)
        self.camera_info = None
        self._warned_estimated = False

        # Newest-frame slot shared with the worker thread.
        self._slot = None
        self._cond = threading.Condition()
        self._stop = False
        self.counts = dict(frames_in=0, processed=0, dropped_busy=0, dropped_bad_input=0,
                           errors=0, people=0)
        self.extra_counts = {}
        self.in_rate = RateMeter()
        self.out_rate = RateMeter()
        self.latencies = deque(maxlen=200)
        self.stage_ms = {}
        self._last_log = time.monotonic()
        self._last_problem = ''
        self._problem_log = {}

        self.worker = threading.Thread(target=self._work, name='hmr_pipeline', daemon=True)
        self.worker.start()
        self.create_timer(self.p.diagnostics_period, self._publish_diagnostics)
        self.get_logger().info(
            f'listening on {topic} ({self.p.image_transport}) and {info_topic}; '
            f'profile {self.profile}; publishing {self.persons_pub.topic_name}')

    # -- input ----------------------------------------------------------------------------
    def _on_camera_info(self, msg):
        self.camera_info = msg

    def _on_image(self, msg):
        self._offer(msg, image_to_rgb)

    def _on_compressed(self, msg):
        self._offer(msg, compressed_to_rgb)

    def _offer(self, msg, decode):
        now = time.monotonic()
        with self._cond:
            self.counts['frames_in'] += 1
            self.in_rate.tick(now)
            if self._slot is not None:
                self.counts['dropped_busy'] += 1  # the worker never saw the older frame
            self._slot = (msg, decode, now)
            self._cond.notify()

    # -- processing -----------------------------------------------------------------------
    def _work(self):
        while True:
            with self._cond:
                while self._slot is None and not self._stop:
                    self._cond.wait(timeout=0.5)
                if self._stop:
                    self.visuals.close()  # GL resources belong to this thread
                    return
                msg, decode, received = self._slot
                self._slot = None
            try:
                self._process(msg, decode, received)
            except Exception:  # a bug in a stage must not kill the node: count and log it
                if not self.context.ok():
                    return  # shutting down (Ctrl-C): publishers are gone, nothing to report
                self.counts['errors'] += 1
                self._report_problem('pipeline error:\n' + traceback.format_exc())

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

    def _intrinsics(self, width, height):
        info = self.camera_info
        if info is not None:
            intr = intrinsics_from_camera_info(info)
            if intr is not None:
                if (intr.width, intr.height) != (width, height):
                    intr = intr.scaled(width / intr.width, height / intr.height)
                return intr
        if not self._warned_estimated:
            self._warned_estimated = True
            self.get_logger().info('no camera_info received yet: focal length estimated from '
                                   'the image diagonal')
        return CameraIntrinsics.from_image_diagonal(width, height)

    def _process(self, msg, decode, received):
        try:
            rgb = decode(msg, self.p.max_image_pixels)
        except ImageError as exc:
            self.counts['dropped_bad_input'] += 1
            self._report_problem(f'dropped image: {exc}')
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        camera = self._intrinsics(rgb.shape[1], rgb.shape[0])
        result = self.pipeline.process(rgb, stamp, camera)
        out = to_person_array(msg.header, result.people, result.bodies, self.profile)
        self.persons_pub.publish(out)
        if result.smoothed is not None:
            self.smoothed_pub.publish(
                to_person_array(msg.header, result.people, result.smoothed, self.profile))
        self.visuals.publish(msg.header, rgb, camera, result)
        now = time.monotonic()
        self.counts['processed'] += 1
        self.counts['people'] = len(result.people)
        for key, value in result.counters.items():
            self.extra_counts[key] = self.extra_counts.get(key, 0) + int(value)
        self.out_rate.tick(now)
        self.latencies.append((now - received) * 1e3)
        for stage, ms in result.timings_ms.items():
            self.stage_ms[stage] = ms

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
            **{k: str(v) for k, v in self.counts.items()},
            **{f'count_{k}': str(v) for k, v in self.extra_counts.items()},
            **{f'stage_ms_{k}': f'{v:.1f}' for k, v in self.stage_ms.items()},
            'model_profile': self.profile,
        }

    def _publish_diagnostics(self):
        values = self._stats()
        c = self.counts
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
        self.get_logger().info(
            f"in {v['input_fps']} FPS, out {v['output_fps']} FPS, latency median "
            f"{v['latency_ms_median']} ms p95 {v['latency_ms_p95']} ms; frames {v['frames_in']} "
            f"in, {v['processed']} done, {v['dropped_busy']} dropped (busy), "
            f"{v['dropped_bad_input']} dropped (bad input), {v['errors']} errors; "
            f"{v['people']} people in the last frame")

    def close(self):
        with self._cond:
            self._stop = True
            self._cond.notify()
        self.worker.join(timeout=5.0)
        self.pipeline.close()
        self._log_summary()


def main(args=None):
    raise SystemExit(run_node(HMRNode, args))


if __name__ == '__main__':
    main()
