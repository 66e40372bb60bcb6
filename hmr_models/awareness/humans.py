"""Human awareness for robots: SMPL people in, REP-155 bodies, frames and proximity out (no ROS).

``HumanAwareness.update(stamp, sensor_frame, persons, T_reference_sensor, image_size)`` takes one
image's people (SMPL estimates in the camera optical frame, with track ids) and returns what a
robot consumes:

- per body (id = ``body_id_prefix`` + track id, e.g. ``b12``): the REP-155 body frame
  ``body_<id>`` (mid-hip, x the way the pelvis faces made horizontal, z up in the reference
  frame), a frame per SMPL joint
  (``<joint>_<id>``, oriented by forward kinematics of the pose), the URDF of the person (built
  once from SMPL's tree and the person's betas) and its joint angles, the normalised ROI and
  18-point 2D skeleton, position and velocity in the reference frame, the tracking state;
- the person nearest to the robot on the ground plane, measured to the nearest point of the
  body mesh, with the body part it belongs to; zone events with hysteresis.

People not seen in an image stay for ``prediction_timeout`` seconds as OCCLUDED, moved by their
last velocity (flagged as predicted), then are LOST and dropped.
"""
from dataclasses import dataclass, field
import logging

import numpy as np

from hmr_models.config import Config
from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS

from .frames import SMPL_TO_BODY, camera_pose_to_optical, invert, transform_points
from .kinematics import body_frame, joint_frames
from .proximity import GroundPlane, nearest_point, ZoneMonitor
from .rep155 import body_id as make_body_id, check_id_prefix, normalized_roi, skeleton18
from .tracking import track_state, TrackState, VelocityEstimator
from .urdf import body_link, build_urdf, joint_link, joint_positions, part_radii, \
    urdf_joint_names

log = logging.getLogger(__name__)

BODY_TF_PARENTS = ('sensor', 'reference')


@dataclass
class AwarenessConfig(Config):
    reference_frame: str = field(default='', metadata={
        'help': "Frame for positions, velocities and proximity (e.g. base_link: z up, ground z = "
                "0); empty: the camera frame of the images (a level camera is then assumed for "
                "'up')."})
    camera_pose: tuple = field(default=(), metadata={
        'help': "Pose of the camera in reference_frame, [x, y, z, qx, qy, qz, qw], camera axes x "
                "forward (optical axis), y left, z up (as the viewer's camera_pose); used when "
                "/tf_static does not connect reference_frame to the images' frame. Empty: not "
                "set."})
    body_id_prefix: str = field(default='b', metadata={
        'help': "Body ids are this prefix and the track id ('b12': frames body_b12, "
                "left_wrist_b12, topics /humans/bodies/b12/...); ROS topic name tokens cannot "
                "start with a digit."})
    body_tf_parent: str = field(default='sensor', metadata={
        'help': "Parent of the body_<id> TF frames: 'sensor' (the images' frame, REP-155) or "
                "'reference'."})
    prediction_timeout: float = field(default=1.0, metadata={
        'help': 'Seconds an unseen person stays (OCCLUDED, position predicted) before it is LOST.'})
    velocity_window: float = field(default=0.5, metadata={
        'help': 'Seconds of body positions the velocity is fitted over.'})
    zone_names: tuple = field(default=('warning', 'protective'), metadata={
        'help': "Safety zones around the reference frame's origin: names and radii (metres)."})
    zone_radii: tuple = field(default=(2.0, 1.0), metadata={'help': 'metres, one per zone name'})
    zone_hysteresis: float = field(default=0.2, metadata={
        'help': "Metres beyond a zone's radius a person must go before it counts as having left "
                "it."})
    proximity_use_mesh: bool = field(default=True, metadata={
        'help': 'Measure proximity to the body mesh (true) or to the 24 joints only (false).'})
    body_model_path: str = field(default='', metadata={
        'help': "SMPL-format .npz or folder (as hmr_node's); empty: the bundled open body. Must "
                "be the body model the estimates were made with."})

    def validate(self):
        if self.body_tf_parent not in BODY_TF_PARENTS:
            raise ValueError(f'body_tf_parent must be one of {BODY_TF_PARENTS}')
        if self.prediction_timeout <= 0 or self.velocity_window <= 0:
            raise ValueError('prediction_timeout and velocity_window must be > 0')
        camera_pose_to_optical(self.camera_pose)   # validates
        ZoneMonitor(self.zone_names, self.zone_radii, self.zone_hysteresis)  # validates
        check_id_prefix(self.body_id_prefix)


@dataclass
class PersonInput:
    """One person of one image (an hmr_ros/SMPLPerson's fields, camera optical frame)."""

    track_id: int
    bbox: np.ndarray                  # (4,) x0, y0, x1, y1 pixels
    keypoints: np.ndarray             # (17, 2) COCO-17 pixels, NaN where missing
    keypoint_scores: np.ndarray       # (17,)
    score: float = 1.0
    has_mesh: bool = False
    pose: np.ndarray = None           # (72,) axis-angle
    betas: np.ndarray = None          # (10,)
    joints: np.ndarray = None         # (24, 3) metres, camera frame
    body_model: str = ''
    translation: np.ndarray = None    # (3,) smplx transl (not used here: joints[0] places it)


@dataclass
class NearestPart:
    """Where a body is nearest to the reference frame's origin on the ground plane."""

    point: np.ndarray      # (3,) reference frame
    distance: float        # metres
    bearing: float         # radians, counter-clockwise from forward
    part: str              # SMPL joint name
    body_distance: float   # metres, to the body frame's origin


@dataclass
class BodyReport:
    """One body in one update."""

    body_id: str
    state: TrackState
    time_since_seen: float
    roi: tuple = None                  # normalised (xmin, ymin, xmax, ymax, c); None: unknown
    skeleton: np.ndarray = None        # (18, 3) normalised (x, y, c)
    body: np.ndarray = None            # 4x4 T_reference_body; None without 3D
    transforms: list = field(default_factory=list)   # TF edges (parent, child, 4x4)
    joint_names: list = None
    joint_positions: np.ndarray = None
    velocity: np.ndarray = None        # (3,) m/s, reference frame
    yaw_rate: float = 0.0              # rad/s about up
    nearest: NearestPart = None
    urdf: str = None                   # set on the update that built it

    @property
    def predicted(self):
        return self.state == TrackState.OCCLUDED


@dataclass
class AwarenessUpdate:
    stamp: float
    sensor_frame: str
    reference_frame: str
    tracked: list          # ids of TRACKED and OCCLUDED bodies, sorted
    bodies: list           # BodyReport for each of those, plus the LOST ones of this update
    lost: list             # ids dropped in this update
    nearest_body: BodyReport = None   # the body nearest to the origin (3D bodies only)
    zone_events: list = field(default_factory=list)
    pose_known: bool = True
    untracked: int = 0     # people without a track id (ignored)


class _Body:
    def __init__(self, body_id, window):
        self.id = body_id
        self.last_seen = None
        self.velocity = VelocityEstimator(window)
        self.betas = None          # frozen at the first mesh: the URDF's shape
        self.rest_pelvis = None    # (3,) SMPL coordinates, rest pelvis for those betas
        self.urdf = None
        self.frames = None         # (24, 4, 4) last joint frames, reference frame
        self.body = None           # 4x4 last body frame, reference frame
        self.points = None         # (P, 3) last mesh (or joints), reference frame
        self.roi = None
        self.skeleton = None
        self.distance = float('nan')   # last (or predicted) nearest distance


class HumanAwareness:
    """REP-155 bodies, frames and proximity from SMPL people (see the module docstring)."""

    def __init__(self, config, body_model):
        self.config = config
        self.body_model = body_model
        self.zones = ZoneMonitor(config.zone_names, config.zone_radii, config.zone_hysteresis)
        self.bodies = {}
        self.last_stamp = None
        weights = body_model.smpl.lbs_weights.detach().cpu().numpy()
        self.vertex_parts = weights.argmax(1)
        self.mismatched_models = set()

    def reference_for(self, sensor_frame):
        return self.config.reference_frame or sensor_frame

    def plane_for(self, sensor_frame):
        """Ground plane axes: REP-103 robot axes, or a level optical frame's."""
        if self.reference_for(sensor_frame) == sensor_frame:
            return GroundPlane.optical()
        return GroundPlane.robot()

    # -- shape --------------------------------------------------------------------------------
    def _freeze_shape(self, body, betas):
        import torch
        betas = np.asarray(betas, np.float64).reshape(1, -1)[:, :self.body_model.num_betas]
        with torch.no_grad():
            out = self.body_model(np.zeros((1, 72)), betas)
        vertices, joints = (a[0].astype(np.float64) for a in out.numpy())
        body.betas = betas[0]
        body.rest_pelvis = joints[0]
        rest = joints @ SMPL_TO_BODY.T
        radii = part_radii(vertices @ SMPL_TO_BODY.T, rest, self.vertex_parts)
        body.urdf = build_urdf(body.id, rest, radii)
        return body.urdf

    def _pose_bodies(self, bodies, persons):
        """Posed vertices and joints (camera frame) of people, with their frozen betas."""
        import torch
        pose = np.stack([p.pose for p in persons]).astype(np.float64)
        betas = np.stack([b.betas for b in bodies])
        transl = np.stack([np.asarray(p.joints, np.float64)[0] - b.rest_pelvis
                           for b, p in zip(bodies, persons)])
        with torch.no_grad():
            out = self.body_model(pose, betas, transl)
        vertices, joints = out.numpy()
        return vertices.astype(np.float64), joints.astype(np.float64)

    # -- one update -----------------------------------------------------------------------------
    def update(self, stamp, sensor_frame, persons, reference_from_sensor, image_size=None,
               advance_only=False):
        """Process one image's people (see the module docstring).

        Args:
            stamp: image time (seconds).
            sensor_frame: the images' frame id (camera optical frame).
            persons: PersonInput list.
            reference_from_sensor: 4x4 T_reference_sensor, or None when unknown (no 3D then;
                identity when reference_frame is the sensor frame).
            image_size: (width, height) for the normalised ROI and skeleton, or None.
            advance_only: no new image, only time passed (expire unseen people); `persons` is
                ignored and `stamp` may be an estimate.
        Returns:
            AwarenessUpdate, or None for an image older than the last one (ignored).
        """
        cfg = self.config
        if not advance_only:
            if self.last_stamp is not None and stamp < self.last_stamp - 1e-6:
                return None
            self.last_stamp = stamp
        reference = self.reference_for(sensor_frame)
        plane = self.plane_for(sensor_frame)
        pose_known = reference_from_sensor is not None
        out = AwarenessUpdate(stamp, sensor_frame, reference, [], [], [], pose_known=pose_known)

        seen = {}
        for p in ([] if advance_only else persons):
            bid = make_body_id(p.track_id, cfg.body_id_prefix)
            if bid is None:
                out.untracked += 1
            elif bid not in seen:
                seen[bid] = p
        new_urdf = {}
        for bid, p in seen.items():
            body = self.bodies.get(bid)
            if body is None:
                body = self.bodies[bid] = _Body(bid, cfg.velocity_window)
            body.last_seen = stamp
            if image_size is not None:
                body.roi = normalized_roi(p.bbox, p.score, *image_size)
                body.skeleton = skeleton18(p.keypoints, p.keypoint_scores, *image_size)
            if p.has_mesh and body.betas is None:
                new_urdf[bid] = self._freeze_shape(body, p.betas)
            if p.has_mesh and p.body_model and p.body_model != self.body_model.name:
                self.mismatched_models.add(p.body_model)

        meshed = [bid for bid, p in seen.items() if p.has_mesh and pose_known]
        if meshed:
            bodies = [self.bodies[b] for b in meshed]
            persons_3d = [seen[b] for b in meshed]
            vertices, joints = self._pose_bodies(bodies, persons_3d)
            for k, (body, p) in enumerate(zip(bodies, persons_3d)):
                frames = reference_from_sensor @ joint_frames(p.pose, joints[k])
                body.frames = frames
                body.body = body_frame(frames, plane.up)
                body.points = transform_points(
                    reference_from_sensor,
                    vertices[k] if cfg.proximity_use_mesh else joints[k])
                heading = float(plane.bearings(body.body[:3, 0]))
                body.velocity.add(stamp, body.body[:3, 3], heading)
        for bid in [b for b in seen if b not in meshed]:
            body = self.bodies[bid]
            body.frames = body.body = body.points = None   # no 3D for this image

        for bid in sorted(self.bodies):
            body = self.bodies[bid]
            since = 0.0 if bid in seen else max(0.0, stamp - body.last_seen)
            state = track_state(since, cfg.prediction_timeout)
            report = BodyReport(bid, state, since, roi=body.roi, skeleton=body.skeleton,
                                urdf=new_urdf.get(bid))
            if state == TrackState.LOST:
                del self.bodies[bid]
                out.lost.append(bid)
                out.bodies.append(report)
                out.zone_events += self.zones.remove(bid, body.distance)
                continue
            out.tracked.append(bid)
            out.bodies.append(report)
            if body.frames is None or not pose_known:
                continue
            self._fill_3d(report, body, since, reference_from_sensor, sensor_frame, plane)
            body.distance = report.nearest.distance
            out.zone_events += self.zones.update(bid, body.distance, report.predicted)
        with_3d = [r for r in out.bodies if r.nearest is not None]
        if with_3d:
            out.nearest_body = min(with_3d, key=lambda r: r.nearest.distance)
        return out

    def _fill_3d(self, report, body, since, reference_from_sensor, sensor_frame, plane):
        velocity, yaw_rate = body.velocity.velocity()
        shift = np.zeros(3) if report.state == TrackState.TRACKED else velocity * since
        frames = body.frames.copy()
        frames[:, :3, 3] += shift
        bframe = body.body.copy()
        bframe[:3, 3] += shift
        points = body.points + shift
        report.body = bframe
        report.velocity, report.yaw_rate = velocity, yaw_rate
        near = nearest_point(points, self.vertex_parts if self.config.proximity_use_mesh
                             else np.arange(len(SMPL24_NAMES)), plane)
        report.nearest = NearestPart(near.point, near.distance, near.bearing,
                                     SMPL24_NAMES[near.part],
                                     float(plane.distances(bframe[:3, 3])))
        bid = body.id
        if self.config.body_tf_parent == 'sensor':
            parent, t_parent_body = sensor_frame, invert(reference_from_sensor) @ bframe
        else:
            parent, t_parent_body = self.reference_for(sensor_frame), bframe
        edges = [(parent, body_link(bid), t_parent_body),
                 (body_link(bid), joint_link(SMPL24_NAMES[0], bid), invert(bframe) @ frames[0])]
        for j in range(1, len(SMPL24_NAMES)):
            p = SMPL24_PARENTS[j]
            edges.append((joint_link(SMPL24_NAMES[p], bid), joint_link(SMPL24_NAMES[j], bid),
                          invert(frames[p]) @ frames[j]))
        report.transforms = edges
        report.joint_names = urdf_joint_names(bid)
        report.joint_positions = joint_positions(frames, bframe)
