#!/usr/bin/env python3
"""Example robot node: slow down near people, and say who faces or points at the robot.

Copy it and adapt. It uses only the humans node's outputs (robot.launch.py starts it):

- /humans/zone_events (hmr_ros/ZoneEvent): who is inside which safety zone. The robot's
  velocity commands (geometry_msgs/Twist on `cmd_vel_in`, from your planner or teleop) are
  republished on `cmd_vel`, scaled to `warning_scale` while someone is in the 'warning' zone
  and to `protective_scale` (0: stop) while someone is in the 'protective' zone; the scale
  itself goes out on ~/speed_scale (std_msgs/Float32) with every /humans/nearest_person.
- /tf and /tf_static (REP-155 frames body_<id> and <joint>_<id>) and /humans/bodies/tracked:
  a person faces the robot when the body frame's x axis points at the robot's origin, and
  points at it when a straight, raised arm's shoulder->wrist ray passes near it.

Run (in a second terminal, same ROS_DOMAIN_ID; the default Fast DDS settings are fine):

    .venv/bin/python examples/safety_and_attention.py --ros-args -p reference_frame:=base_link
"""
import sys

from geometry_msgs.msg import Twist
from hri_msgs.msg import IdsList
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float32
from tf2_msgs.msg import TFMessage

from hmr_models.awareness import TransformTree
from hmr_models.awareness.attention import facing_angle, pointing_miss
from hmr_ros.msg import NearestPerson, ZoneEvent
from hmr_ros.node_main import run_node
from hmr_ros.tf_conversion import transform_from_msg


class SafetyAndAttention(Node):
    def __init__(self):
        super().__init__('safety_and_attention')
        self.reference = self.declare_parameter('reference_frame', 'base_link').value
        self.scales = {'warning': self.declare_parameter('warning_scale', 0.5).value,
                       'protective': self.declare_parameter('protective_scale', 0.0).value}
        self.max_facing = self.declare_parameter('facing_angle', 0.35).value   # radians
        self.max_miss = self.declare_parameter('pointing_miss', 0.5).value     # metres
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        static = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.tree = TransformTree()       # latest transforms (no interpolation: an example)
        self.inside = {}                  # zone -> ids of the people in it
        self.attention = {}               # id -> (facing, pointing) last reported
        self.scale = 1.0
        self.create_subscription(TFMessage, '/tf', self.on_tf, reliable)
        self.create_subscription(TFMessage, '/tf_static', self.on_tf, static)
        self.create_subscription(ZoneEvent, '/humans/zone_events', self.on_zone, reliable)
        self.create_subscription(NearestPerson, '/humans/nearest_person', self.on_nearest,
                                 reliable)
        self.create_subscription(IdsList, '/humans/bodies/tracked', self.on_tracked, reliable)
        self.create_subscription(Twist, 'cmd_vel_in', self.on_cmd, reliable)
        self.cmd_pub = self.create_publisher(Twist, 'cmd_vel', reliable)
        self.scale_pub = self.create_publisher(Float32, '~/speed_scale', reliable)

    # -- safety: scale the speed while people are in the zones ------------------------------
    def on_zone(self, event):
        people = self.inside.setdefault(event.zone, set())
        if event.event == ZoneEvent.ENTERED:
            people.add(event.body_id)
        else:
            people.discard(event.body_id)
        scale = min([self.scales.get(zone, 1.0) for zone, ids in self.inside.items() if ids],
                    default=1.0)
        if scale != self.scale:
            why = ('lost' if event.lost else f'{event.distance:.2f} m') + \
                  (', predicted' if event.predicted else '')
            verb = 'entered' if event.event == ZoneEvent.ENTERED else 'left'
            action = 'stopping' if scale == 0 else f'speed x{scale:g}'
            self.get_logger().info(f'{action}: {event.body_id} {verb} the {event.zone} zone '
                                   f'({why})')
            self.scale = scale

    def on_nearest(self, msg):
        self.scale_pub.publish(Float32(data=float(self.scale)))

    def on_cmd(self, cmd):
        out = Twist()
        out.linear.x, out.linear.y = cmd.linear.x * self.scale, cmd.linear.y * self.scale
        out.angular.z = cmd.angular.z * (1.0 if self.scale > 0 else 0.0)
        self.cmd_pub.publish(out)

    # -- attention: facing and pointing, from the body and joint frames ----------------------
    def on_tf(self, msg):
        for t in msg.transforms:
            self.tree.set(t.header.frame_id, t.child_frame_id, transform_from_msg(t.transform))

    def on_tracked(self, msg):
        for body_id in list(self.attention):
            if body_id not in msg.ids:
                del self.attention[body_id]
        for body_id in msg.ids:
            body = self.tree.lookup(self.reference, f'body_{body_id}')
            if body is None:
                continue
            facing = facing_angle(body) < self.max_facing
            pointing = False
            for side in ('left', 'right'):
                arm = [self.tree.lookup(self.reference, f'{side}_{joint}_{body_id}')
                       for joint in ('shoulder', 'elbow', 'wrist')]
                if all(t is not None for t in arm):
                    miss = pointing_miss(*(t[:3, 3] for t in arm))
                    pointing |= miss is not None and miss < self.max_miss
            if self.attention.get(body_id) != (facing, pointing):
                self.attention[body_id] = (facing, pointing)
                what = [w for w, on in (('facing', facing), ('pointing at', pointing)) if on]
                self.get_logger().info(f"{body_id} is {' and '.join(what)} the robot" if what
                                       else f'{body_id} is not facing the robot')


if __name__ == '__main__':
    # hmr_ros's runner: spin until Ctrl-C or SIGTERM, then a clean shutdown (exit code 0).
    sys.exit(run_node(SafetyAndAttention))
