"""Ground-plane distances, nearest part, zones with hysteresis, velocity, REP-155 2D data."""
import numpy as np
import pytest

from hmr_models.awareness.proximity import GroundPlane, nearest_point, ZoneMonitor
from hmr_models.awareness.rep155 import (
    body_id, check_id_prefix, normalized_roi, SKELETON18_NAMES, skeleton18)
from hmr_models.awareness.tracking import track_state, TrackState, VelocityEstimator


def test_ground_plane_distance_and_bearing_in_robot_and_optical_frames():
    robot = GroundPlane.robot()
    pts = np.array([[3.0, 0.0, 1.7], [0.0, 2.0, 0.0], [-1.0, -1.0, 5.0]])
    assert np.allclose(robot.distances(pts), [3.0, 2.0, np.sqrt(2)])
    assert np.allclose(robot.bearings(pts), [0.0, np.pi / 2, -3 * np.pi / 4])
    assert np.allclose(robot.height(pts), [1.7, 0.0, 5.0])
    optical = GroundPlane.optical()          # x right, y down, z forward
    assert np.allclose(optical.distances([[0.0, 1.5, 4.0]]), [4.0])
    assert np.allclose(optical.bearings([[-1.0, 0.3, 1.0]]), [np.pi / 4])   # to the left


def test_nearest_point_reports_the_part():
    pts = np.array([[5.0, 0, 0], [1.2, 0.5, 1.0], [2.0, 0, 0]])
    near = nearest_point(pts, np.array([0, 20, 7]), GroundPlane.robot())
    assert near.index == 1 and near.part == 20
    assert np.isclose(near.distance, 1.3) and np.isclose(near.bearing, np.arctan2(0.5, 1.2))


def test_zone_events_are_ordered_and_hysteresis_stops_chatter():
    zones = ZoneMonitor(['protective', 'warning'], [1.0, 2.0], hysteresis=0.2)
    events = []
    for d in [3.0, 2.5, 1.9, 2.05, 1.95, 2.1, 1.5, 0.9, 1.05, 0.95, 1.3, 2.3, 0.5]:
        events += [(e.zone, e.entered, d) for e in zones.update('7', d)]
    assert events == [('warning', True, 1.9), ('protective', True, 0.9),
                      ('protective', False, 1.3), ('warning', False, 2.3),
                      ('warning', True, 0.5), ('protective', True, 0.5)]
    assert zones.inside('7') == {'warning', 'protective'}
    lost = zones.remove('7')
    assert [(e.zone, e.entered, e.lost) for e in lost] == [
        ('protective', False, True), ('warning', False, True)]
    assert zones.inside('7') == set() and zones.remove('7') == []
    with pytest.raises(ValueError):
        ZoneMonitor(['a'], [1.0, 2.0])
    with pytest.raises(ValueError):
        ZoneMonitor(['a', 'a'], [1.0, 2.0])


def test_velocity_is_the_slope_of_the_recent_positions():
    est = VelocityEstimator(window=0.5)
    assert np.allclose(est.velocity()[0], 0)
    for k in range(20):
        t = 0.1 * k
        est.add(t, [3.0 - 1.2 * t, 0.5 * t, 0.9], yaw=np.pi - 0.1 + 0.4 * t)
    est.add(1.9, [3.0 - 1.2 * 1.9, 0.5 * 1.9, 0.9], yaw=np.pi - 0.1 + 0.4 * 1.9)  # repeat
    velocity, yaw_rate = est.velocity()
    assert np.allclose(velocity, [-1.2, 0.5, 0.0]) and np.isclose(yaw_rate, 0.4)
    assert len(est.samples) == 6          # 0.5 s window at 10 Hz
    est.add(0.3, [100, 100, 100])         # older than the window: ignored
    assert np.allclose(est.velocity()[0], [-1.2, 0.5, 0.0])


def test_track_states():
    assert track_state(0.0, 1.0) == TrackState.TRACKED
    assert track_state(0.4, 1.0) == TrackState.OCCLUDED
    assert track_state(1.0, 1.0) == TrackState.LOST


def test_rep155_roi_skeleton_and_ids():
    assert body_id(12) == 'b12' and body_id(-1) is None and body_id(3, 'person') == 'person3'
    check_id_prefix('p_1')
    with pytest.raises(ValueError, match='start with a letter'):
        check_id_prefix('1')
    assert normalized_roi([64, 48, 320, 480], 0.8, 640, 480) == pytest.approx(
        (0.1, 0.1, 0.5, 1.0, 0.8))
    kps = np.arange(34, dtype=float).reshape(17, 2) * 10
    scores = np.linspace(0.1, 0.9, 17)
    kps[9] = np.nan                                          # left wrist missing
    skel = skeleton18(kps, scores, 640, 480)
    names = list(SKELETON18_NAMES)
    assert skel.shape == (18, 3)
    assert np.allclose(skel[names.index('nose')], [0, 10 / 480, 0.1])
    neck = 0.5 * (kps[5] + kps[6]) / [640, 480]
    assert np.allclose(skel[names.index('neck'), :2], neck)
    assert np.isclose(skel[names.index('neck'), 2], min(scores[5], scores[6]))
    assert np.allclose(skel[names.index('right_wrist')], [*(kps[10] / [640, 480]), scores[10]])
    assert np.allclose(skel[names.index('left_wrist')], 0)
    assert np.allclose(skel[names.index('left_eye'), :2], kps[1] / [640, 480])
    assert (skel >= 0).all() and (skel <= 1).all()
