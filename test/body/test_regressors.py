"""Keypoint regressors (derived rules, SMPL topology, file overrides) and the DPMesh-30 map."""
import numpy as np
import pytest

from hmr_models.body import load_body_model, read_body_file, write_body_file
from hmr_models.body.keypoint_sets import (COCO17_TO_DPMESH30, DPMESH30_EDGES, DPMESH30_FLIP,
                                           DPMESH30_NAMES, DPMESH30_SOURCE_NAMES,
                                           coco17_to_dpmesh30)
from hmr_models.body.regressors import (coco17_regressor, dpmesh30_regressor,
                                        h36m17_regressor, head_top_vertices,
                                        keypoint_regressors)
from fixtures.bodies import make_test_body_arrays
from hmr_models.skeleton import COCO17_NAMES, H36M17_NAMES, SMPL24_NAMES


@pytest.fixture()
def data():
    return make_test_body_arrays(seed=1)


def smpl_sized(data):
    """The test body padded to SMPL's 6890 vertices, without its own extra vertex ids."""
    out = {k: v for k, v in data.items() if not k.startswith('extra_vertex')}
    pad = 6890 - data['v_template'].shape[0]
    out['v_template'] = np.concatenate([data['v_template'], np.zeros((pad, 3))])
    out['shapedirs'] = np.concatenate([data['shapedirs'], np.zeros((pad, 3, 10))])
    out['posedirs'] = np.concatenate([data['posedirs'], np.zeros((pad, 3, 207))])
    out['J_regressor'] = np.concatenate([data['J_regressor'], np.zeros((24, pad))], axis=1)
    out['weights'] = np.concatenate([data['weights'], np.tile(np.eye(24)[:1], (pad, 1))])
    return out


def test_rows_are_convex_and_limbs_are_smpl_joints(data):
    for reg in (coco17_regressor(data), h36m17_regressor(data), dpmesh30_regressor(data)):
        np.testing.assert_allclose(reg.sum(1), 1.0, atol=1e-6)
        assert (reg >= 0).all()
    coco = coco17_regressor(data)
    for name in COCO17_NAMES[5:]:
        np.testing.assert_allclose(coco[COCO17_NAMES.index(name)],
                                   data['J_regressor'][SMPL24_NAMES.index(name)], atol=1e-7)
    dp = dpmesh30_regressor(data)
    np.testing.assert_allclose(dp[:24], data['J_regressor'], atol=1e-7)


def test_face_points_use_the_files_vertex_ids(data):
    coco = coco17_regressor(data)
    ids = dict(zip(data['extra_vertex_names'], data['extra_vertex_ids']))
    for name, key in (('nose', 'nose'), ('left_eye', 'leye'), ('right_ear', 'rear')):
        row = coco[COCO17_NAMES.index(name)]
        assert row[ids[key]] == 1.0 and np.count_nonzero(row) == 1


def test_smpl_topology_uses_smplx_vertex_ids(data):
    from smplx.vertex_ids import vertex_ids
    coco = coco17_regressor(smpl_sized(data))
    assert coco[COCO17_NAMES.index('nose'), vertex_ids['smplh']['nose']] == 1.0
    assert coco[COCO17_NAMES.index('left_ear'), vertex_ids['smplh']['lear']] == 1.0


def test_unknown_topology_falls_back_to_geometry(data, caplog):
    bare = {k: v for k, v in data.items() if not k.startswith('extra_vertex')}
    coco = coco17_regressor(bare)
    v = data['v_template']
    nose = v[coco[0].argmax()]
    left_ear, right_ear = v[coco[3].argmax()], v[coco[4].argmax()]
    assert left_ear[0] > nose[0] > right_ear[0]
    assert 'geometrically' in caplog.text


def test_h36m_definitions(data):
    h = h36m17_regressor(data)
    jreg = data['J_regressor']
    pelvis = h[H36M17_NAMES.index('pelvis')]
    np.testing.assert_allclose(pelvis, 0.5 * (jreg[1] + jreg[2]), atol=1e-7)
    crown = h[H36M17_NAMES.index('head')]
    top = head_top_vertices(data)
    assert set(np.flatnonzero(crown)) == set(top)
    # The crown: head-skinned vertices farthest along the neck -> head direction.
    joints = jreg @ data['v_template']
    axis = joints[SMPL24_NAMES.index('head')] - joints[SMPL24_NAMES.index('neck')]
    along = data['v_template'] @ axis
    head = data['weights'][:, SMPL24_NAMES.index('head')] > 0
    assert along[top].min() >= np.sort(along[head])[-len(top)] - 1e-9


def test_file_regressors_override_derived_ones(tmp_path, data):
    custom = np.zeros((17, data['v_template'].shape[0]), np.float32)
    custom[:, 7] = 1.0
    path = write_body_file(tmp_path / 'b.npz', dict(data, J_regressor_coco17=custom))
    body = load_body_model(path)
    np.testing.assert_array_equal(body.regressor('coco17'), custom)
    derived = keypoint_regressors(read_body_file(path))
    np.testing.assert_allclose(body.regressor('h36m17'), derived['h36m17'], atol=1e-6)
    bad = dict(data, J_regressor_coco17=custom[:5])
    with pytest.raises(ValueError, match='J_regressor_coco17'):
        write_body_file(tmp_path / 'bad.npz', bad)


def test_dpmesh30_names_match_the_authors_order():
    assert len(DPMESH30_NAMES) == len(DPMESH30_SOURCE_NAMES) == 30
    for ours, theirs in zip(DPMESH30_NAMES, DPMESH30_SOURCE_NAMES):
        side = {'L_': 'left_', 'R_': 'right_'}.get(theirs[:2], '')
        if ours in ('left_hip', 'right_shoulder', 'nose', 'left_ear', 'head_top', 'pelvis'):
            assert ours == (side + theirs[2:] if side else theirs).lower()
    names = np.array(DPMESH30_NAMES)
    for i, j in enumerate(DPMESH30_FLIP):
        assert names[j] == names[i].replace('left_', 'x').replace('right_', 'left_').replace(
            'x', 'right_') or names[i] == names[j]
    assert all(0 <= a < 30 and 0 <= b < 30 for a, b in DPMESH30_EDGES)
    assert len(DPMESH30_EDGES) == 23 + 6


def test_coco17_to_dpmesh30():
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 256, (2, 17, 2)).astype(np.float32)
    conf = rng.uniform(0.2, 1.0, (2, 17)).astype(np.float32)
    conf[1, COCO17_NAMES.index('left_hip')] = 0.0          # pelvis becomes invalid
    kp[1, COCO17_NAMES.index('right_wrist')] = np.nan      # NaN: invalid whatever its score
    out, valid = coco17_to_dpmesh30(kp, conf)
    assert out.shape == (2, 30, 2) and valid.shape == (2, 30)
    observed = {n for n in DPMESH30_NAMES if n in COCO17_NAMES} | {'pelvis', 'neck'}
    assert len(observed) == 19
    assert (valid[0] > 0).sum() == 19
    for n in DPMESH30_NAMES:
        if n in COCO17_NAMES:
            np.testing.assert_array_equal(out[0, DPMESH30_NAMES.index(n)],
                                          kp[0, COCO17_NAMES.index(n)])
    lh, rh = COCO17_NAMES.index('left_hip'), COCO17_NAMES.index('right_hip')
    np.testing.assert_allclose(out[0, 0], 0.5 * (kp[0, lh] + kp[0, rh]))
    neck = DPMESH30_NAMES.index('neck')
    assert valid[0, neck] == min(conf[0, 5], conf[0, 6])
    assert valid[1, 0] == 0 and (out[1, 0] == 0).all()
    rw = DPMESH30_NAMES.index('right_wrist')
    assert valid[1, rw] == 0 and np.isfinite(out).all()
    unobserved = [DPMESH30_NAMES.index(n) for n in ('spine1', 'left_foot', 'head', 'head_top')]
    assert (valid[:, unobserved] == 0).all()
    assert (COCO17_TO_DPMESH30 >= 0).sum() == 17
    with pytest.raises(ValueError):
        coco17_to_dpmesh30(kp[:, :10], conf[:, :10])
