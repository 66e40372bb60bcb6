"""Build the pipeline's per-frame mesh stage from its parameters (same names as the ROS ones)."""
from dataclasses import dataclass, field
import logging
from pathlib import Path

from hmr_models.config import Config
from hmr_models.paths import ASSETS_DIR, MissingModelFile

log = logging.getLogger(__name__)

BUNDLED_CHECKPOINT = 'weights/dpmesh_compact'
SD15_HELP = (
    "The 'sd15' profile needs a DPMesh checkpoint trained at paper size: train one with "
    '`python -m hmr_models.train.train_dpmesh --config hmr_models/assets/configs/train/'
    "dpmesh_sd15.yaml` (your local SD1.5 + ControlNet weights), or convert the authors' "
    'release with `python -m hmr_models.dpmesh.weights.authors`, and set dpmesh_checkpoint '
    'to the folder.')


@dataclass
class MeshConfig(Config):
    """Which DPMesh weights and body model the per-frame stage uses."""

    dpmesh_checkpoint: str = field(default='', metadata={
        'help': "DPMesh checkpoint folder (config.json + weights); empty = the bundled compact "
                "model (profile 'compact' only)"})
    body_model_path: str = field(default='', metadata={
        'help': 'SMPL-format .npz or folder with SMPL_NEUTRAL.npz (hmr-convert-smpl); empty = '
                'the bundled open body'})
    keypoint_threshold: float = field(default=0.2, metadata={
        'help': 'front-end keypoints below this score are given to DPMesh as missing'})
    # -1 (auto): 30 on a GPU, never on a CPU. Real footage scored the same at 1, 3, 9 and 30
    # (2026-12-04) and without the image part (PA-MPJPE within 0.3 mm, MPJPE +0.5 / +3.9 mm,
    # 2026-12-07), while on a CPU each pass is ~30 ms on the mesh stage, which a live p95
    # cannot afford (docs/RESULTS.md)
    image_correction_interval: int = field(default=-1, metadata={
        'help': 'lifted models: a tracked person gets the image part (diffusion backbone) '
                'every this many frames and reuses its corrections in between (the keypoint '
                'lifter runs every frame); at most max(1, ceil(people / this)) image passes '
                'per frame, new tracks first; 1 = everybody every frame; 0 = never (the '
                'keypoint lifter alone); -1 = auto: 30 on a GPU, never on a CPU. A live change '
                'takes effect once the image part is loaded (~20 s on 2 CPU cores)'})

    def validate(self):
        if not 0.0 <= self.keypoint_threshold <= 1.0:
            raise ValueError(f'keypoint_threshold must be in [0, 1], got '
                             f'{self.keypoint_threshold}')
        if self.image_correction_interval < -1:
            raise ValueError('image_correction_interval must be >= -1, got '
                             f'{self.image_correction_interval}')


def resolve_checkpoint(profile, path=''):
    """The checkpoint folder to load for `profile`: `path`, or the bundled compact one."""
    if path:
        p = Path(path).expanduser()
    elif profile == 'compact':
        p = ASSETS_DIR / BUNDLED_CHECKPOINT
    else:
        raise MissingModelFile(f"model_profile '{profile}' has no bundled weights. {SD15_HELP}")
    if not p.exists():
        hint = SD15_HELP if profile == 'sd15' else (
            'The bundled compact weights are part of the package: reinstall hmr_ros, or train '
            'them (docs/TRAINING.md).')
        raise MissingModelFile(f"DPMesh checkpoint not found: {p} (parameter "
                               f"'dpmesh_checkpoint'). {hint}")
    return p


def create_mesh_predictor(profile, mesh=None, runtime=None, body=None, refine=None):
    """A DPMeshPredictor for `profile` ('compact' or 'sd15') with its weights and body model.

    Args:
        profile: the pipeline's model profile.
        mesh: MeshConfig (checkpoint, body model, keypoint threshold).
        runtime: hmr_models.runtime.Runtime (device, dtype, threads).
        body: an already loaded BodyModel, else loaded from `mesh.body_model_path`.
        refine: hmr_models.fitting.RefineConfig (None: no keypoint refinement); the
            predictor's `refiner` is then also the one the temporal stage can use.
    """
    from hmr_models.body import load_body_model

    from .model import DPMesh
    from .predictor import DPMeshPredictor
    mesh = mesh or MeshConfig()
    checkpoint = resolve_checkpoint(profile, mesh.dpmesh_checkpoint)
    body = body if body is not None else load_body_model(mesh.body_model_path or None)
    # The predictor builds the diffusion backbone when the image part is asked for.
    model = DPMesh.from_pretrained(checkpoint, defer_backbone=True)
    if model.config.profile != profile:
        log.warning("DPMesh checkpoint %s is a '%s' model, used for profile '%s'", checkpoint,
                    model.config.profile, profile)
    log.info('DPMesh %s from %s; body model %s (%d vertices)', model.config.profile,
             checkpoint, body.name, body.num_vertices)
    refiner = None
    if refine is not None and refine.enabled:
        from hmr_models.fitting import KeypointRefiner
        refiner = KeypointRefiner(body, refine)
    predictor = DPMeshPredictor(model, body, runtime, keypoint_threshold=mesh.keypoint_threshold,
                                image_correction_interval=mesh.image_correction_interval,
                                refiner=refiner)
    k = predictor.image_correction_interval
    log.info('DPMesh image part: %s%s', {0: 'never (the keypoint lifter alone)',
                                         1: 'every person, every frame'}.get(
                                             k, f'once every {k} frames per tracked person'),
             ' (image_correction_interval auto)' if mesh.image_correction_interval < 0 else '')
    return predictor
