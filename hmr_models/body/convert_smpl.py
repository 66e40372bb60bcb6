"""Convert official SMPL ``.pkl`` files to the ``.npz`` that :func:`load_body_model` reads.

The official files are Python-2 pickles holding ``chumpy`` objects (shape directions, and in
some releases the template and pose directions) and a ``scipy.sparse`` joint regressor. chumpy
does not import on Python >= 3.11, so this reads them with a restricted unpickler that maps the
chumpy and sparse classes to inert stand-ins and turns them into plain arrays. Nothing from the
file is executed: any class outside a short allow-list (numpy arrays and dtypes, builtins
containers) is refused.

Command line (console script ``hmr-convert-smpl``, function :func:`main`)::

    hmr-convert-smpl basicModel_neutral_lbs_10_207_0_v1.0.0.pkl    # -> SMPL_NEUTRAL.npz beside it
    hmr-convert-smpl ~/smpl/models/ -o ~/smpl/npz/                 # every SMPL .pkl in a folder
"""
import argparse
import logging
from pathlib import Path
import pickle
import sys

import numpy as np

from .model_file import NUM_JOINTS, SMPL_KEYS, check_body_arrays, write_body_file

log = logging.getLogger(__name__)


class SMPLConversionError(ValueError):
    """The pickle is not an SMPL model file this converter understands."""


class _ChumpyStandIn:
    """Inert replacement for any chumpy class: keeps the pickled state, runs no chumpy code."""

    chumpy_class = 'chumpy'

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {'state': state}


class _SparseStandIn:
    """Inert replacement for a pickled scipy.sparse matrix (compressed row/column layouts)."""

    sparse_class = 'csc_matrix'

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __setstate__(self, state):
        self.state = state


_STAND_INS = {}


def _stand_in(base, module, name):
    """One stand-in class per pickled class name, so error messages can name the original."""
    key = (base, module, name)
    if key not in _STAND_INS:
        attr = 'chumpy_class' if base is _ChumpyStandIn else 'sparse_class'
        _STAND_INS[key] = type(name, (base,), {attr: f'{module}.{name}'})
    return _STAND_INS[key]


def _safe_reconstructor(cls, base, state):
    """copyreg._reconstructor limited to our stand-ins (protocol-0/1 pickles of old objects)."""
    if not issubclass(cls, (_ChumpyStandIn, _SparseStandIn)) or base is not object:
        raise pickle.UnpicklingError(f'refusing to reconstruct {cls!r} from an SMPL file')
    return object.__new__(cls)


def _latin1_encode(text, encoding='latin1', errors='strict'):
    """_codecs.encode as protocol-2 pickles use it for bytes, limited to latin-1."""
    if encoding.replace('-', '').lower() != 'latin1':
        raise pickle.UnpicklingError(f'refusing codec {encoding!r} in an SMPL file')
    return text.encode('latin1', errors)


_NUMPY_ALLOWED = {'_reconstruct', 'ndarray', 'dtype', 'scalar', '_frombuffer'}
_BUILTINS_ALLOWED = {'set', 'frozenset', 'list', 'dict', 'tuple', 'object', 'slice', 'complex',
                     'bytearray'}


class _SMPLUnpickler(pickle.Unpickler):
    """Unpickler that resolves only what SMPL files need; chumpy/scipy become stand-ins."""

    def find_class(self, module, name):
        root = module.split('.')[0]
        if root == 'chumpy':
            return _stand_in(_ChumpyStandIn, module, name)
        if root == 'scipy' and module.startswith('scipy.sparse'):
            if name[:3] in ('csc', 'csr'):
                return _stand_in(_SparseStandIn, module, name)
            raise pickle.UnpicklingError(f'unsupported sparse matrix {module}.{name}')
        if root == 'numpy' and name in _NUMPY_ALLOWED:
            return super().find_class(module, name)
        if module in ('copy_reg', 'copyreg') and name == '_reconstructor':
            return _safe_reconstructor
        if module == '_codecs' and name == 'encode':
            return _latin1_encode
        if module in ('builtins', '__builtin__') and name in _BUILTINS_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load '{module}.{name}': not something an SMPL model file contains")


def _plain(value, key):
    """A stand-in (or array-like) as a numpy array; other values unchanged."""
    if isinstance(value, _ChumpyStandIn):
        if 'x' not in value.state:
            raise SMPLConversionError(
                f"'{key}' is a derived chumpy expression ({value.chumpy_class}), not a stored "
                'array; this converter handles the official SMPL releases, whose arrays are '
                'plain chumpy.Ch values')
        return _plain(value.state['x'], key)
    if isinstance(value, _SparseStandIn):
        return _sparse_to_dense(value, key)
    return value


def _sparse_to_dense(sp, key):
    s = sp.state
    shape = tuple(int(n) for n in s.get('_shape', s.get('shape', ())))
    if len(shape) != 2:
        raise SMPLConversionError(f"'{key}': sparse matrix without a 2-D shape")
    data = np.asarray(s['data'], np.float64)
    indices = np.asarray(s['indices'], np.int64)
    indptr = np.asarray(s['indptr'], np.int64)
    column_major = sp.sparse_class.rsplit('.', 1)[-1].startswith('csc')
    outer = shape[1] if column_major else shape[0]
    if indptr.shape != (outer + 1,) or indices.shape != data.shape:
        raise SMPLConversionError(f"'{key}': inconsistent sparse matrix arrays")
    dense = np.zeros(shape)
    # Entry e lies in the outer slot whose indptr range holds it (column for CSC, row for CSR).
    outer_of_entry = np.repeat(np.arange(outer), np.diff(indptr))
    if column_major:
        np.add.at(dense, (indices, outer_of_entry), data)
    else:
        np.add.at(dense, (outer_of_entry, indices), data)
    return dense


def load_smpl_pkl(path):
    """Read an official SMPL .pkl without chumpy; return its SMPL arrays as numpy.

    Returns:
        dict with v_template (V,3), shapedirs (V,3,NB), posedirs (V,3,207), J_regressor
        (24,V) dense, weights (V,24), kintree_table (2,24), f (F,3); float64/int64.
    Raises:
        SMPLConversionError: not an SMPL file (message names the file and the problem).
    """
    path = Path(path)
    try:
        with open(path, 'rb') as fh:
            # latin1: Python-2 pickles store numpy buffers as str; this keeps their bytes.
            raw = _SMPLUnpickler(fh, encoding='latin1').load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise SMPLConversionError(f'{path}: not a readable SMPL model pickle ({exc})') from exc
    if not isinstance(raw, dict):
        raise SMPLConversionError(f'{path}: expected a dict of arrays, got {type(raw).__name__}')
    raw = {k.decode('latin1') if isinstance(k, bytes) else k: v for k, v in raw.items()}
    missing = [k for k in SMPL_KEYS if k not in raw]
    if missing:
        raise SMPLConversionError(f'{path}: missing SMPL keys {missing}; found {sorted(raw)}')
    out = {k: np.asarray(_plain(raw[k], k)) for k in SMPL_KEYS}
    if out['J_regressor'].shape[0] != NUM_JOINTS:
        raise SMPLConversionError(
            f"{path}: {out['J_regressor'].shape[0]} joints; only SMPL's {NUM_JOINTS}-joint "
            'body is supported (SMPL-H / SMPL-X / MANO files are not)')
    out['f'] = out['f'].astype(np.int64)
    out['kintree_table'] = out['kintree_table'].astype(np.int64)
    for k in ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights'):
        out[k] = out[k].astype(np.float64)
    try:
        check_body_arrays(out, source=str(path))
    except ValueError as exc:
        raise SMPLConversionError(str(exc)) from exc
    return out


def gender_from_filename(path):
    """'neutral', 'female', 'male' from official file names, else None."""
    name = Path(path).name.lower()
    if 'neutral' in name:
        return 'neutral'
    if 'female' in name or '_f_' in name:
        return 'female'
    if 'male' in name or '_m_' in name:
        return 'male'
    return None


def convert_smpl(pkl_path, out_path=None, gender=None, name=None):
    """Convert one SMPL .pkl to .npz and return the output Path.

    Args:
        pkl_path: official SMPL file (e.g. ``basicmodel_m_lbs_10_207_0_v1.1.0.pkl``).
        out_path: output file, or folder (gets ``SMPL_<GENDER>.npz``); default: beside the input.
        gender: overrides the gender guessed from the file name.
        name: body name stored in the file (default ``smpl_<gender>``).
    """
    pkl_path = Path(pkl_path)
    gender = gender or gender_from_filename(pkl_path)
    if gender is None:
        raise SMPLConversionError(
            f'cannot tell the gender of {pkl_path.name} from its name: pass --gender')
    data = load_smpl_pkl(pkl_path)
    data['gender'] = gender
    data['name'] = name or f'smpl_{gender}'
    if out_path is None:
        out_path = pkl_path.parent
    out_path = Path(out_path)
    if out_path.is_dir() or out_path.suffix == '':
        out_path = out_path / f'SMPL_{gender.upper()}.npz'
    written = write_body_file(out_path, data)
    log.info('%s -> %s (%d vertices, %d shape directions)', pkl_path, written,
             data['v_template'].shape[0], data['shapedirs'].shape[-1])
    return written


def main(argv=None):
    """``hmr-convert-smpl``: convert SMPL .pkl files (a file or a folder of them) to .npz."""
    parser = argparse.ArgumentParser(
        prog='hmr-convert-smpl',
        description='Convert official SMPL .pkl model files (from https://smpl.is.tue.mpg.de) '
        'to the .npz that hmr_ros loads (parameter body_model_path). chumpy is not needed.')
    parser.add_argument('input', help='SMPL .pkl file, or a folder of them')
    parser.add_argument('-o', '--output', default=None,
                        help='output .npz, or folder (default: beside each input)')
    parser.add_argument('--gender', choices=('neutral', 'male', 'female'), default=None,
                        help='gender of a single input whose name does not say it')
    parser.add_argument('--no-check', action='store_true',
                        help='skip loading the result through smplx afterwards')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    src = Path(args.input).expanduser()
    if src.is_dir():
        inputs = sorted(p for p in src.glob('*.pkl') if gender_from_filename(p))
        if not inputs:
            parser.error(f'no SMPL .pkl files (with neutral/male/female in the name) in {src}')
        if args.output and Path(args.output).suffix == '.npz':
            parser.error('with a folder as input, --output must be a folder')
    elif src.is_file():
        inputs = [src]
    else:
        parser.error(f'{src} does not exist. Download SMPL from https://smpl.is.tue.mpg.de')
    failures = 0
    for pkl in inputs:
        try:
            out = convert_smpl(pkl, args.output, gender=args.gender if len(inputs) == 1 else None)
            if not args.no_check:
                from .model import load_body_model
                body = load_body_model(out, gender=gender_from_filename(out) or 'neutral')
                log.info('  loads as %s: %d vertices, %d faces, %d betas', body.name,
                         body.num_vertices, len(body.faces), body.num_betas)
        except (SMPLConversionError, OSError) as exc:
            failures += 1
            log.error('%s', exc)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
