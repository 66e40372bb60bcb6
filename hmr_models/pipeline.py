"""HMRPipeline: the stages that turn one camera image into people and SMPL bodies.

front-end (detect, keypoints, track) -> DPMesh per person (one batched forward) -> DiffMesh per
track (one batched forward over active tracks). Each stage runs only where the configuration
enables it; the ROS node is a thin shell around `HMRPipeline.process`.
"""
from dataclasses import dataclass, field
import logging
import time

from hmr_models.types import People

log = logging.getLogger(__name__)

PROFILES = ('compact', 'sd15', 'frontend_only')


@dataclass
class PipelineConfig:
    """Which stages run and on what. Same names as the hmr_node ROS parameters."""

    model_profile: str = field(default='compact', metadata={
        'help': "'compact' (bundled CPU default), 'sd15' (paper size, your SD1.5/ControlNet "
                "weights) or 'frontend_only' (2D people and tracks, no mesh)"})
    enable_tracking: bool = field(default=True, metadata={'help': 'assign stable track ids'})
    enable_temporal: bool = field(default=True, metadata={
        'help': 'run DiffMesh per track and publish smoothed estimates'})
    device: str = field(default='auto', metadata={'help': "'auto', 'cpu' or 'cuda[:N]'"})
    dtype: str = field(default='auto', metadata={
        'help': "'auto' (fp16 on GPU, fp32 on CPU), 'float32' or 'float16'"})
    threads: int = field(default=0, metadata={'help': 'CPU threads (0 = all cores)'})
    backend: str = field(default='torch', metadata={
        'help': "inference backend: 'torch', 'onnxruntime' or 'tensorrt' (GPU only)"})

    def __post_init__(self):
        if self.model_profile not in PROFILES:
            raise ValueError(f"model_profile must be one of {PROFILES}, got '{self.model_profile}'")
        if self.threads < 0:
            raise ValueError(f'threads must be >= 0, got {self.threads}')
        if self.mesh_enabled and self.enable_temporal and not self.enable_tracking:
            raise ValueError('enable_temporal needs enable_tracking (the temporal model smooths '
                             'each track): set enable_temporal false, or enable_tracking true')

    @property
    def mesh_enabled(self):
        return self.model_profile != 'frontend_only'


@dataclass
class FrameResult:
    people: People
    bodies: object = None     # BodyEstimate of the per-frame model, or None
    smoothed: object = None   # BodyEstimate of the temporal model, or None
    timings_ms: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)


_COUNTED = ('tiny_dropped', 'capped', 'low_score_dropped', 'duplicates_dropped',
            'invalid_boxes', 'keypoints_nonfinite', 'keypoints_outside', 'guided_kept')


class HMRPipeline:
    """Runs the enabled stages on one RGB image. Stages are built once, at construction.

    frontend: a PersonFrontEnd (detection, keypoints and, with tracking on, track ids);
    mesh: a per-frame body estimator with predict(image, people, camera) -> BodyEstimate;
    temporal: a per-track smoother with update(stamp, track_ids, bodies, people).
    """

    def __init__(self, config: PipelineConfig, frontend=None, mesh=None, temporal=None):
        self.config = config
        self.frontend = frontend
        self.mesh = mesh
        self.temporal = temporal

    def process(self, image_rgb, stamp, camera):
        timings, counters = {}, {}
        t0 = time.perf_counter()
        people = People()
        if self.frontend is not None:
            if self.config.enable_tracking:
                people = self.frontend.process(image_rgb, stamp)
            else:
                people = self.frontend.detect(image_rgb)
            stats = self.frontend.last_stats
            counters = {k: getattr(stats, k) for k in _COUNTED if getattr(stats, k)}
            timings.update({f'frontend_{k}': v for k, v in stats.timings_ms.items()})
            timings['frontend'] = (time.perf_counter() - t0) * 1e3
        bodies = smoothed = None
        if self.mesh is not None and len(people):
            t1 = time.perf_counter()
            bodies = self.mesh.predict(image_rgb, people, camera)
            timings['mesh'] = (time.perf_counter() - t1) * 1e3
        if self.temporal is not None and bodies is not None:
            t2 = time.perf_counter()
            smoothed = self.temporal.update(stamp, people.track_ids, bodies, people)
            timings['temporal'] = (time.perf_counter() - t2) * 1e3
        timings['total'] = (time.perf_counter() - t0) * 1e3
        return FrameResult(people, bodies, smoothed, timings, counters)

    def close(self):
        for stage in (self.frontend, self.mesh, self.temporal):
            close = getattr(stage, 'close', None)
            if close is not None:
                close()


@dataclass
class StageConfigs:
    """The per-stage settings build_pipeline takes (each one also a set of ROS parameters)."""

    frontend: object = None    # hmr_models.frontend.FrontEndConfig
    mesh: object = None        # hmr_models.dpmesh.factory.MeshConfig
    temporal: object = None    # hmr_models.diffmesh.TemporalConfig
    streaming: object = None   # hmr_models.diffmesh.StreamingConfig
    one_euro: object = None    # hmr_models.diffmesh.OneEuroConfig


def build_pipeline(config: PipelineConfig, stages=None):
    """The pipeline the configuration asks for, with every model loaded (clear errors if not).

    `stages` is a StageConfigs; stages (or fields) left None take their defaults.
    """
    from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
    from hmr_models.runtime import resolve_runtime
    stages = stages or StageConfigs()
    runtime = resolve_runtime(config.device, config.dtype, config.threads, config.backend)
    frontend = PersonFrontEnd(stages.frontend or FrontEndConfig(), runtime)
    mesh = temporal = None
    if config.mesh_enabled:
        from hmr_models.dpmesh.factory import create_mesh_predictor
        mesh = create_mesh_predictor(config.model_profile, stages.mesh, runtime)
        if config.enable_temporal:
            from hmr_models.diffmesh import create_smoother
            temporal = create_smoother(stages.temporal, stages.streaming, stages.one_euro,
                                       body=mesh.body, device=runtime.device)
    log.info('pipeline: profile %s on %s (%s, %s); temporal %s', config.model_profile,
             runtime.device, runtime.dtype, runtime.backend,
             type(temporal).__name__ if temporal is not None else 'off')
    return HMRPipeline(config, frontend=frontend, mesh=mesh, temporal=temporal)
