"""Hard cuts in edited video: the image is not the next of the same shot.

Across a cut the tracker would hand the people of one shot to those of the next (a lost track
matches anyone near where it was), and their smoothing would blend the two shots. A cut is
told from a 64x36 thumbnail of each image against the one before, by two measures that must
both be large:

- structure: 1 - the correlation of the grey thumbnails (mean and contrast removed, so light
  changes do not count);
- colour: the Bhattacharyya distance of their hue-saturation histograms (position removed, so
  camera motion does not count).

Measured on the real clips here (benchmarks/edited_video.py, 2026-12-06), every consecutive
pair and pairs three images apart (a node dropping images): structure at most 0.09, colour at
most 0.33 (the bundled clip's panning and a backflip); at the cuts between places 0.78-1.01 and
0.56-0.63. A cut between two cameras on one scene keeps the colours and is not seen; the
front-end's detector fallback still finds its people. Someone passing close in front of the
lens is a cut only when they cover about half the image more from one image to the next
(`edited_video.py --cut-check`: none at 30 % per image); a camera (not edited) has this off.
"""
import cv2
import numpy as np

THUMBNAIL = (64, 36)
MIN_STRUCTURE_CHANGE = 0.5    # 1 - correlation of the grey thumbnails
MIN_COLOUR_CHANGE = 0.45      # Bhattacharyya distance of the hue-saturation histograms
_HIST_BINS, _HIST_RANGES = [16, 8], [0, 180, 0, 256]


class SceneCutDetector:
    """`is_cut(image_rgb)`: whether the image starts a new shot (False for the first image)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self._grey = self._hist = None

    def is_cut(self, image_rgb):
        small = cv2.resize(image_rgb, THUMBNAIL, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        grey = (grey - grey.mean()) / (grey.std() + 1e-3)
        hist = cv2.calcHist([cv2.cvtColor(small, cv2.COLOR_RGB2HSV)], [0, 1], None, _HIST_BINS,
                            _HIST_RANGES)
        hist = cv2.normalize(hist, hist).astype(np.float32)
        cut = False
        if self._grey is not None:
            structure = 1.0 - float((grey * self._grey).mean())
            colour = cv2.compareHist(hist, self._hist, cv2.HISTCMP_BHATTACHARYYA)
            cut = structure >= MIN_STRUCTURE_CHANGE and colour >= MIN_COLOUR_CHANGE
        self._grey, self._hist = grey, hist
        return cut
