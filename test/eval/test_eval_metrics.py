"""Shared benchmark metrics: known errors in, known numbers out."""
import numpy as np
import pytest

from hmr_models.data.synth.visibility import OBJECT, OTHER, OUT_OF_FRAME, SELF, occluded_in_frame
from hmr_models.eval.metrics import (acceleration_errors, body_errors, paired_difference,
                                     per_joint_error)
from hmr_models.eval.tables import write_csv


def test_body_errors_of_a_known_offset():
    rng = np.random.default_rng(0)
    gj = rng.normal(size=(4, 24, 3))
    gv = rng.normal(size=(4, 30, 3))
    assert body_errors(gj, gv, gj, gv, np.zeros((4, 24), bool))['MPJPE'] == 0.0
    pj = gj.copy()
    pj[:, 3] += [0.0, 24.0, 0.0]                       # one joint of 24 off by 24
    occ = np.zeros((4, 24), bool)
    occ[:, 3] = True
    r = body_errors(pj, gv + 5.0, gj, gv, occ)        # vertices off the joints by (5, 5, 5)
    assert r['MPJPE'] == pytest.approx(1.0) and r['OCC-MPJPE'] == pytest.approx(24.0)
    assert r['MPVE'] == pytest.approx(5.0 * 3 ** 0.5) and r['PA-MPJPE'] > 0.1
    moved = body_errors(gj + 7.0, gv + 7.0, gj, gv, occ)  # the whole body moved: root-aligned
    assert moved['MPJPE'] == pytest.approx(0.0, abs=1e-9)
    assert moved['MPVE'] == pytest.approx(0.0, abs=1e-9)
    assert moved['PA-MPJPE'] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(body_errors(pj, gv, gj, gv, np.zeros((4, 24), bool))['OCC-MPJPE'])


def test_acceleration_errors_need_three_valid_frames():
    t = 10
    gt = np.zeros((2, t, 24, 3))
    pred = gt.copy()
    pred[:, ::2, 7] += [0.0, 0.0, 12.0]               # +-12 every other frame on one joint
    valid = np.ones((2, t), bool)
    valid[1, 4] = False
    pred[1, 4] = np.nan                               # unobserved frames may be NaN
    err, ok = acceleration_errors(pred, gt, valid)
    assert err.shape == ok.shape == (2, t - 2)
    assert np.allclose(err[0], 24.0 / 24) and ok[0].all()
    assert ok[1].tolist() == [True, True, False, False, False, True, True, True]
    assert np.allclose(err[1][ok[1]], 1.0)


def test_occlusion_mask_and_csv(tmp_path):
    codes = np.array([0, SELF, OTHER | OBJECT, OUT_OF_FRAME, OUT_OF_FRAME | SELF], np.uint8)
    assert occluded_in_frame(codes).tolist() == [False, True, True, False, False]
    path = write_csv(tmp_path / 'a' / 'b.csv', [{'x': 1, 'y': 2.5}], ['x', 'y'])
    assert path.read_text().splitlines() == ['x,y', '1,2.5']


def test_paired_difference_interval_over_scenes():
    rng = np.random.default_rng(0)
    a = rng.uniform(50, 150, (200, 24))          # 200 people in 20 scenes
    scenes = np.repeat(np.arange(20), 10)
    mask = rng.random((200, 24)) < 0.3
    # b better by 2 mm everywhere, plus noise: the interval holds -2 and excludes 0
    b = a - 2.0 + rng.normal(0, 3, a.shape)
    d, lo, hi = paired_difference(a, b, mask, scenes)
    assert d == pytest.approx((b - a)[mask].mean())
    assert lo < -2.0 < hi and hi < 0
    # no difference but noise: the interval holds 0
    d, lo, hi = paired_difference(a, a + rng.normal(0, 3, a.shape), mask, scenes)
    assert lo < 0 < hi
    # one scene's people all better by 50 mm: a wide interval, as a scene effect should give
    b = a.copy()
    b[scenes == 3] -= 50
    d, lo, hi = paired_difference(a, b, np.ones_like(mask), scenes)
    assert d == pytest.approx(-2.5) and lo < -4.5 and hi == pytest.approx(0, abs=1e-9)
    # one scene, or no entries at all: no interval
    _, lo, hi = paired_difference(a, b, mask, np.zeros(200))
    assert np.isnan(lo) and np.isnan(hi)
    assert all(np.isnan(paired_difference(a, b, np.zeros_like(mask), scenes)))


def test_synthocc_compares_models_pairwise():
    from hmr_models.eval.synthocc import paired_comparison
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 0.3, (40, 24, 3))                # metres in, mm out
    occluded = rng.random((40, 24)) < 0.3
    base = gt + rng.normal(0, 0.05, gt.shape)
    better = gt + (base - gt) * 0.5                      # half the error everywhere
    results = [('base', base, None, None), ('better', better, None, None)]
    rows = paired_comparison(results, 'base', gt, occluded, np.ones(40, bool),
                             np.repeat(np.arange(8), 5))
    assert list(rows) == ['better']
    cells = rows['better']
    assert all(x < 0 for cell in cells.values() for x in cell)   # better, and intervals say so
    gain = (per_joint_error(better, gt) - per_joint_error(base, gt)) * 1000.0
    assert cells['MPJPE'][0] == pytest.approx(gain.mean(), abs=0.01)
    assert cells['OCC-MPJPE'][0] == pytest.approx(gain[occluded].mean(), abs=0.01)
    with pytest.raises(ValueError, match='no model'):
        paired_comparison(results, 'nobody', gt, occluded, np.ones(40, bool), np.zeros(40))


def test_greedy_match_takes_the_closest_pair_first_and_respects_the_limit():
    from hmr_models.eval.tracking import greedy_match
    cost = np.array([[0.5, 0.1], [0.2, 0.3], [np.nan, 9.0]])
    # (0, 1) first, then (1, 0); row 2 only has a pair above the limit.
    np.testing.assert_array_equal(greedy_match(cost, 1.0), [1, 0, -1])
    np.testing.assert_array_equal(greedy_match(cost, 10.0), [1, 0, -1])   # columns used up
    np.testing.assert_array_equal(greedy_match(np.zeros((2, 0)), 1.0), [-1, -1])


def test_benchmark_variants_are_typed_by_the_config_fields():
    import pytest

    from hmr_models.eval.variants import parse_variant
    from hmr_models.fitting import RefineConfig
    name, values = parse_variant('fit:refine_iterations=2,refine_fix_swaps=false', (RefineConfig,))
    assert name == 'fit' and values == {'refine_iterations': 2, 'refine_fix_swaps': False}
    with pytest.raises(SystemExit, match='--refine.*unknown parameter .nope.'):
        parse_variant('x:nope=1', (RefineConfig,), option='--refine')


def test_sequence_error_sums_skip_unpredicted_frames():
    from hmr_models.eval.metrics import sequence_error_sums
    rng = np.random.default_rng(3)
    gt = rng.normal(0, 0.3, (2, 10, 24, 3))
    trans = rng.normal(0, 1, (2, 10, 3))
    pred = gt.copy()
    pred[:, :, 5] += [0.024, 0, 0]             # 24 mm on one joint of 24: 1 mm MPJPE
    pred[1, 4] = np.nan                         # not predicted: out of every sum
    sums = sequence_error_sums(pred, trans + [0, 0, 0.002], gt, trans)
    assert sums[1] == 19
    assert sums[0] / sums[1] == pytest.approx(1.0)
    assert sums[2] / sums[3] == pytest.approx(0.0, abs=1e-9)   # a constant offset
    assert sums[3] == 8 + 2 + 3     # accelerations need three predicted frames in a row
    assert sums[4] / sums[1] == pytest.approx(2.0)
