"""Shared benchmark metrics: known errors in, known numbers out."""
import numpy as np
import pytest

from hmr_models.data.synth.visibility import OBJECT, OTHER, OUT_OF_FRAME, SELF, occluded_in_frame
from hmr_models.eval.metrics import acceleration_errors, body_errors
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
