"""The front-end's measures without ground-truth boxes (recall against hand counts, id-switch
proxies) measure what they claim."""
import numpy as np

from hmr_models.eval import frontend as bench


def test_match_points_one_point_per_box():
    boxes = np.array([[0, 0, 40, 100], [100, 0, 140, 100]], np.float32)
    points = [[20, 50], [22, 55], [120, 40], [300, 300]]
    found, used = bench.match_points(points, boxes)
    assert found.tolist() == [True, False, True, False], 'two points cannot share one box'
    assert used.tolist() == [True, True]
    found, used = bench.match_points(points, np.zeros((0, 4), np.float32))
    assert not found.any() and used.size == 0


def box(cx, cy, h=100):
    return np.array([cx - 20, cy - h / 2, cx + 20, cy + h / 2], np.float32)


def test_id_switch_proxies():
    steady = {0: [(t / 10, box(100 + 5 * t, 200)) for t in range(20)]}
    assert bench.id_switch_proxies(steady) == (0, 0, 1)
    # Id 0 jumps onto someone 200 px away between two frames.
    jump = {0: [(t / 10, box(100 if t < 10 else 300, 200)) for t in range(20)]}
    assert bench.id_switch_proxies(jump)[0] == 1
    # Id 0 vanishes at 1.0 s; id 1 appears 0.5 s later next to where it was: a fragment.
    frag = {0: [(t / 10, box(100 + 5 * t, 200)) for t in range(11)],
            1: [(1.5 + t / 10, box(160 + 5 * t, 200)) for t in range(10)],
            2: [(1.5 + t / 10, box(600, 200)) for t in range(10)]}     # someone else: not one
    assert bench.id_switch_proxies(frag) == (0, 1, 3)
