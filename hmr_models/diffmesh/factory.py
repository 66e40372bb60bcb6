"""Build the pipeline's temporal stage from its parameters (same names as the ROS ones)."""
from dataclasses import dataclass, field
import logging
from pathlib import Path

from hmr_models.config import Config
from hmr_models.paths import ASSETS_DIR, MissingModelFile

log = logging.getLogger(__name__)

METHODS = ('diffmesh', 'one_euro')
BUNDLED_WEIGHTS = 'weights/diffmesh_compact'


@dataclass
class TemporalConfig(Config):
    """Which smoother runs per track, and its weights."""

    temporal_method: str = field(default='diffmesh', metadata={
        'help': "'diffmesh' (learned, one batched forward per frame) or 'one_euro' (filter)"})
    temporal_weights: str = field(default='', metadata={
        'help': 'DiffMesh checkpoint folder (config.json + model.safetensors); empty = bundled'})

    def validate(self):
        if self.temporal_method not in METHODS:
            raise ValueError(f'temporal_method must be one of {METHODS}, got '
                             f"'{self.temporal_method}'")


def resolve_weights(path=''):
    """The weights folder to load: `path`, or the bundled compact weights."""
    p = Path(path).expanduser() if path else ASSETS_DIR / BUNDLED_WEIGHTS
    if not p.exists():
        raise MissingModelFile(
            f"DiffMesh weights not found: {p} (set by parameter 'temporal_weights'). Train "
            "them with `python -m hmr_models.train.train_diffmesh`, or set temporal_method "
            "to 'one_euro'.")
    return p


def create_smoother(temporal=None, streaming=None, one_euro=None, body=None, runtime=None,
                    refiner=None):
    """The per-track smoother the pipeline calls.

    It is called as `.update(stamp, track_ids, estimate, people)`.

    Args:
        temporal: TemporalConfig; streaming: StreamingConfig (DiffMesh); one_euro: OneEuroConfig.
        body: the pipeline's BodyModel, so smoothed people get joints and vertices of the same
            body as the per-frame ones.
        runtime: hmr_models.runtime.Runtime (device, threads, backend) of the model.
        refiner: hmr_models.fitting.KeypointRefiner: DiffMesh's newest frame is fitted to the
            current keypoints (None: not). The One-Euro filter does not use it.
    """
    from hmr_models.runtime import Runtime
    from hmr_models.diffmesh.model import DiffMesh
    from hmr_models.diffmesh.one_euro import OneEuroSmoother
    from hmr_models.diffmesh.streaming import StreamingSmoother
    temporal = temporal or TemporalConfig()
    if temporal.temporal_method == 'one_euro':
        return OneEuroSmoother(one_euro, body=body)
    runtime = runtime or Runtime()
    weights = resolve_weights(temporal.temporal_weights)
    model = DiffMesh.from_pretrained(weights).to(runtime.device)
    log.info('DiffMesh temporal model from %s (%d frames, %d steps)', weights,
             model.config.num_frames, model.config.num_steps)
    return StreamingSmoother(model, streaming, body=body, runtime=runtime, refiner=refiner)
