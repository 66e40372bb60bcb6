"""Robot human-awareness: REP-155 body frames, per-joint frames, URDFs and proximity (no ROS).

Usage::

    from hmr_models.awareness import AwarenessConfig, HumanAwareness, PersonInput
    from hmr_models.body import load_body_model
    awareness = HumanAwareness(AwarenessConfig(reference_frame='base_link'), load_body_model())
    update = awareness.update(stamp, 'camera_optical_frame', persons, T_base_camera, (w, h))
    update.tracked, update.nearest, update.zone_events, update.bodies[0].transforms

The humans node (hmr_ros.humans_node) only converts these to ROS messages.
"""
from .frames import (
    OPTICAL_IN_CAMERA, SMPL_TO_BODY, TransformTree, camera_pose_to_optical, invert,
    make_transform, pose_to_transform, transform_points, transform_to_pose)
from .humans import (
    AwarenessConfig, AwarenessUpdate, BodyReport, HumanAwareness, NearestPart, PersonInput)
from .proximity import GroundPlane, ZoneEvent, ZoneMonitor
from .tracking import TrackState, VelocityEstimator

__all__ = ['AwarenessConfig', 'AwarenessUpdate', 'BodyReport', 'GroundPlane', 'HumanAwareness',
           'NearestPart', 'OPTICAL_IN_CAMERA', 'PersonInput', 'SMPL_TO_BODY', 'TrackState',
           'TransformTree', 'VelocityEstimator', 'ZoneEvent', 'ZoneMonitor',
           'camera_pose_to_optical', 'invert', 'make_transform', 'pose_to_transform',
           'transform_points', 'transform_to_pose']
