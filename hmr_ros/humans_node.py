"""humans: hmr_node's SMPL people -> REP-155 bodies, TF per person, proximity for safety.

Subscribes `smoothed_topic` (DiffMesh stream, when `use_smoothed`) and `persons_topic` (used
while no smoothed message has arrived for `smoothed_timeout` seconds), the camera_info (image
size, for normalised 2D outputs) and /tf_static (the camera's pose in `reference_frame`).
Everything computed lives in hmr_models.awareness; this node converts and publishes:

- /tf: ``body_<id>`` (REP-155: mid-hip, x forward, z up) parented to the images' frame, and a
  frame per SMPL joint ``<joint>_<id>`` down the kinematic tree, stamped with the image stamp;
- /humans/bodies/tracked (hri_msgs/IdsList) and per body ``/humans/bodies/<id>/``: ``roi``,
  ``skeleton2d``, ``joint_states``, ``urdf`` (latched; also parameter
  ``human_description_<id>``), ``position``, ``velocity``, ``tracking_state``;
- ~/nearest_person (hmr_ros/NearestPerson) and ~/zone_events (hmr_ros/ZoneEvent);
- /tf_static: reference_frame -> camera when the pose comes from the `camera_pose` parameter.
"""
from dataclasses import replace
import time

from geometry_msgs.msg import PointStamped, TwistStamped
from hri_msgs.msg import IdsList, NormalizedPointOfInterest2D, NormalizedRegionOfInterest2D, \
    Skeleton2D
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from hmr_models.awareness import (
    AwarenessConfig, HumanAwareness, TransformTree, camera_pose_to_optical)
from hmr_models.config import field_docs
from hmr_models.paths import MissingModelFile
from hmr_ros.awareness_msgs import person_input
from hmr_ros.msg import BodyTrackingState, NearestPerson, SMPLPersonArray, ZoneEvent
from hmr_ros.node_main import LoggingNode, run_main, SetupError
from hmr_ros.params import (
    Param, ParameterError, declare_config, declare_params, non_negative, positive)
from hmr_ros.tf_conversion import add_transforms, to_seconds, to_time, transform_msg

NODE_PARAMS = [
    Param('persons_topic', '/hmr_node/persons', 'per-frame people (hmr_ros/SMPLPersonArray)'),
    Param('smoothed_topic', '/hmr_node/persons_smoothed',
          'temporally smoothed people (DiffMesh), preferred when use_smoothed'),
    Param('use_smoothed', True, 'use smoothed_topic; persons_topic only while it is silent'),
    Param('smoothed_timeout', 1.0, 'seconds without a smoothed message before persons_topic '
          'is used', positive),
    Param('camera_info_topic', '/camera/camera_info',
          'camera_info of the images (their size normalises roi and skeleton2d)'),
    Param('humans_namespace', '/humans', 'REP-155 namespace of the body topics'),
    Param('publish_joint_frames', True, 'publish a TF frame per SMPL joint (<joint>_<id>); '
          'false when robot_state_publisher drives the URDFs from joint_states'),
    Param('threads', 1, 'torch CPU threads for the body model (small batches: 1 is fastest '
          'on a busy machine)', non_negative),
    Param('log_period', 10.0, 'seconds between summary lines in the log', positive),
]
STALE_AFTER = 1.0     # seconds beyond prediction_timeout without any image: people are dropped
RETIRE_AFTER = 3.0    # seconds a lost body's publishers live on (its LOST state must arrive)


class BodyPublishers:
    """The REP-155 topics of one body; created when it appears, destroyed when it is lost."""

    def __init__(self, node, namespace, body_id):
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        base = f'{namespace}/bodies/{body_id}'
        self.node = node
        self.roi = node.create_publisher(NormalizedRegionOfInterest2D, f'{base}/roi', reliable)
        self.skeleton = node.create_publisher(Skeleton2D, f'{base}/skeleton2d', reliable)
        self.joints = node.create_publisher(JointState, f'{base}/joint_states', reliable)
        self.position = node.create_publisher(PointStamped, f'{base}/position', reliable)
        self.velocity = node.create_publisher(TwistStamped, f'{base}/velocity', reliable)
        self.state = node.create_publisher(BodyTrackingState, f'{base}/tracking_state', reliable)
        self.urdf = node.create_publisher(String, f'{base}/urdf', latched)

    def destroy(self):
        for pub in (self.roi, self.skeleton, self.joints, self.position, self.velocity,
                    self.state, self.urdf):
            self.node.destroy_publisher(pub)


class HumansNode(LoggingNode):
    def __init__(self, **kwargs):
        super().__init__('humans', **kwargs)   # kwargs: rclpy Node options (context, ...)
        self.p = declare_params(self, NODE_PARAMS)
        self.config = declare_config(self, AwarenessConfig)   # all but camera_pose
        # camera_pose: a double array that may be unset ([] has no ROS type), as the viewer's.
        self.declare_parameter('camera_pose', Parameter.Type.DOUBLE_ARRAY, ParameterDescriptor(
            description=field_docs(AwarenessConfig)['camera_pose']))
        try:
            pose = tuple(self.get_parameter('camera_pose').value)
        except ParameterUninitializedException:   # not set, or set to []
            pose = ()
        try:
            self.config = replace(self.config, camera_pose=pose)
        except ValueError as exc:
            raise ParameterError(f"parameter 'camera_pose': {exc}") from None
        import torch
        if self.p.threads > 0:
            torch.set_num_threads(self.p.threads)
        from hmr_models.body import BodyModelFormatError, load_body_model
        try:
            body = load_body_model(self.config.body_model_path or None)
        except (MissingModelFile, BodyModelFormatError, ValueError) as exc:
            raise SetupError(str(exc)) from None
        self.awareness = HumanAwareness(self.config, body)
        self.param_pose = camera_pose_to_optical(self.config.camera_pose)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        static = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
        ns = self.p.humans_namespace.rstrip('/')
        self.ns = ns
        self.tf_pub = self.create_publisher(TFMessage, '/tf', QoSProfile(
            depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.tf_static_pub = self.create_publisher(TFMessage, '/tf_static', QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.tracked_pub = self.create_publisher(IdsList, f'{ns}/bodies/tracked', reliable)
        self.nearest_pub = self.create_publisher(NearestPerson, '~/nearest_person', reliable)
        self.zone_pub = self.create_publisher(ZoneEvent, '~/zone_events',
                                              QoSProfile(depth=100,
                                                         reliability=ReliabilityPolicy.RELIABLE))
        self.create_subscription(TFMessage, '/tf_static', self._on_tf_static, static)
        self.create_subscription(CameraInfo, self.p.camera_info_topic, self._on_camera_info,
                                 qos_profile_sensor_data)
        people_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(SMPLPersonArray, self.p.persons_topic, self._on_persons,
                                 people_qos)
        if self.p.use_smoothed:
            self.create_subscription(SMPLPersonArray, self.p.smoothed_topic, self._on_smoothed,
                                     people_qos)
        self.static_tree = TransformTree()
        self.published_static = None
        self.image_size = None
        self.bodies = {}               # body id -> BodyPublishers
        self.retired = []              # (wall time, BodyPublishers) of lost bodies
        self.last_smoothed = None      # wall time of the last smoothed message
        self.last_frame = None         # (wall time, stamp, sensor frame) of the last image
        self.pose_source = None
        self.counts = dict(frames=0, skipped_stale=0, no_pose=0)
        self._last_log = time.monotonic()
        self._warned = set()
        self.create_timer(0.1, self._on_timer)
        reference = self.config.reference_frame or '<camera frame>'
        source = self.p.smoothed_topic if self.p.use_smoothed else self.p.persons_topic
        self.get_logger().info(
            f'reading {source}; reference frame {reference}; publishing /tf, '
            f'{ns}/bodies/..., {self.nearest_pub.topic_name}, {self.zone_pub.topic_name}')

    # -- inputs ---------------------------------------------------------------------------
    def _on_tf_static(self, msg):
        for problem in add_transforms(self.static_tree, msg):
            self._warn_once(problem, f'/tf_static: {problem}')

    def _on_camera_info(self, msg):
        if msg.width > 0 and msg.height > 0:
            self.image_size = (int(msg.width), int(msg.height))

    def _on_smoothed(self, msg):
        self.last_smoothed = time.monotonic()
        self._process(msg)

    def _on_persons(self, msg):
        if self.p.use_smoothed and self.last_smoothed is not None and \
                time.monotonic() - self.last_smoothed < self.p.smoothed_timeout:
            return  # the smoothed stream is flowing: it carries the same images
        self._process(msg)

    def _warn_once(self, key, text):
        if key not in self._warned:
            self._warned.add(key)
            self.get_logger().warning(text)

    def _reference_from_sensor(self, sensor):
        reference = self.awareness.reference_for(sensor)
        if reference == sensor:
            self._set_pose_source('not needed (reference_frame is the camera frame)')
            return np.eye(4)
        if self.published_static is None:
            t = self.static_tree.lookup(reference, sensor)
            if t is not None:
                self._set_pose_source('from /tf_static')
                return t
        if self.param_pose is not None:
            if self.published_static != sensor:
                # Connect the TF tree: reference -> camera, as a static transform.
                self.tf_static_pub.publish(TFMessage(transforms=[transform_msg(
                    reference, sensor, self.param_pose, self.get_clock().now().to_msg())]))
                self.published_static = sensor
            self._set_pose_source('from parameter camera_pose')
            return self.param_pose
        self._warn_once('no_pose', f'no transform {reference} -> {sensor} on /tf_static and '
                        'camera_pose is not set: 2D outputs only until one arrives')
        return None

    def _set_pose_source(self, source):
        if source != self.pose_source:
            self.pose_source = source
            self.get_logger().info(f'camera pose in the reference frame: {source}')

    # -- processing -----------------------------------------------------------------------
    def _process(self, msg):
        sensor = msg.header.frame_id
        if not sensor:
            self._warn_once('no_frame', 'people without header.frame_id: ignored')
            return
        t_ref = self._reference_from_sensor(sensor)
        if t_ref is None:
            self.counts['no_pose'] += 1
        persons = [person_input(p) for p in msg.persons]
        update = self.awareness.update(to_seconds(msg.header.stamp), sensor, persons, t_ref,
                                       self.image_size)
        if update is None:
            self.counts['skipped_stale'] += 1
            return
        if self.image_size is None and msg.persons:
            self._warn_once('no_info', f'no camera_info on {self.p.camera_info_topic} yet: '
                            'roi and skeleton2d are not published')
        for name in self.awareness.mismatched_models:
            self._warn_once(f'model_{name}', f"people estimated with body model '{name}' but "
                            f"this node loaded '{self.awareness.body_model.name}': set "
                            'body_model_path like hmr_node\'s')
        self.counts['frames'] += 1
        self.last_frame = (time.monotonic(), update.stamp, sensor, t_ref)
        self._publish(update, msg.header.stamp)

    def _on_timer(self):
        now = time.monotonic()
        while self.retired and self.retired[0][0] <= now:
            self.retired.pop(0)[1].destroy()
        if now - self._last_log >= self.p.log_period:
            self._last_log = now
            c = self.counts
            self.get_logger().info(
                f"{c['frames']} images, {len(self.awareness.bodies)} bodies now, camera pose "
                f"{self.pose_source or 'not known yet'}; {c['skipped_stale']} out-of-order, "
                f"{c['no_pose']} without camera pose")
        if self.last_frame is None or not self.awareness.bodies:
            return
        wall, stamp, sensor, t_ref = self.last_frame
        if now - wall < self.config.prediction_timeout + STALE_AFTER:
            return
        # No images at all for a while (camera or hmr_node stopped): drop everyone, stamped by
        # the clock since the last image. (Occlusions, with images flowing, go the normal way.)
        estimate = stamp + (now - wall)
        update = self.awareness.update(estimate, sensor, [], t_ref, advance_only=True)
        self._publish(update, to_time(estimate))

    # -- outputs --------------------------------------------------------------------------
    def _publish(self, update, stamp):
        reference = update.reference_frame
        transforms = []
        for report in update.bodies:
            pubs = self.bodies.get(report.body_id)
            if pubs is None:
                pubs = self.bodies[report.body_id] = BodyPublishers(self, self.ns,
                                                                    report.body_id)
            if report.urdf:
                pubs.urdf.publish(String(data=report.urdf))
                self._set_description(report.body_id, report.urdf)
            state = BodyTrackingState(body_id=report.body_id, state=int(report.state),
                                      time_since_seen=float(report.time_since_seen))
            state.header.stamp, state.header.frame_id = stamp, reference
            pubs.state.publish(state)
            if report.body_id in update.lost:
                # Destroyed a little later: a reliable message can be lost when its publisher
                # goes away right after sending it.
                self.retired.append((time.monotonic() + RETIRE_AFTER, pubs))
                del self.bodies[report.body_id]
                self._set_description(report.body_id, None)
                continue
            if report.roi is not None and report.time_since_seen == 0.0:
                self._publish_2d(pubs, report, stamp, update.sensor_frame)
            if report.body is None:
                continue
            if self.p.publish_joint_frames:
                transforms += [transform_msg(p, c, m, stamp) for p, c, m in report.transforms]
            else:
                transforms.append(transform_msg(*report.transforms[0], stamp))
            self._publish_motion(pubs, report, stamp, reference)
        if transforms:
            self.tf_pub.publish(TFMessage(transforms=transforms))
        ids = IdsList(ids=list(update.tracked))
        ids.header.stamp, ids.header.frame_id = stamp, update.sensor_frame
        self.tracked_pub.publish(ids)
        self._publish_proximity(update, stamp, reference)

    def _publish_2d(self, pubs, report, stamp, sensor):
        roi = NormalizedRegionOfInterest2D()
        roi.header.stamp, roi.header.frame_id = stamp, sensor
        roi.xmin, roi.ymin, roi.xmax, roi.ymax, roi.c = (float(v) for v in report.roi)
        pubs.roi.publish(roi)
        skeleton = Skeleton2D()
        skeleton.header.stamp, skeleton.header.frame_id = stamp, sensor
        skeleton.skeleton = [NormalizedPointOfInterest2D(x=float(x), y=float(y), c=float(c))
                             for x, y, c in report.skeleton]
        pubs.skeleton.publish(skeleton)

    def _publish_motion(self, pubs, report, stamp, reference):
        joints = JointState(name=report.joint_names,
                            position=[float(v) for v in report.joint_positions])
        joints.header.stamp = stamp
        pubs.joints.publish(joints)
        point = PointStamped()
        point.header.stamp, point.header.frame_id = stamp, reference
        point.point.x, point.point.y, point.point.z = (float(v) for v in report.body[:3, 3])
        pubs.position.publish(point)
        twist = TwistStamped()
        twist.header.stamp, twist.header.frame_id = stamp, reference
        lin, ang = twist.twist.linear, twist.twist.angular
        lin.x, lin.y, lin.z = (float(v) for v in report.velocity)
        up = report.body[:3, 2]   # the body frame's z is the reference frame's up
        ang.x, ang.y, ang.z = (float(v) * report.yaw_rate for v in up)
        pubs.velocity.publish(twist)

    def _publish_proximity(self, update, stamp, reference):
        msg = NearestPerson()
        msg.header.stamp, msg.header.frame_id = stamp, reference
        near = update.nearest_body
        if near is not None:
            n = near.nearest
            msg.found = True
            msg.body_id = near.body_id
            msg.distance, msg.bearing = float(n.distance), float(n.bearing)
            msg.nearest_part = n.part
            msg.nearest_point.x, msg.nearest_point.y, msg.nearest_point.z = \
                (float(v) for v in n.point)
            msg.body_distance = float(n.body_distance)
            msg.predicted = bool(near.predicted)
            msg.time_since_seen = float(near.time_since_seen)
        self.nearest_pub.publish(msg)
        for e in update.zone_events:
            event = ZoneEvent(body_id=e.body_id, zone=e.zone, radius=float(e.radius),
                              event=ZoneEvent.ENTERED if e.entered else ZoneEvent.EXITED,
                              distance=float(e.distance), predicted=bool(e.predicted),
                              lost=bool(e.lost))
            event.header.stamp, event.header.frame_id = stamp, reference
            self.zone_pub.publish(event)

    def _set_description(self, body_id, urdf):
        """The REP-155 parameter human_description_<id> (set while the body is tracked)."""
        name = f'human_description_{body_id}'
        if urdf is None:
            if self.has_parameter(name):
                self.undeclare_parameter(name)
        elif not self.has_parameter(name):
            self.declare_parameter(name, urdf)

    def close(self):
        for pubs in list(self.bodies.values()) + [pubs for _, pubs in self.retired]:
            pubs.destroy()
        self.bodies.clear()
        self.retired.clear()


def main(args=None):
    run_main(HumansNode, args)


if __name__ == '__main__':
    main()
