"""Shared fixtures for the front-end tests: real frames and loaded models (session-scoped)."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from hmr_models.runtime import Runtime

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / 'media' / 'sample_sports2d.mp4'
VTEST = Path('/usr/share/doc/opencv-doc/examples/data/vtest.avi')

# Hand-checked people in frames of the bundled sample clip (1280x720): box centres (x, y) px and
# heights of the two main people (the man on the roof, the woman walking).
SAMPLE_PEOPLE = {
    75: {'man': ((462, 200), 275), 'woman': ((920, 525), 300)},
    100: {'man': ((470, 190), 275), 'woman': ((745, 525), 300)},
}


def read_frames(path, indices):
    """RGB frames {index: (H, W, 3) uint8} of a video (sequential read: seeking is inexact)."""
    cap = cv2.VideoCapture(str(path))
    frames, i, last = {}, 0, max(indices)
    while i <= last:
        ok, frame = cap.read()
        if not ok:
            break
        if i in indices:
            frames[i] = np.ascontiguousarray(frame[..., ::-1])
        i += 1
    cap.release()
    return frames


@pytest.fixture(scope='session')
def runtime():
    return Runtime(threads=2)


@pytest.fixture(scope='session')
def sample_frames():
    if not SAMPLE.is_file():
        pytest.fail(f'bundled sample clip missing: {SAMPLE}')
    frames = read_frames(SAMPLE, set(SAMPLE_PEOPLE))
    assert set(frames) == set(SAMPLE_PEOPLE), 'could not decode the bundled sample clip'
    return frames


@pytest.fixture(scope='session')
def vtest_frames():
    if not VTEST.is_file():
        pytest.skip(f'{VTEST} not installed (Debian package opencv-doc); vtest checks skipped')
    return read_frames(VTEST, {0, 50, 100})


@pytest.fixture(scope='session')
def front_end(runtime):
    from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
    return PersonFrontEnd(FrontEndConfig(), runtime)


def centre(box):
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def find_person(people, xy, tolerance):
    """Index of the person whose box centre is within `tolerance` px of xy, else None."""
    if len(people) == 0:
        return None
    d = np.linalg.norm((people.boxes[:, :2] + people.boxes[:, 2:]) / 2 - np.asarray(xy), axis=1)
    i = int(np.argmin(d))
    return i if d[i] <= tolerance else None
