"""BodyModel: SMPL (or the open SMPL-format body) as a torch module, through smplx.

``load_body_model()`` is the one entry point: with no path it loads the bundled open body
(``hmr_models/assets/body/hmr_open_body.npz``, CC0 mesh), with a path the user's converted
SMPL file. Both go through ``smplx.SMPL`` so every SMPL parameter vector drives either body
the same way.
"""
import contextlib
from dataclasses import dataclass
import io
import logging
from pathlib import Path

import numpy as np
import torch

from hmr_models.paths import ASSETS_DIR, MissingModelFile, require_file
from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS

from .model_file import BodyModelFormatError, extra_vertex_ids, read_body_file
from .regressors import KEYPOINT_SETS, keypoint_regressors, regress

log = logging.getLogger(__name__)

OPEN_BODY_FILE = 'body/hmr_open_body.npz'
GENDERS = ('neutral', 'male', 'female')
SMPL_DOWNLOAD = ('Get SMPL from https://smpl.is.tue.mpg.de (free registration; its licence '
                 'must be accepted), then convert the .pkl with hmr-convert-smpl.')


@dataclass
class BodyOutput:
    """Posed body: vertices (B, V, 3) and the 24 SMPL joints (B, 24, 3), metres, torch."""

    vertices: torch.Tensor
    joints: torch.Tensor

    def numpy(self):
        """(vertices, joints) as float32 numpy arrays."""
        return (self.vertices.detach().cpu().numpy().astype(np.float32),
                self.joints.detach().cpu().numpy().astype(np.float32))


class BodyModel(torch.nn.Module):
    """An SMPL-format body driven by SMPL parameters.

    Attributes:
        faces: (F, 3) int64 numpy triangles.
        name: ``'hmr_open_body'``, ``'smpl_neutral'``, ...
        num_betas: number of shape parameters used (10 for SMPL files with 10 directions).
        parents: (24,) int64 SMPL kinematic tree (root -1).
        joint_names: SMPL-24 joint names.
    """

    def __init__(self, data, name, gender='neutral', num_betas=10):
        """Build from a checked body dict (see ``model_file.read_body_file``)."""
        super().__init__()
        from smplx import SMPL
        from smplx.utils import Struct
        parents = np.asarray(data['kintree_table'][0], np.int64).copy()
        parents[0] = -1
        if not np.array_equal(parents, SMPL24_PARENTS):
            raise BodyModelFormatError(f'{name}: kintree_table is not SMPL\'s 24-joint tree')
        struct = Struct(**{k: data[k] for k in (
            'v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table',
            'f')})
        num_betas = min(int(num_betas), data['shapedirs'].shape[-1])
        # smplx prints (not logs) a warning for files with < 300 shape directions: keep our
        # output clean and say it once through logging instead.
        with contextlib.redirect_stdout(io.StringIO()):
            self.smpl = SMPL(model_path='', data_struct=struct, gender=gender,
                             num_betas=num_betas, vertex_ids=extra_vertex_ids(data),
                             create_betas=False, create_global_orient=False,
                             create_body_pose=False, create_transl=False)
        # The open body has no pose-corrective blend shapes (all zero): posing it can skip
        # smplx's (B, 207) x (207, 3V) product, 17 MB read per call for nothing (~2/3 of a
        # forward on the CPU). A user's SMPL file has them and goes through smplx whole.
        self.pose_correctives = bool(np.any(data['posedirs']))
        self.name = name
        self.gender = gender
        self.faces = np.asarray(data['f'], np.int64)
        self.parents = SMPL24_PARENTS.copy()
        self.joint_names = SMPL24_NAMES
        for key, reg in keypoint_regressors(data).items():
            self.register_buffer(f'regressor_{key}', torch.from_numpy(reg))
        log.debug('loaded body %s: %d vertices, %d faces, %d betas', name,
                  self.num_vertices, len(self.faces), self.num_betas)

    @property
    def num_betas(self):
        return self.smpl.num_betas

    @property
    def num_vertices(self):
        return int(self.smpl.v_template.shape[0])

    @property
    def device(self):
        return self.smpl.v_template.device

    @property
    def v_template(self):
        """(V, 3) rest mesh, torch."""
        return self.smpl.v_template

    def forward(self, pose, betas=None, transl=None):
        """Pose the body.

        Args:
            pose: (B, 72) axis-angle (radians), global orientation first; or (B, 24, 3).
            betas: (B, k) or (1, k) shape parameters, k <= num_betas (missing ones are 0);
                None for the mean shape.
            transl: (B, 3) translation in metres (smplx ``transl``), or None.
        Returns:
            BodyOutput with vertices (B, V, 3) and joints (B, 24, 3); numpy inputs are
            accepted and converted.
        """
        pose = self._tensor(pose, 'pose')
        if pose.ndim == 3:
            pose = pose.reshape(pose.shape[0], -1)
        if pose.ndim != 2 or pose.shape[1] != 72:
            raise ValueError(f'pose must be (B, 72) or (B, 24, 3), got {tuple(pose.shape)}')
        batch = pose.shape[0]
        betas = self._betas(betas, batch)
        if transl is not None:
            transl = self._tensor(transl, 'transl')
            if transl.shape != (batch, 3):
                raise ValueError(f'transl must be ({batch}, 3), got {tuple(transl.shape)}')
        if not self.pose_correctives:
            return self._skin(pose, betas, transl)
        out = self.smpl(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:],
                        transl=transl)
        # smplx appends its extra vertex joints (face, feet, finger tips): keep SMPL's 24.
        return BodyOutput(vertices=out.vertices, joints=out.joints[:, :24])

    def _skin(self, pose, betas, transl):
        """smplx's linear blend skinning without pose correctives, from smplx's own parts."""
        from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, \
            vertices2joints
        s = self.smpl
        batch = pose.shape[0]
        v_shaped = s.v_template + blend_shapes(betas, s.shapedirs)
        rest_joints = vertices2joints(s.J_regressor, v_shaped)
        rot = batch_rodrigues(pose.reshape(-1, 3)).view(batch, -1, 3, 3)
        joints, rel = batch_rigid_transform(rot, rest_joints, s.parents, dtype=v_shaped.dtype)
        per_vertex = (s.lbs_weights @ rel.view(batch, -1, 16)).view(batch, -1, 4, 4)
        vertices = (per_vertex[..., :3, :3] @ v_shaped.expand(batch, -1, -1)[..., None])[..., 0]
        vertices = vertices + per_vertex[..., :3, 3]
        if transl is not None:
            joints = joints + transl[:, None]
            vertices = vertices + transl[:, None]
        return BodyOutput(vertices=vertices, joints=joints)

    def regress(self, vertices, keypoints='coco17'):
        """Keypoints (B, K, 3) of posed vertices (B, V, 3).

        ``keypoints``: ``'coco17'``, ``'h36m17'`` (K = 17) or ``'dpmesh30'`` (K = 30, see
        :mod:`hmr_models.body.keypoint_sets`).

        Works on torch tensors (differentiable, any device) and on numpy arrays.
        """
        if keypoints not in KEYPOINT_SETS:
            raise ValueError(f"keypoints must be one of {tuple(KEYPOINT_SETS)}, got "
                             f"'{keypoints}'")
        reg = getattr(self, f'regressor_{keypoints}')
        if not torch.is_tensor(vertices):
            reg = reg.cpu().numpy()
        return regress(reg, vertices)

    def regressor(self, keypoints='coco17'):
        """The (K, V) regressor matrix as float32 numpy."""
        if keypoints not in KEYPOINT_SETS:
            raise ValueError(f"keypoints must be one of {tuple(KEYPOINT_SETS)}")
        return getattr(self, f'regressor_{keypoints}').cpu().numpy()

    def extra_repr(self):
        return (f'name={self.name}, vertices={self.num_vertices}, faces={len(self.faces)}, '
                f'betas={self.num_betas}')

    def _tensor(self, x, what):
        t = torch.as_tensor(x, dtype=self.smpl.v_template.dtype, device=self.device)
        if not torch.isfinite(t).all():
            raise ValueError(f'{what} contains NaN or inf')
        return t

    def _betas(self, betas, batch):
        if betas is None:
            return torch.zeros((batch, self.num_betas), dtype=self.smpl.v_template.dtype,
                               device=self.device)
        betas = self._tensor(betas, 'betas')
        if betas.ndim != 2 or betas.shape[0] not in (1, batch) or \
                betas.shape[1] > self.num_betas:
            raise ValueError(f'betas must be ({batch} or 1, <= {self.num_betas}), got '
                             f'{tuple(betas.shape)}')
        if betas.shape[1] < self.num_betas:
            betas = torch.nn.functional.pad(betas, (0, self.num_betas - betas.shape[1]))
        return betas.expand(batch, -1)


def _resolve_path(path, gender):
    """The .npz to load for `path` (file or folder) and `gender`, with clear errors."""
    p = Path(path).expanduser()
    if p.is_dir():
        names = [f'SMPL_{gender.upper()}.npz', f'smpl_{gender}.npz']
        for name in names:
            if (p / name).is_file():
                return p / name
        pkls = sorted(p.glob('*.pkl'))
        hint = (f' It holds .pkl files ({", ".join(x.name for x in pkls[:3])}): convert them '
                'with hmr-convert-smpl first.') if pkls else ''
        raise MissingModelFile(
            f"no {' or '.join(names)} in folder {p} (set by parameter 'body_model_path')."
            f'{hint} {SMPL_DOWNLOAD}')
    p = require_file(p, 'SMPL body model file', parameter='body_model_path',
                     get_it=SMPL_DOWNLOAD)
    if p.suffix == '.pkl':
        raise BodyModelFormatError(
            f"{p} is an official SMPL .pkl (chumpy pickle), which is not loaded directly "
            f"(parameter 'body_model_path'): convert it once with "
            f"'hmr-convert-smpl {p} {p.with_suffix('.npz')}' and pass the .npz.")
    return p


def load_body_model(path=None, gender='neutral', device='cpu', num_betas=10):
    """Load a body model.

    Args:
        path: None for the bundled open body; else an SMPL-format ``.npz`` (see
            :mod:`hmr_models.body.model_file`) or a folder holding ``SMPL_<GENDER>.npz``.
        gender: ``'neutral'``, ``'male'`` or ``'female'`` (the open body is neutral only).
        device: torch device for the buffers.
        num_betas: shape parameters to use (at most what the file has).
    Raises:
        MissingModelFile: the file is absent (message names it, ``body_model_path`` and where
            to get SMPL).
        BodyModelFormatError: a ``.pkl`` (convert with ``hmr-convert-smpl``) or a broken file.
    """
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got '{gender}'")
    if path is None or str(path) == '':
        if gender != 'neutral':
            raise ValueError('the bundled open body is gender-neutral: set body_model_path to '
                             f'an SMPL file for gender {gender!r}')
        file = require_file(ASSETS_DIR / OPEN_BODY_FILE, 'bundled open body',
                            get_it='The installation is incomplete: reinstall hmr_ros, or '
                            'build it with scripts/build_open_body.py.')
    else:
        file = _resolve_path(path, gender)
    data = read_body_file(file)
    name = data.get('name') or f"smpl_{data.get('gender', gender)}"
    model = BodyModel(data, name=name, gender=data.get('gender', gender), num_betas=num_betas)
    return model.to(device)
