"""Bags with ground truth (hmr_ros.ground_truth_bags): a synthetic scene written with the node's
messages and read back with rosbags; `hmr-synth --bags` end to end."""
import numpy as np
import pytest

from hmr_ros.bags import typestore
from hmr_ros.ground_truth_bags import TOPICS, write_scene_bag


def test_bag_written_and_read_back(scene, detections, tmp_path):
    from rosbags.rosbag2 import Reader
    frames = [np.full((64, 96, 3), i * 20, np.uint8) for i in range(scene.num_frames)]
    bag = write_scene_bag(tmp_path / 'bag', scene, frames, detections)
    store = typestore()
    with Reader(bag) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {TOPICS[k]: 6 for k in TOPICS}
        gt, images, stamps = [], [], []
        for conn, stamp, raw in reader.messages():
            msg = store.deserialize_cdr(raw, conn.msgtype)
            if conn.topic == TOPICS['ground_truth']:
                gt.append(msg)
                stamps.append(stamp)
            elif conn.topic == TOPICS['image']:
                images.append(msg)
    assert np.diff(stamps).tolist() == [int(round(1e9 / scene.fps))] * 5
    person = gt[3].persons[1]
    p = scene.people[1]
    np.testing.assert_allclose(person.pose, p.pose[3])
    np.testing.assert_allclose(person.joints_3d, p.joints[3].reshape(-1))
    assert person.translation.z == pytest.approx(float(p.transl[3, 2]))
    assert person.has_mesh and person.model_profile == 'ground_truth'
    img = images[2]
    assert (img.width, img.height, img.encoding) == (96, 64, 'rgb8')
    assert np.asarray(img.data).reshape(64, 96, 3)[0, 0, 0] == 40
    det = None
    with Reader(bag) as reader:
        for conn, _, raw in reader.messages():
            if conn.topic == TOPICS['detections'] and det is None:
                det = store.deserialize_cdr(raw, conn.msgtype)
    people = detections[0][0]
    assert len(det.persons) == len(people) and not det.persons[0].has_mesh
    assert det.persons[0].model_profile == 'simulated_detector'
    np.testing.assert_allclose(det.persons[0].bbox, people.boxes[0])
    with pytest.raises(FileExistsError):
        write_scene_bag(bag, scene, frames)


def test_bag_rejects_wrong_image_size(scene, tmp_path):
    with pytest.raises(ValueError, match='camera is 96x64'):
        write_scene_bag(tmp_path / 'bad', scene, [np.zeros((10, 10, 3), np.uint8)])
