"""sanitize_keypoints: NaN, inf, out-of-image and low-score keypoints become 'missing'."""
import numpy as np

from hmr_models.frontend.keypoints import empty_keypoints, sanitize_keypoints


def test_sanitize_marks_unusable_keypoints_missing_and_counts_faults():
    rng = np.random.default_rng(0)
    kp = rng.uniform(10, 90, (2, 17, 2)).astype(np.float32)
    sc = np.full((2, 17), 0.8, np.float32)
    kp[0, 0] = np.nan                 # backend fault
    kp[0, 1, 0] = np.inf              # backend fault
    sc[0, 2] = np.nan                 # backend fault (score)
    kp[1, 3] = [150, 50]              # outside a 100 x 100 image
    kp[1, 4] = [50, -1]               # outside
    sc[1, 5] = 0.05                   # low score: missing, not a fault
    sc[1, 6] = 1.7                    # clipped to 1
    out_kp, out_sc, nonfinite, outside = sanitize_keypoints(kp, sc, 100, 100, 0.1)
    assert nonfinite == 3 and outside == 2
    missing = np.zeros((2, 17), bool)
    missing[0, [0, 1, 2]] = True
    missing[1, [3, 4, 5]] = True
    assert np.all(np.isnan(out_kp[missing])) and np.all(out_sc[missing] == 0)
    assert np.all(np.isfinite(out_kp[~missing])) and np.all(out_sc[~missing] > 0)
    assert out_sc.max() == 1.0
    assert not np.shares_memory(out_kp, kp), 'input must not be modified'


def test_missing_marked_by_backend_is_not_a_fault():
    kp, sc = empty_keypoints(3)
    out_kp, out_sc, nonfinite, outside = sanitize_keypoints(kp, sc, 10, 10)
    assert nonfinite == 0 and outside == 0
    assert np.isnan(out_kp).all() and (out_sc == 0).all()
    assert sanitize_keypoints(*empty_keypoints(0), 10, 10)[0].shape == (0, 17, 2)
