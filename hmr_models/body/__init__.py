"""Body models: SMPL (user-provided) and the bundled open SMPL-format body, through smplx.

Usage::

    from hmr_models.body import load_body_model
    body = load_body_model()                      # bundled open body (CC0 mesh)
    out = body(pose, betas, transl)               # pose (B,72), betas (B,10), transl (B,3)
    coco = body.regress(out.vertices, 'coco17')   # (B,17,3)
"""
from .model import BodyModel, BodyOutput, OPEN_BODY_FILE, load_body_model
from .model_file import BodyModelFormatError, read_body_file, write_body_file

__all__ = ['BodyModel', 'BodyOutput', 'BodyModelFormatError', 'OPEN_BODY_FILE',
           'load_body_model', 'read_body_file', 'write_body_file']
