"""hmr-bag video: an image topic of a bag to MP4 (frames, size, rate, colours, errors)."""
import cv2
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from std_msgs.msg import String

from hmr_ros.bag_tool import main as bag_main
from hmr_ros.bag_video import export_video
from hmr_ros.bags import BagError, open_writer, typestore
from hmr_ros.image_conversion import rgb_to_image

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def write_bag(path, frames=12, rate=5.0):
    store = typestore()
    writer = open_writer(path)
    overlay = writer.add_connection('/hmr_node/overlay', 'sensor_msgs/msg/Image', typestore=store)
    text = writer.add_connection('/note', 'std_msgs/msg/String', typestore=store)
    for i in range(frames):
        t = 1_000_000_000 + int(i * 1e9 / rate)
        rgb = np.full((96, 128, 3), COLORS[i % 3], np.uint8)
        writer.write(overlay, t, serialize_message(rgb_to_image(rgb)))
        writer.write(text, t, serialize_message(String(data='x')))
    writer.close()


def test_overlay_topic_becomes_an_mp4_at_the_recorded_rate(tmp_path, capsys):
    write_bag(tmp_path / 'bag')
    out = tmp_path / 'out.mp4'
    assert bag_main(['video', str(tmp_path / 'bag'), str(out)]) == 0
    assert 'wrote' in capsys.readouterr().out
    video = cv2.VideoCapture(str(out))
    assert abs(video.get(cv2.CAP_PROP_FPS) - 5.0) < 0.01
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame)
    video.release()
    assert len(frames) == 12 and frames[0].shape == (96, 128, 3)
    for i, frame in enumerate(frames):       # RGB in the bag, BGR from OpenCV
        expected = np.array(COLORS[i % 3][::-1])
        assert np.abs(frame.reshape(-1, 3).mean(0) - expected).max() < 30


def test_video_errors_name_the_problem(tmp_path):
    write_bag(tmp_path / 'bag', frames=3)
    with pytest.raises(BagError, match="'/nope' is not in the bag.*/hmr_node/overlay"):
        export_video(tmp_path / 'bag', tmp_path / 'a.mp4', topic='/nope')
    with pytest.raises(BagError, match="'/note' is a std_msgs/msg/String topic"):
        export_video(tmp_path / 'bag', tmp_path / 'a.mp4', topic='/note')
    with pytest.raises(BagError, match='cannot write the video'):
        export_video(tmp_path / 'bag', tmp_path / 'no' / 'dir' / 'a.mp4', fps=10.0)
    assert bag_main(['video', str(tmp_path / 'missing'), str(tmp_path / 'a.mp4')]) == 2
