"""Debug and display outputs of hmr_node: mesh markers, mesh overlay, annotated 2D image.

Each output is computed only while somebody subscribes to it and its `publish_*` parameter is
on (those parameters may change while the node runs). Rendering needs an OpenGL context that
belongs to one thread, so the renderer is created lazily by the thread that publishes (hmr_node's
mesh worker).
"""
from dataclasses import replace

import cv2
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from hmr_ros.image_conversion import rgb_to_image
from hmr_ros.markers import body_markers_cdr


def display_size(rgb, camera, people, max_width):
    """The image, its intrinsics and the people's pixel coordinates scaled to `max_width`.

    Unchanged when the image is not wider (or max_width is 0). Rasterising meshes over a
    1280x720 image on a CPU (llvmpipe) costs ~55 ms for three people, 4x what 640 pixels cost,
    and each full-size image is another 2.7 MB to copy, serialise and send.
    """
    width = rgb.shape[1]
    if not max_width or width <= max_width:
        return rgb, camera, people
    height = max(1, int(round(rgb.shape[0] * max_width / width)))
    small = cv2.resize(rgb, (int(max_width), height), interpolation=cv2.INTER_AREA)
    sx, sy = max_width / width, height / rgb.shape[0]
    scale = np.array([sx, sy], np.float32)
    people = replace(people, boxes=people.boxes * np.tile(scale, 2),
                     keypoints=people.keypoints * scale)
    return small, camera.scaled(sx, sy), people


class Visuals:
    def __init__(self, node, faces):
        reliable = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self.node = node
        self.faces = faces
        have_mesh = faces is not None
        self.markers_pub = node.create_publisher(MarkerArray, '~/markers', reliable) \
            if have_mesh else None
        self.overlay_pub = node.create_publisher(Image, '~/overlay', reliable) \
            if have_mesh else None
        self.debug_pub = node.create_publisher(Image, '~/debug_image', reliable)
        self._renderer = None
        self._renderer_failed = False

    @staticmethod
    def _wanted(pub, enabled):
        return enabled and pub is not None and pub.get_subscription_count() > 0

    def publish(self, header, rgb, camera, result, switches):
        """Publish whatever is subscribed and switched on for one processed image.

        `switches` has the booleans publish_markers, publish_overlay, publish_debug_image and
        visuals_max_width (the widest overlay or debug image; 0 = the input's size).
        """
        bodies = result.smoothed if result.smoothed is not None else result.bodies
        have_mesh = bodies is not None and bodies.vertices is not None and len(bodies)
        if self._wanted(self.markers_pub, switches.publish_markers) and bodies is not None:
            vertices = bodies.vertices if have_mesh else np.zeros((0, 0, 3), np.float32)
            self.markers_pub.publish(body_markers_cdr(
                header.stamp, header.frame_id, vertices, self.faces, result.people.track_ids,
                joints=bodies.joints if have_mesh else None))
        want_overlay = self._wanted(self.overlay_pub, switches.publish_overlay)
        want_debug = self._wanted(self.debug_pub, switches.publish_debug_image)
        if not (want_overlay or want_debug):
            return
        rgb, camera, people = display_size(rgb, camera, result.people, switches.visuals_max_width)
        if want_overlay:
            image = rgb
            if have_mesh:
                renderer = self._get_renderer()
                if renderer is not None:
                    image = renderer.render(rgb, bodies.vertices, camera,
                                            track_ids=result.people.track_ids)
            self.overlay_pub.publish(rgb_to_image(image, header))
        if want_debug:
            from hmr_models.frontend import draw_people
            self.debug_pub.publish(rgb_to_image(draw_people(rgb, people), header))

    def _get_renderer(self):
        if self._renderer is None and not self._renderer_failed:
            from hmr_models.render import OverlayRenderer, RendererUnavailable
            try:
                self._renderer = OverlayRenderer(self.faces)
            except RendererUnavailable as exc:
                self._renderer_failed = True
                self.node.get_logger().error(
                    f'mesh overlay disabled: {exc} (the overlay topic shows the plain image)')
        return self._renderer

    def close(self):
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None
