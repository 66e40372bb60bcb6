"""One colour per track id, shared by the overlay renderer and the RViz markers."""
import colorsys

import numpy as np

UNTRACKED_COLOR = (0.7, 0.7, 0.7)
_GOLDEN = 0.618033988749895


def track_color(track_id):
    """RGB in [0, 1] for a track id: hues spread by the golden ratio, grey for -1 (untracked).

    Consecutive ids get far-apart hues, so neighbours in a crowd stay distinguishable, and the
    colour of an id never changes between frames or between the overlay and RViz.
    """
    track_id = int(track_id)
    if track_id < 0:
        return UNTRACKED_COLOR
    hue = (0.08 + track_id * _GOLDEN) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.6, 0.95)


def track_colors(track_ids):
    """(N, 3) float32 colours for N track ids."""
    return np.array([track_color(t) for t in np.asarray(track_ids).reshape(-1)],
                    dtype=np.float32).reshape(-1, 3)
