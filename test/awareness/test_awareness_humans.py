"""HumanAwareness end to end on synthetic people with exact geometry (no ROS)."""
import numpy as np
import pytest

from hmr_models.awareness import (
    AwarenessConfig, HumanAwareness, TrackState, TransformTree, camera_pose_to_optical)
from hmr_models.awareness.scenarios import (
    approach_sequence, default_camera, level_camera, synthetic_person, walking_pose)

CAMERA_POSE = level_camera(height=1.3, pitch_down=0.2, x=0.1)
SIZE = (640, 480)


def run(awareness, frames, sensor='camera_optical_frame', pose=CAMERA_POSE):
    t = camera_pose_to_optical(pose)
    return [awareness.update(stamp, sensor, persons, t, SIZE) for stamp, persons in frames]


def tree_of(update, pose=CAMERA_POSE, sensor='camera_optical_frame'):
    tree = TransformTree()
    tree.set('base_link', sensor, camera_pose_to_optical(pose))
    for body in update.bodies:
        for parent, child, t in body.transforms:
            tree.set(parent, child, t)
    return tree


def test_approach_frames_axes_feet_velocity_and_zone_events(open_body):
    awareness = HumanAwareness(AwarenessConfig(reference_frame='base_link'), open_body)
    seq = approach_sequence(open_body, CAMERA_POSE, start=4.0, stop=0.4, speed=1.2, rate=10.0)
    updates = run(awareness, [(t, [p]) for t, p in seq])
    distances = [u.nearest_body.nearest.distance for u in updates]
    assert all(u.tracked == ['b7'] and u.nearest_body.body_id == 'b7' for u in updates)
    # Distance decreases as the person walks in (the nearest part can swap between the feet).
    assert distances[0] > 3.0 and distances[-1] < 0.6
    assert np.all(np.diff(distances[::5]) < 0)
    last = updates[-1].bodies[0]
    tree = tree_of(updates[-1])
    body = tree.lookup('base_link', 'body_b7')
    assert tree.parent('body_b7') == 'camera_optical_frame'
    assert np.allclose(body[:3, 2], [0, 0, 1], atol=1e-6)          # z up in the robot frame
    assert np.allclose(body[:3, 0], [-1, 0, 0], atol=0.02)         # facing the robot
    assert np.allclose(body[:3, 3], last.body[:3, 3])
    feet = [tree.lookup('base_link', f'{j}_b7')[2, 3]
            for j in ('left_ankle', 'right_ankle', 'left_foot', 'right_foot')]
    assert all(0.0 < z < 0.25 for z in feet) and min(feet) < 0.1, feet   # on the ground
    assert 0.7 < body[2, 3] < 1.1                                 # mid-hip height
    assert np.allclose(last.velocity, [-1.2, 0, 0], atol=0.05)
    assert abs(last.yaw_rate) < 0.05
    assert last.nearest.part in ('left_foot', 'right_foot', 'left_ankle', 'right_ankle',
                                 'spine1', 'spine2', 'left_hand', 'right_hand', 'left_knee',
                                 'right_knee', 'left_wrist', 'right_wrist', 'pelvis')
    assert last.nearest.distance < last.nearest.body_distance     # mesh, not only the pelvis
    events = [(e.zone, e.entered) for u in updates for e in u.zone_events]
    assert events == [('warning', True), ('protective', True)]
    stamps = {e.zone: u.stamp for u in updates for e in u.zone_events}
    assert stamps['warning'] < stamps['protective']
    # The URDF was built once, on the first update, and matches the joint count.
    urdfs = [b.urdf for u in updates for b in u.bodies if b.urdf]
    assert len(urdfs) == 1 and urdfs[0].count('type="continuous"') == 72
    assert len(last.joint_positions) == 72 == len(last.joint_names)
    assert last.roi is not None and 0 <= last.roi[0] < last.roi[2] <= 1
    assert last.skeleton.shape == (18, 3)


def test_occluded_people_are_predicted_then_lost(open_body):
    config = AwarenessConfig(reference_frame='base_link', prediction_timeout=0.5,
                             zone_radii=(3.0, 1.0))
    awareness = HumanAwareness(config, open_body)
    seq = approach_sequence(open_body, CAMERA_POSE, start=3.0, stop=2.0, speed=1.0, rate=10.0)
    updates = run(awareness, [(t, [p]) for t, p in seq])
    seen = updates[-1].bodies[0]
    assert seen.state == TrackState.TRACKED and updates[-1].nearest_body.nearest.distance < 3.0
    t_last = seq[-1][0]
    hidden = run(awareness, [(t_last + 0.1 * k, []) for k in range(1, 7)])
    states = [u.bodies[0].state if u.bodies else None for u in hidden]
    lost_at = next(i for i, u in enumerate(hidden) if u.lost)
    assert lost_at in (4, 5)                       # 0.5 s after the last sighting
    assert states[:lost_at] == [TrackState.OCCLUDED] * lost_at
    assert states[lost_at] == TrackState.LOST and hidden[-1].bodies == []
    occluded = hidden[2].bodies[0]
    assert occluded.predicted and np.isclose(occluded.time_since_seen, 0.3)
    # Predicted 0.3 s further along its velocity (-1 m/s in x).
    assert np.allclose(occluded.body[:3, 3], seen.body[:3, 3] + [-0.3, 0, 0], atol=0.03)
    assert hidden[2].nearest_body.predicted and hidden[2].tracked == ['b7']
    lost = hidden[lost_at]
    assert lost.lost == ['b7'] and lost.tracked == [] and lost.nearest_body is None
    assert [(e.zone, e.entered, e.lost) for e in lost.zone_events] == [('warning', False, True)]
    assert 1.0 < lost.zone_events[0].distance < 3.0        # the last predicted distance
    assert lost.bodies[0].transforms == []                        # no frames once lost


def test_two_people_untracked_and_no_camera_pose(open_body):
    awareness = HumanAwareness(AwarenessConfig(reference_frame='base_link'), open_body)
    t = camera_pose_to_optical(CAMERA_POSE)
    cam = default_camera()
    near, _ = synthetic_person(open_body, 3, (1.5, -0.5), np.pi / 2, t, cam, walking_pose(0))
    far, _ = synthetic_person(open_body, 4, (4.0, 1.0), np.pi, t, cam, walking_pose(1.0))
    stray, _ = synthetic_person(open_body, -1, (3.0, 0.0), np.pi, t, cam)
    up = awareness.update(0.0, 'cam', [far, near, stray], t, SIZE)
    assert up.tracked == ['b3', 'b4'] and up.untracked == 1
    assert up.nearest_body.body_id == 'b3'
    assert np.isclose(up.nearest_body.nearest.bearing, np.arctan2(-0.5, 1.5), atol=0.15)
    tree = tree_of(up, sensor='cam')
    assert np.allclose(tree.lookup('base_link', 'body_b3')[:3, 0], [0, 1, 0], atol=0.02)
    # Without a camera pose: 2D only, no frames, no proximity.
    up = awareness.update(0.1, 'cam', [far, near], None, SIZE)
    assert up.tracked == ['b3', 'b4'] and not up.pose_known
    assert all(b.transforms == [] and b.roi is not None for b in up.bodies)
    assert up.nearest_body is None
    assert awareness.update(0.05, 'cam', [far], t, SIZE) is None        # older image: ignored


def test_camera_frame_as_reference_and_body_tf_parent(open_body):
    config = AwarenessConfig(body_tf_parent='reference')
    awareness = HumanAwareness(config, open_body)
    t = camera_pose_to_optical(level_camera(height=1.0))
    person, _ = synthetic_person(open_body, 1, (3.0, 0.0), np.pi, t, default_camera())
    up = awareness.update(0.0, 'cam', [person], np.eye(4), SIZE)
    assert up.reference_frame == 'cam'
    body = up.bodies[0]
    assert body.transforms[0][0] == 'cam'
    assert np.allclose(body.body[:3, 2], [0, -1, 0])           # level camera: up is -y
    assert np.isclose(body.nearest.body_distance, 3.0, atol=0.05)
    with pytest.raises(ValueError):
        AwarenessConfig(body_tf_parent='map')
