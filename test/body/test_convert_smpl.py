"""Chumpy-free SMPL .pkl conversion: round trip on a pickle built like the official files."""
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse

from hmr_models.body import load_body_model
from hmr_models.body.convert_smpl import (SMPLConversionError, convert_smpl, gender_from_filename,
                                          load_smpl_pkl, main)
from fixtures.bodies import make_test_body_arrays


class _FakeChumpy:
    """Registers a module named `chumpy` whose classes pickle as chumpy.ch.Ch etc."""

    def __enter__(self):
        self.saved = {k: sys.modules.get(k) for k in ('chumpy', 'chumpy.ch', 'chumpy.reordering')}
        chumpy = types.ModuleType('chumpy')
        ch = types.ModuleType('chumpy.ch')
        reordering = types.ModuleType('chumpy.reordering')

        class Ch:
            """Like chumpy.ch.Ch: the array lives in `x`, plus bookkeeping the pickle records."""

            def __init__(self, x):
                self.x = np.asarray(x, np.float64)
                self._dirty_vars = set()
                self._itr = None
                self._depends_on_deps = {}
                self._make_dense = False
                self._make_sparse = False

            def __getstate__(self):
                return dict(self.__dict__)

        class Select(Ch):
            """A derived chumpy expression: no `x` of its own."""

            def __init__(self, a, idxs):
                self.a = a
                self.idxs = idxs

        Ch.__module__, Ch.__qualname__ = 'chumpy.ch', 'Ch'
        Select.__module__, Select.__qualname__ = 'chumpy.reordering', 'Select'
        ch.Ch, reordering.Select = Ch, Select
        chumpy.ch, chumpy.reordering = ch, reordering
        sys.modules.update({'chumpy': chumpy, 'chumpy.ch': ch, 'chumpy.reordering': reordering})
        self.Ch, self.Select = Ch, Select
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_official_like_pkl(path, data, derived_key=None):
    """Pickle `data` the way SMPL's files are laid out (chumpy arrays, sparse regressor)."""
    with _FakeChumpy() as fake:
        content = {
            'v_template': fake.Ch(data['v_template']),
            'shapedirs': fake.Ch(data['shapedirs']),
            'posedirs': data['posedirs'],
            'J_regressor': scipy.sparse.csc_matrix(data['J_regressor']),
            'J_regressor_prior': scipy.sparse.csc_matrix(data['J_regressor']),
            'weights': fake.Ch(data['weights']),
            'weights_prior': data['weights'],
            'kintree_table': data['kintree_table'].astype(np.int64),
            'f': data['f'].astype(np.uint32),
            'J': data['J_regressor'] @ data['v_template'],
            'bs_style': 'lbs', 'bs_type': 'lrotmin',
            'vert_sym_idxs': np.arange(len(data['v_template'])),
            'pose_training_info': {'iterations': 5},
        }
        if derived_key:
            content[derived_key] = fake.Select(fake.Ch(data[derived_key]), np.arange(3))
        blob = pickle.dumps(content, protocol=2)
    assert b'chumpy.ch' in blob and b'scipy.sparse' in blob
    path.write_bytes(blob)
    return path


@pytest.fixture()
def arrays():
    return make_test_body_arrays(seed=3)


def test_round_trip_without_chumpy(tmp_path, arrays):
    pkl = write_official_like_pkl(tmp_path / 'basicModel_neutral_lbs_10_207_0_v1.0.0.pkl',
                                  arrays)
    assert 'chumpy' not in sys.modules          # the converter must not need it
    loaded = load_smpl_pkl(pkl)
    for key in ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'f'):
        np.testing.assert_allclose(loaded[key], arrays[key], atol=1e-12, err_msg=key)
    out = convert_smpl(pkl)
    assert out == tmp_path / 'SMPL_NEUTRAL.npz'
    body = load_body_model(tmp_path)             # the folder lookup finds SMPL_NEUTRAL.npz
    assert body.name == 'smpl_neutral'
    np.testing.assert_allclose(body.v_template.numpy(), arrays['v_template'], atol=1e-6)
    pose = np.random.default_rng(0).normal(0, 0.3, (2, 72))
    reference = load_body_model(convert_reference(tmp_path, arrays))
    np.testing.assert_allclose(body(pose).vertices.numpy(), reference(pose).vertices.numpy(),
                               atol=1e-5)


def convert_reference(tmp_path, arrays):
    from hmr_models.body.model_file import write_body_file
    return write_body_file(tmp_path / 'ref' / 'reference.npz', arrays)


def test_sparse_csr_and_explicit_output(tmp_path, arrays):
    with _FakeChumpy() as fake:
        content = {k: arrays[k] for k in ('posedirs', 'weights', 'kintree_table', 'f')}
        content['v_template'] = fake.Ch(arrays['v_template'])
        content['shapedirs'] = fake.Ch(arrays['shapedirs'])
        content['J_regressor'] = scipy.sparse.csr_matrix(arrays['J_regressor'])
        (tmp_path / 'model.pkl').write_bytes(pickle.dumps(content, protocol=2))
    out = convert_smpl(tmp_path / 'model.pkl', tmp_path / 'x.npz', gender='male')
    body = load_body_model(out)
    assert body.name == 'smpl_male'
    np.testing.assert_allclose(body.smpl.J_regressor.numpy(), arrays['J_regressor'], atol=1e-7)


def test_derived_chumpy_expression_is_reported(tmp_path, arrays):
    pkl = write_official_like_pkl(tmp_path / 'SMPL_MALE.pkl', arrays, derived_key='posedirs')
    with pytest.raises(SMPLConversionError, match='posedirs'):
        load_smpl_pkl(pkl)


def test_malicious_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ('should never run',))
    (tmp_path / 'SMPL_NEUTRAL.pkl').write_bytes(pickle.dumps({'v_template': Evil()}))
    with pytest.raises(SMPLConversionError, match='builtins.print'):
        load_smpl_pkl(tmp_path / 'SMPL_NEUTRAL.pkl')


def test_not_smpl(tmp_path, arrays):
    (tmp_path / 'SMPL_NEUTRAL.pkl').write_bytes(pickle.dumps({'f': arrays['f']}))
    with pytest.raises(SMPLConversionError, match='missing SMPL keys'):
        load_smpl_pkl(tmp_path / 'SMPL_NEUTRAL.pkl')
    (tmp_path / 'trunc.pkl').write_bytes(b'\x80\x02}q')
    with pytest.raises(SMPLConversionError, match='trunc.pkl'):
        load_smpl_pkl(tmp_path / 'trunc.pkl')


def test_gender_from_filename():
    assert gender_from_filename('basicModel_neutral_lbs_10_207_0_v1.0.0.pkl') == 'neutral'
    assert gender_from_filename('basicmodel_m_lbs_10_207_0_v1.1.0.pkl') == 'male'
    assert gender_from_filename('basicModel_f_lbs_10_207_0_v1.0.0.pkl') == 'female'
    assert gender_from_filename('SMPL_FEMALE.pkl') == 'female'
    assert gender_from_filename('model.pkl') is None


def test_cli_converts_a_folder(tmp_path, arrays, capsys):
    src = tmp_path / 'smpl'
    src.mkdir()
    write_official_like_pkl(src / 'basicmodel_m_lbs_10_207_0_v1.1.0.pkl', arrays)
    write_official_like_pkl(src / 'basicModel_f_lbs_10_207_0_v1.0.0.pkl', arrays)
    assert main([str(src), '-o', str(tmp_path / 'npz')]) == 0
    written = sorted(p.name for p in (tmp_path / 'npz').iterdir())
    assert written == ['SMPL_FEMALE.npz', 'SMPL_MALE.npz']
    assert load_body_model(tmp_path / 'npz', gender='female').name == 'smpl_female'
    with pytest.raises(SystemExit):
        main([str(tmp_path / 'missing.pkl')])
    assert 'smpl.is.tue.mpg.de' in capsys.readouterr().err
