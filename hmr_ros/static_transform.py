"""static_transform: publish a camera's mounting pose on /tf_static (latched), then idle.

The pip-only path has no tf2_ros, so no ``static_transform_publisher``; this node does the same
for one transform, plus the fixed REP-103 optical frame of a camera:

    frame_id -> child_frame_id         x, y, z, roll, pitch, yaw (metres, radians)
    child_frame_id -> optical_frame_id  x right, y down, z forward (when optical_frame_id is set)

e.g. ``base_link -> camera_link -> camera_optical_frame``. All transforms go out in one
TFMessage with transient-local durability, as tf2_ros's StaticTransformBroadcaster sends them.
"""
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from hmr_models.awareness.frames import OPTICAL_IN_CAMERA, make_transform, rpy_to_rotation
from hmr_ros.node_main import run_main
from hmr_ros.params import Param, ParameterError, declare_params
from hmr_ros.tf_conversion import transform_msg

PARAMS = [
    Param('frame_id', 'base_link', 'parent frame (the robot)'),
    Param('child_frame_id', 'camera_link', 'child frame (the camera, REP-103 axes)'),
    Param('x', 0.0, 'metres'), Param('y', 0.0, 'metres'), Param('z', 0.0, 'metres'),
    Param('roll', 0.0, 'radians (fixed axes, as tf2: Rz(yaw) Ry(pitch) Rx(roll))'),
    Param('pitch', 0.0, 'radians (positive: the camera looks down)'),
    Param('yaw', 0.0, 'radians'),
    Param('optical_frame_id', '', "optical frame below child_frame_id (e.g. "
          "'camera_optical_frame', the images' frame_id); empty: none"),
]


class StaticTransform(Node):
    def __init__(self):
        super().__init__('static_transform')
        p = declare_params(self, PARAMS)
        if not p.frame_id or not p.child_frame_id or p.frame_id == p.child_frame_id:
            raise ParameterError('frame_id and child_frame_id must be two different names')
        stamp = self.get_clock().now().to_msg()
        mount = make_transform(rpy_to_rotation(p.roll, p.pitch, p.yaw), [p.x, p.y, p.z])
        transforms = [transform_msg(p.frame_id, p.child_frame_id, mount, stamp)]
        if p.optical_frame_id:
            transforms.append(transform_msg(p.child_frame_id, p.optical_frame_id,
                                            make_transform(OPTICAL_IN_CAMERA), stamp))
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub = self.create_publisher(TFMessage, '/tf_static', qos)
        self.pub.publish(TFMessage(transforms=transforms))
        chain = ' -> '.join([p.frame_id, p.child_frame_id] + (
            [p.optical_frame_id] if p.optical_frame_id else []))
        self.get_logger().info(f'static transforms {chain}: xyz ({p.x}, {p.y}, {p.z}) '
                               f'rpy ({p.roll}, {p.pitch}, {p.yaw})')


def main(args=None):
    run_main(StaticTransform, args)


if __name__ == '__main__':
    main()
