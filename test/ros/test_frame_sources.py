"""Frame sources: video file, image folder, single image, and clear errors."""
import cv2
import numpy as np
import pytest

from hmr_ros.frame_sources import SourceError, open_source


def write_video(path, frames=5, size=(64, 48), fps=12.0):
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
    for i in range(frames):
        out.write(np.full((size[1], size[0], 3), i * 40, np.uint8))
    out.release()


def test_video_file(tmp_path):
    path = tmp_path / 'clip.avi'
    write_video(path)
    src = open_source(str(path))
    assert src.native_fps == pytest.approx(12.0)
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    assert src.restart() and src.read() is not None
    src.close()


def test_image_folder_skips_unreadable(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f'{i:02d}.png'), np.full((10, 20, 3), i, np.uint8))
    (tmp_path / '99.png').write_bytes(b'broken')
    src = open_source(str(tmp_path))
    frames = [src.read() for _ in range(4)]
    assert [f is None for f in frames] == [False, False, False, True]
    assert src.skipped == 1 and frames[2][0, 0, 0] == 2
    single = open_source(str(tmp_path / '01.png'))
    assert single.read()[0, 0, 0] == 1 and single.read() is None


@pytest.mark.parametrize('source, match', [
    ('/no/such/video.mp4', 'video file not found'),
    ('/dev/video99', 'camera device not found'),
    ('', 'empty source'),
])
def test_missing_sources(source, match):
    with pytest.raises(SourceError, match=match):
        open_source(source)


def test_empty_folder_and_undecodable_video(tmp_path):
    with pytest.raises(SourceError, match='no images'):
        open_source(str(tmp_path))
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video')
    with pytest.raises(SourceError, match='cannot open video'):
        open_source(str(bad))
