"""Mesh markers: the CDR bytes written from numpy decode into the same MarkerArray as the
message-object path, and go through rclpy as a serialized publish."""
from builtin_interfaces.msg import Time
import numpy as np
import pytest
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message, serialize_message
from visualization_msgs.msg import Marker, MarkerArray

from hmr_models.body import load_body_model
from fixtures.bodies import make_test_body_file
from hmr_ros.markers import MarkerStyle, body_markers, body_markers_cdr

from ros.conftest import wait_for


@pytest.fixture(scope='module')
def posed(tmp_path_factory):
    body = load_body_model(make_test_body_file(tmp_path_factory.mktemp('b') / 'b.npz'))
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.3, (3, 72)).astype(np.float32)
    transl = np.array([[0.0, 0.0, 3.0], [1.0, 0.2, 4.0], [-1.0, 0.0, 5.0]], np.float32)
    v, j = body(pose, transl=transl).numpy()
    return v, j, body.faces


@pytest.mark.parametrize('track_ids,stamp,clear,with_joints', [
    ([4, 9, -1], 12.25, True, True),
    ([0, 1, 2], (7, 999_999_999), False, True),
    ([5, 6, 7], 0.0, True, False),
    ([3], Time(sec=42, nanosec=17), True, True),   # a header's stamp, as the node passes it
])
def test_bytes_decode_to_the_slow_message(posed, track_ids, stamp, clear, with_joints):
    v, j, faces = posed
    v, j = v[:len(track_ids)], j[:len(track_ids)]
    joints = j if with_joints else None
    style = MarkerStyle(mesh_alpha=0.6, lifetime=0.25)
    fast = body_markers_cdr(stamp, 'camera_optical', v, faces, track_ids, joints, style, clear)
    slow = body_markers(stamp, 'camera_optical', v, faces, track_ids, joints, style, clear)
    decoded = deserialize_message(fast, MarkerArray)
    assert decoded == slow
    # And the bytes are a valid message of the same length as rclpy's own serialization.
    assert len(fast) == len(serialize_message(slow))


def test_marker_content(posed):
    v, j, faces = posed
    msg = deserialize_message(body_markers_cdr(1.5, 'cam', v, faces, [4, 9, -1], j), MarkerArray)
    assert msg.markers[0].action == Marker.DELETEALL
    meshes = [m for m in msg.markers if m.ns == 'mesh']
    assert [m.id for m in meshes] == [4, 9, 1_000_002]
    assert all(m.type == Marker.TRIANGLE_LIST for m in meshes)
    assert len(meshes[0].points) == 3 * len(faces)
    first = meshes[0].points[0]
    np.testing.assert_allclose([first.x, first.y, first.z], v[0, faces[0, 0]], atol=1e-6)
    skeletons = [m for m in msg.markers if m.ns == 'skeleton']
    assert len(skeletons) == 3 and len(skeletons[0].points) == 2 * 23
    labels = [m for m in msg.markers if m.ns == 'label']
    assert [m.text for m in labels] == ['id 4', 'id 9', 'untracked']
    assert meshes[0].color != meshes[1].color                    # coloured by track id
    assert meshes[0].header.stamp.sec == 1 and meshes[0].header.stamp.nanosec == 500_000_000


def test_empty_frame_still_clears(posed):
    _, _, faces = posed
    msg = deserialize_message(
        body_markers_cdr(0.0, 'cam', np.zeros((0, 10, 3)), faces, [], None), MarkerArray)
    assert [m.action for m in msg.markers] == [Marker.DELETEALL]


def test_bad_input(posed):
    v, j, faces = posed
    with pytest.raises(ValueError, match='track_ids'):
        body_markers_cdr(0.0, 'cam', v, faces, [1, 2], j)
    with pytest.raises(ValueError, match='joints'):
        body_markers_cdr(0.0, 'cam', v, faces, [1, 2, 3], j[:, :10])


def test_bytes_publish_through_rclpy(ros_node, posed):
    v, j, faces = posed
    received = []
    topic = f'/markers_test_{id(received)}'
    ros_node.create_subscription(MarkerArray, topic, received.append, QoSProfile(depth=5))
    pub = ros_node.create_publisher(MarkerArray, topic, QoSProfile(depth=5))
    assert wait_for(lambda: pub.get_subscription_count() > 0, 10.0)
    data = body_markers_cdr(3.0, 'cam', v, faces, [1, 2, 3], j)
    pub.publish(data)
    assert wait_for(lambda: received, 10.0)
    assert received[0] == deserialize_message(data, MarkerArray)
