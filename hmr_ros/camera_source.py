"""camera_source: publish sensor_msgs/Image + CameraInfo from a camera, a video or an image folder.

Topics (relative, so a namespace such as /camera applies): `image_raw`, `camera_info`.
With no calibration file the focal length is estimated from the image diagonal (as CLIFF and
DPMesh do) and the log says so.
"""
import time

import cv2
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from hmr_models.types import CameraIntrinsics
from hmr_ros.camera_info import (
    CalibrationError, camera_info_from_intrinsics, load_calibration, scale_camera_info)
from hmr_ros.frame_sources import SourceError, open_source
from hmr_ros.image_conversion import rgb_to_image
from hmr_ros.node_main import EXIT_OK, SetupError, run_node, share_file
from hmr_ros.params import Param, declare_params, non_negative, one_of

SAMPLE_VIDEO = ('media', 'sample_sports2d.mp4')

PARAMS = [
    Param('source', '', "camera ('0', '/dev/video0'), video file or image folder; "
          'empty: the bundled sample video'),
    Param('rate', 0.0, 'publish rate in Hz; 0 = the source\'s own rate (video fps, camera rate, '
          '10 Hz for images)', non_negative),
    Param('loop', False, 'restart a video or image folder at its end (else the node exits 0)'),
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


class CameraSource(Node):
    def __init__(self):
        super().__init__('camera_source')
        self.p = declare_params(self, PARAMS)
        self.exit_code = EXIT_OK
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
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, 'image_raw', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self.rate = self.p.rate or self.source.native_fps
        self.frames = 0
        self.loops = 0
        self._info_for_size = {}
        self.get_logger().info(
            f'publishing {self.source.description} at {self.rate:.2f} Hz on '
            f'{self.image_pub.topic_name} (loop={self.p.loop})')
        self._start = time.monotonic()
        self.timer = self.create_timer(1.0 / self.rate, self._tick)

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
                self.get_logger().warn(
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

    def _tick(self):
        rgb = self.source.read()
        if rgb is None:
            if self.p.loop and self.frames > 0 and self.source.restart():
                self.loops += 1
                rgb = self.source.read()
            if rgb is None:
                self.get_logger().info(
                    f'end of {self.source.description} after {self.frames} frames: exiting')
                self.timer.cancel()
                self.context.try_shutdown()
                return
        if self.p.max_width and rgb.shape[1] > self.p.max_width:
            h = round(rgb.shape[0] * self.p.max_width / rgb.shape[1])
            rgb = cv2.resize(rgb, (self.p.max_width, h), interpolation=cv2.INTER_AREA)
        stamp = self.get_clock().now().to_msg()
        img = rgb_to_image(rgb, encoding=self.p.encoding)
        img.header.stamp = stamp
        img.header.frame_id = self.p.frame_id
        info = self._camera_info(img.width, img.height)
        info.header.stamp = stamp
        info.header.frame_id = self.p.frame_id
        self.image_pub.publish(img)
        self.info_pub.publish(info)
        self.frames += 1

    def close(self):
        self.source.close()


def main(args=None):
    raise SystemExit(run_node(CameraSource, args))


if __name__ == '__main__':
    main()
