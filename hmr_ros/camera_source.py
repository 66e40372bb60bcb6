"""camera_source: publish sensor_msgs/Image + CameraInfo from a camera, a video or an image folder.

Topics (relative, so a namespace such as /camera applies): `image_raw`, `camera_info`.
With no calibration file the focal length is estimated from the image diagonal (as CLIFF and
DPMesh do) and the log says so.

Files and folders are published frame by frame by default (`every_frame`): each frame goes
out when the node has acknowledged the earlier ones (hmr_ros.frame_flow), so every frame is
processed whatever the machine's speed; a live camera runs at its own rate and the node keeps
the newest frame. With `ready_topic` set, nothing is published before the node is ready.
"""
import threading
import time

from builtin_interfaces.msg import Time
import cv2
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from hmr_models.types import CameraIntrinsics
from hmr_ros.camera_info import (
    CalibrationError, camera_info_from_intrinsics, load_calibration, scale_camera_info)
from hmr_ros.frame_sources import SourceError, open_source
from hmr_ros.frame_flow import END_TOPIC_PARAM, FrameFlow
from hmr_ros.image_conversion import rgb_to_image
from hmr_ros.node_main import (
    EXIT_BAD_SETUP, EXIT_OK, LoggingNode, run_main, SetupError, share_file)
from hmr_ros.params import Param, declare_params, non_negative, one_of, positive, text_choice

SAMPLE_VIDEO = ('media', 'sample_sports2d.mp4')

PARAMS = [
    Param('source', '', "camera ('0', '/dev/video0'), video file or image folder; "
          'empty: the bundled sample video'),
    Param('rate', 0.0, 'publish rate in Hz; 0 = the source\'s own rate (video fps, camera rate, '
          '10 Hz for images); in every-frame mode an upper bound (0 = as fast as acknowledged)',
          non_negative),
    Param('loop', False, 'restart a video or image folder at its end (else the node exits 0)'),
    Param('every_frame', 'auto', "'true': publish the next frame only when the node has "
          "finished the previous ones (nothing dropped); 'false': the source's own rate, the "
          "node keeps up or drops (a live camera); 'auto': true for files and folders, false "
          'for cameras', one_of('auto', 'true', 'false'), convert=text_choice),
    Param('ready_topic', '', "latched std_msgs/Bool of the node to wait for before the first "
          "frame (hmr_node: '/hmr_node/ready'); empty: do not wait"),
    Param('done_topic', '', "std_msgs/Header acknowledgements of finished frames (hmr_node: "
          "'/hmr_node/frame_done'); needed by every-frame mode"),
    Param('max_in_flight', 2, 'every-frame mode: frames sent and not yet acknowledged, at most',
          positive),
    Param('ack_timeout', 20.0, 'every-frame mode: seconds before an unacknowledged frame is '
          'sent again', positive),
    END_TOPIC_PARAM,
    Param('frame_id', 'camera_optical_frame', 'frame_id of the published images'),
    Param('calibration_file', '', 'camera_info YAML (camera_calibration format); empty: focal '
          'length estimated from the image diagonal'),
    Param('encoding', 'rgb8', 'encoding of the published images', one_of('rgb8', 'bgr8')),
    Param('max_width', 0, 'downscale wider frames to this width (0 = keep)', non_negative),
    Param('camera_width', 0, 'requested camera capture width (0 = driver default)', non_negative),
    Param('camera_height', 0, 'requested camera capture height (0 = driver default)',
          non_negative),
    Param('camera_fps', 0.0, 'requested camera frame rate (0 = driver default)', non_negative),
]


class CameraSource(LoggingNode):
    def __init__(self):
        super().__init__('camera_source')
        self.p = declare_params(self, PARAMS)
        self.exit_code = EXIT_OK
        self.done = False
        source = self.p.source or str(share_file(*SAMPLE_VIDEO))
        try:
            self.source = open_source(source, self.p.camera_width, self.p.camera_height,
                                      self.p.camera_fps)
        except SourceError as exc:
            raise SetupError(f"{exc} (parameter 'source')") from None
        self.calibration = None
        if self.p.calibration_file:
            try:
                self.calibration = load_calibration(self.p.calibration_file)
            except CalibrationError as exc:
                raise SetupError(f"{exc} (parameter 'calibration_file')") from None
        self.every_frame = self.p.every_frame == 'true' or (
            self.p.every_frame == 'auto' and not self.source.live)
        if self.every_frame and not self.p.done_topic:
            if self.p.every_frame == 'true':
                raise SetupError("every_frame needs parameter 'done_topic' (the node's "
                                 "acknowledgements, e.g. '/hmr_node/frame_done')")
            self.every_frame = False  # 'auto' without a node to acknowledge: the file's rate
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, 'image_raw', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self.flow = FrameFlow(self, self.p.ready_topic,
                              self.p.done_topic, self.p.max_in_flight,
                              self.p.ack_timeout, end_topic=self.p.end_topic,
                              every_frame=self.every_frame)
        self.rate = self.p.rate or (0.0 if self.every_frame else self.source.native_fps)
        self.frames = 0
        self.loops = 0
        self._info_for_size = {}
        self._stop = threading.Event()
        self._thread = None
        self._warned_waiting = False
        if self.every_frame:
            mode = ('every frame, each sent when the node has finished the earlier ones '
                    f'(at most {self.p.max_in_flight} in flight)')
            if self.rate:
                mode += f', at most {self.rate:.2f} Hz'
        else:
            mode = f'{self.rate:.2f} Hz'
        if self.source.live:
            self.create_timer(1.0 / self.rate, self._tick)
        else:
            # A file waits for its first subscriber (frames sent before discovery are lost).
            self._thread = threading.Thread(target=self._publish_file, daemon=True)
            self._thread.start()
        self.get_logger().info(
            f'publishing {self.source.description} on {self.image_pub.topic_name}: {mode} '
            f'(loop={self.p.loop})'
            + (f'; waiting for {self.p.ready_topic} first' if self.p.ready_topic else ''))

    def _camera_info(self, width, height):
        """CameraInfo for this image size (cached: the size rarely changes)."""
        info = self._info_for_size.get((width, height))
        if info is not None:
            return info
        if self.calibration is not None:
            cal = self.calibration
            info = cal if (cal.width, cal.height) == (width, height) else \
                scale_camera_info(cal, width, height)
            if (cal.width, cal.height) != (width, height):
                self.get_logger().warning(
                    f'calibration is for {cal.width}x{cal.height}, images are {width}x{height}: '
                    'intrinsics scaled')
        else:
            intr = CameraIntrinsics.from_image_diagonal(width, height)
            info = camera_info_from_intrinsics(intr)
            self.get_logger().info(
                f'no calibration_file: focal length estimated from the image diagonal '
                f'(f = {intr.fx:.1f} px for {width}x{height}, as CLIFF/DPMesh do)')
        self._info_for_size[(width, height)] = info
        return info

    def _next_frame(self):
        """The next RGB frame (restarting a looped source), or None at the end."""
        rgb = self.source.read()
        if rgb is None and self.p.loop and self.frames > 0 and self.source.restart():
            self.loops += 1
            rgb = self.source.read()
        if rgb is not None and self.p.max_width and rgb.shape[1] > self.p.max_width:
            h = round(rgb.shape[0] * self.p.max_width / rgb.shape[1])
            rgb = cv2.resize(rgb, (self.p.max_width, h), interpolation=cv2.INTER_AREA)
        return rgb

    def _publish(self, rgb, stamp):
        img = rgb_to_image(rgb, encoding=self.p.encoding)
        img.header.stamp = stamp
        img.header.frame_id = self.p.frame_id
        info = self._camera_info(img.width, img.height)
        info.header.stamp = stamp
        info.header.frame_id = self.p.frame_id

        def send():
            self.info_pub.publish(info)
            self.image_pub.publish(img)
        send()
        self.frames += 1
        return send

    def _end(self):
        if self.frames == 0:
            # a corrupt video, or images none of which decode: the user's input gave nothing
            self.get_logger().error(f'{self.source.description}: no frame could be read; '
                                    'nothing was published')
            self.exit_code = EXIT_BAD_SETUP
        else:
            self.get_logger().info(f'end of {self.source.description}: {self.flow.summary()}; '
                                   'exiting')
        self.done = True

    # -- a live camera ---------------------------------------------------------------------
    def _tick(self):
        if self.done:
            return
        if not self.flow.ready.is_set():
            if not self._warned_waiting:
                self._warned_waiting = True
                self.get_logger().info(f'waiting for {self.p.ready_topic}')
            return  # a camera keeps running; its frames before the node is ready are skipped
        rgb = self._next_frame()
        if rgb is None:
            self._end()
            return
        stamp = self.get_clock().now().to_msg()
        self.flow.sent(stamp, self._publish(rgb, stamp))

    # -- a file or folder ------------------------------------------------------------------
    def _publish_file(self):
        """Publish a file once somebody listens: frame by frame, or at the source's rate.

        Every-frame stamps advance by the source's frame period whatever the processing speed,
        so the temporal model sees the motion at its true pace; at the source's rate they are
        the clock's time, as a camera's would be.
        """
        if not self.flow.wait_ready(self._stop, (self.image_pub,)):
            return
        period_ns = int(round(1e9 / self.source.native_fps))
        start_ns = self.get_clock().now().nanoseconds
        start = time.monotonic()
        min_gap = 1.0 / self.rate if self.rate else 0.0
        last = -float('inf')
        while not self._stop.is_set():
            if self.every_frame and not self.flow.acquire(self._stop):
                return
            rgb = self._next_frame()
            if rgb is None:
                break
            if self.every_frame:
                if min_gap and self._stop.wait(max(0.0, last + min_gap - time.monotonic())):
                    return
                ns = start_ns + self.frames * period_ns
            else:  # the frame's due time on the source's own clock
                if self._stop.wait(max(0.0, start + self.frames * min_gap - time.monotonic())):
                    return
                ns = self.get_clock().now().nanoseconds
            last = time.monotonic()
            stamp = Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
            self.flow.sent(stamp, self._publish(rgb, stamp))
        if self.flow.drain(self._stop) and self.flow.end_stream(self._stop):
            self._end()

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.source.close()


def main(args=None):
    run_main(CameraSource, args)


if __name__ == '__main__':
    main()
