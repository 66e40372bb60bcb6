"""Frame sources: video file, image folder, single image, and clear errors."""
import cv2
import numpy as np
import pytest

from hmr_ros.frame_sources import may_be_edited, open_source, SourceError, stands_alone


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
    with pytest.raises(SourceError, match='cannot read image .*99.png'):
        open_source(str(tmp_path / '99.png'))       # the one image asked for: an error


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


def test_numbered_frames_play_in_number_order(tmp_path):
    for i in (9, 10, 8):
        cv2.imwrite(str(tmp_path / f'frame_{i}.png'), np.full((10, 20, 3), i, np.uint8))
    src = open_source(str(tmp_path))
    assert [src.read()[0, 0, 0] for _ in range(3)] == [8, 9, 10]


def _folder(tmp_path, names):
    folder = tmp_path / 'images'
    folder.mkdir()
    for name in names:
        cv2.imwrite(str(folder / name), np.zeros((4, 4, 3), np.uint8))
    return str(folder)


@pytest.mark.parametrize('names, alone', [
    (['frame_0001.png', 'frame_0002.png', 'frame_0003.png'], False),   # a video's frames
    (['img_9.jpg', 'img_10.jpg', 'img_11.jpg'], False),                # unpadded, in order
    (['f_000.jpg', 'f_010.jpg', 'f_020.jpg'], False),                  # every 10th frame
    (['IMG_1234.JPG', 'IMG_1240.JPG', 'IMG_1302.JPG'], True),          # a camera roll
    (['group.jpg', 'catcher.jpg', 'lunge.png'], True),                 # named photos
    (['shot_1.jpg', 'photo_2.jpg'], True),                             # other names
    (['only.jpg'], True),
])
def test_photos_stand_alone_and_frame_sequences_do_not(tmp_path, names, alone):
    assert stands_alone(_folder(tmp_path, names)) is alone


def test_stands_alone_for_other_sources(tmp_path):
    still = tmp_path / 'photo.png'
    cv2.imwrite(str(still), np.zeros((4, 4, 3), np.uint8))
    video = tmp_path / 'clip.avi'
    write_video(video)
    assert stands_alone(str(still))
    for source in (str(video), '0', '/dev/video0', '', str(tmp_path / 'missing'),
                   _folder(tmp_path, [])):
        assert not stands_alone(source), source


@pytest.mark.parametrize('source, edited', [
    ('0', False), ('/dev/video2', False), ('clip.mp4', True), ('frames/', True), ('', True)])
def test_anything_but_a_camera_may_hold_cuts(source, edited):
    assert may_be_edited(source) is edited
