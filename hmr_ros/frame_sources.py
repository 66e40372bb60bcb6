"""Frame sources for camera_source: a V4L2 camera, a video file or a folder of images.

Plain Python (OpenCV), no ROS: each source yields RGB uint8 frames and knows its native rate.
Errors opening a source raise SourceError naming what was asked for.
"""
from pathlib import Path
import logging
import re

import cv2

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.mpg', '.mpeg', '.m4v')


class SourceError(RuntimeError):
    """A source cannot be opened or read (message names it)."""


class _VideoCaptureSource:
    live = False   # a file: it has an end and can be read at any pace

    def __init__(self, capture, description, native_fps):
        self._cap = capture
        self.description = description
        self.native_fps = native_fps

    def read(self):
        """Next RGB frame, or None at the end of the stream."""
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def restart(self):
        return self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self):
        self._cap.release()


class VideoFileSource(_VideoCaptureSource):
    def __init__(self, path):
        path = Path(path)
        if not path.is_file():
            raise SourceError(f'video file not found: {path}')
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise SourceError(f'cannot open video file {path} (not a video OpenCV can decode?)')
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        super().__init__(cap, f'video {path}', fps if fps and fps > 0 else 30.0)


class CameraSource(_VideoCaptureSource):
    live = True    # frames come at the camera's rate whether or not anyone reads them

    def __init__(self, device, width=0, height=0, fps=0.0):
        index = int(device) if str(device).isdigit() else str(device)
        if isinstance(index, str) and not Path(index).exists():
            raise SourceError(f'camera device not found: {index}')
        cap = cv2.VideoCapture(index, cv2.CAP_V4L2)
        if not cap.isOpened():
            raise SourceError(f'cannot open camera {device} (missing, busy or no permission)')
        if width > 0:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height > 0:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps > 0:
            cap.set(cv2.CAP_PROP_FPS, fps)
        native = cap.get(cv2.CAP_PROP_FPS)
        super().__init__(cap, f'camera {device}', native if native and native > 0 else 30.0)

    def restart(self):
        return True  # a live camera has no beginning to go back to


class ImageFilesSource:
    """A list of image files played in order (a folder, or a single still)."""

    live = False

    def __init__(self, files, description, fps=10.0):
        self.files = list(files)
        self.description = description
        self.native_fps = fps
        self._next = 0
        self.skipped = 0

    def read(self):
        while self._next < len(self.files):
            path = self.files[self._next]
            self._next += 1
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is not None:
                return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self.skipped += 1
            log.warning('skipping unreadable image %s', path)
        return None

    def restart(self):
        self._next = 0
        return True

    def close(self):
        pass


def open_source(source, camera_width=0, camera_height=0, camera_fps=0.0, folder_fps=10.0):
    """Open `source`: a camera ('0', '/dev/video0'), a video file or a folder of images."""
    text = str(source).strip()
    if not text:
        raise SourceError('empty source')
    if is_camera(text):
        return CameraSource(text, camera_width, camera_height, camera_fps)
    path = Path(text).expanduser()
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise SourceError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in folder {path}')
        return ImageFilesSource(files, f'image folder {path} ({len(files)} images)', folder_fps)
    if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
        if not cv2.haveImageReader(str(path)):
            raise SourceError(f'cannot read image {path} (not an image OpenCV can decode?)')
        return ImageFilesSource([path], f'image {path}', folder_fps)
    if not path.exists():
        kind = 'video file' if path.suffix.lower() in VIDEO_SUFFIXES else 'source'
        raise SourceError(f'{kind} not found: {path}')
    return VideoFileSource(path)


def image_files(folder):
    """The images in `folder` (IMAGE_SUFFIXES), in natural number order: the order they play."""
    return sorted((p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                  key=natural_order)


def natural_order(path):
    """Sort key of a file name with its numbers as numbers: frame_9.png before frame_10.png."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', Path(path).name)]


def _numbered(name):
    """(the name with its last number taken out, that number) or None without a number."""
    found = list(re.finditer(r'\d+', name))
    if not found:
        return None
    last = found[-1]
    return name[:last.start()] + '#' + name[last.end():], int(last.group())


def is_camera(source):
    """Whether `source` names a camera ('0', '/dev/video0') rather than a file or folder."""
    text = str(source).strip()
    return text.isdigit() or text.startswith('/dev/video')


def may_be_edited(source):
    """Whether `source` may hold hard cuts between shots: anything but a camera.

    A video file or an image folder (and '': the bundled video); a camera is one shot.
    """
    return not is_camera(source)


def stands_alone(source):
    """True when `source` names photos that stand alone, not the frames of one video.

    One image file; or a folder of images that is not a frame sequence. A frame sequence is
    named alike with one number rising by a constant step (frame_0001.png, frame_0002.png, ...
    as video tools write them); photos from a camera roll have gaps, other names or no numbers.
    A camera, a video file, a missing path or an empty folder: False (open_source says why).
    """
    text = str(source).strip()
    if not text or is_camera(text):
        return False
    path = Path(text).expanduser()
    if path.is_file():
        return path.suffix.lower() in IMAGE_SUFFIXES
    if not path.is_dir():
        return False
    names = [p.name for p in image_files(path)]
    if len(names) < 2:
        return bool(names)
    numbered = [_numbered(n) for n in names]
    if any(n is None for n in numbered) or len({n[0] for n in numbered}) > 1:
        return True
    numbered.sort(key=lambda n: n[1])
    steps = {b[1] - a[1] for a, b in zip(numbered, numbered[1:])}
    return len(steps) != 1 or steps.pop() <= 0
