"""hmr-bag: record/play/info round trips with custom types, timing, storages and damaged bags."""
import re
import time

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import String

from hmr_models.types import BodyEstimate, People
from hmr_ros.bag_tool import main as bag_main
from hmr_ros.bags import BagError, bag_info, iter_messages, open_reader, open_writer, typestore
from hmr_ros.msg import SMPLPersonArray
from hmr_ros.person_msgs import to_person_array
from ros.conftest import wait_for, wait_matched
from ros.test_nodes import RELIABLE, collect


def sample_person_array(n=2, seed=0):
    rng = np.random.default_rng(seed)
    people = People(boxes=rng.uniform(0, 100, (n, 4)).astype(np.float32),
                    scores=rng.uniform(0, 1, n).astype(np.float32),
                    keypoints=rng.uniform(0, 100, (n, 17, 2)).astype(np.float32),
                    keypoint_scores=rng.uniform(0, 1, (n, 17)).astype(np.float32),
                    track_ids=np.arange(n))
    bodies = BodyEstimate(pose=rng.normal(size=(n, 72)), betas=rng.normal(size=(n, 10)),
                          translation=rng.normal(size=(n, 3)), joints=rng.normal(size=(n, 24, 3)),
                          joint_confidence=rng.uniform(0, 1, (n, 24)), body_model='test_body',
                          model_profile='compact')
    msg = to_person_array(None, people, bodies)
    msg.header.frame_id = 'cam'
    msg.header.stamp.sec = 42
    return msg


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_custom_type_round_trips_between_rosbags_and_rclpy(tmp_path, storage):
    msg = sample_person_array()
    raw = serialize_message(msg)
    store = typestore()
    decoded = store.deserialize_cdr(raw, 'hmr_ros/msg/SMPLPersonArray')
    assert decoded.persons[1].track_id == 1 and decoded.header.frame_id == 'cam'
    # Same layout (alignment padding bytes may differ: rclpy does not zero them).
    again = bytes(store.serialize_cdr(decoded, 'hmr_ros/msg/SMPLPersonArray'))
    assert len(again) == len(raw)
    assert deserialize_message(again, SMPLPersonArray) == msg
    writer = open_writer(tmp_path / 'bag', storage)
    conn = writer.add_connection('/persons', 'hmr_ros/msg/SMPLPersonArray', typestore=store)
    for i in range(3):
        writer.write(conn, 1_000_000_000 + i * 100_000_000, raw)
    writer.close()
    info = bag_info(tmp_path / 'bag')
    assert info.storage == storage and info.message_count == 3
    assert abs(info.duration_s - 0.2) < 1e-6
    reader = open_reader(tmp_path / 'bag')
    back = [deserialize_message(bytes(r), SMPLPersonArray) for _, _, r in iter_messages(reader)]
    reader.close()
    assert back[0] == msg


def test_humans_outputs_round_trip_between_rclpy_and_the_bag_typestore():
    """The humans node's REP-155 and proximity messages can be recorded and replayed."""
    from hri_msgs.msg import NormalizedPointOfInterest2D, Skeleton2D

    from hmr_ros.msg import NearestPerson
    store = typestore()
    skeleton = Skeleton2D(skeleton=[NormalizedPointOfInterest2D(x=0.5, y=0.25, c=0.75)] * 18)
    skeleton.header.frame_id = 'cam'
    near = NearestPerson(found=True, body_id='b7', distance=1.5, nearest_part='left_hand')
    for msg, name in ((skeleton, 'hri_msgs/msg/Skeleton2D'),
                      (near, 'hmr_ros/msg/NearestPerson')):
        decoded = store.deserialize_cdr(serialize_message(msg), name)
        again = bytes(store.serialize_cdr(decoded, name))
        assert deserialize_message(again, type(msg)) == msg


def test_record_then_play_preserves_content_and_timing(ros_node, spawn, tmp_path):
    pub_p = ros_node.create_publisher(SMPLPersonArray, '/rec/persons', RELIABLE)
    pub_s = ros_node.create_publisher(String, '/rec/text', RELIABLE)
    out = tmp_path / 'recording'
    rec = spawn('record', '-o', str(out), '/rec/persons', '/rec/text',
                python_module='hmr_ros.bag_tool')
    assert wait_matched(pub_p, pub_s, timeout=30), rec.text
    sent = []
    for i in range(6):
        msg = sample_person_array(seed=i)
        pub_p.publish(msg)
        pub_s.publish(String(data=f'hello {i}'))
        sent.append(msg)
        time.sleep(0.2)
    time.sleep(0.5)
    assert rec.interrupt() == 0, rec.text
    assert 'wrote 12 messages' in rec.text, rec.text

    assert bag_main(['info', str(out)]) == 0
    received, arrival = [], []
    ros_node.create_subscription(SMPLPersonArray, '/replayed/persons',
                                 lambda m: (received.append(m), arrival.append(time.monotonic())),
                                 RELIABLE)
    texts = collect(ros_node, String, '/rec/text')
    play = spawn('play', str(out), '--rate', '2.0', '--remap', '/rec/persons:=/replayed/persons',
                 python_module='hmr_ros.bag_tool')
    assert play.wait(timeout=60) == 0, play.text
    assert wait_for(lambda: len(received) == 6 and len(texts) == 6, 5), \
        f"{len(received)} persons, {len(texts)} texts\n{play.text}"
    assert received == sent
    assert [t.data for t in texts] == [f'hello {i}' for i in range(6)]
    # Pacing of the player itself (arrival times also carry the transport's discovery delays):
    # the recording's span (about 1 s; longer when the machine is busy), played at 2x.
    recorded = bag_info(out).duration_s
    seconds = float(re.search(r'published over ([0-9.]+) s', play.text).group(1))
    assert recorded >= 0.9 and seconds == pytest.approx(recorded / 2, abs=0.1)


def test_damaged_and_missing_bags_give_clear_errors(tmp_path, capsys):
    writer = open_writer(tmp_path / 'good', 'mcap')
    store = typestore()
    conn = writer.add_connection('/t', 'std_msgs/msg/String', typestore=store)
    for i in range(200):
        writer.write(conn, i * 1000, bytes(serialize_message(String(data='x' * 100))))
    writer.close()
    mcap = next((tmp_path / 'good').glob('*.mcap'))
    truncated = tmp_path / 'truncated.mcap'
    truncated.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    garbage = tmp_path / 'garbage.mcap'
    garbage.write_bytes(b'\x00' * 1000)
    for path, text in ((truncated, 'truncated'), (garbage, 'corrupt'),
                       (tmp_path / 'nothing', 'bag not found')):
        with pytest.raises(BagError, match=text):
            bag_info(path)
        assert bag_main(['info', str(path)]) == 2
        assert text in capsys.readouterr().err
    with pytest.raises(BagError, match='already exists'):
        open_writer(tmp_path / 'good')
