"""HMRPipeline: the stages that turn one camera image into people and SMPL bodies.

front-end (detect, keypoints, track) -> DPMesh per person (one batched forward) -> DiffMesh per
track (one batched forward over active tracks). Each stage runs only where the configuration
enables it; the ROS node is a thin shell around `HMRPipeline.process`.
"""
from collections import deque
from dataclasses import dataclass, field, replace
import logging
import time

import numpy as np

from hmr_models.config import Config
from hmr_models.types import CameraIntrinsics, People

log = logging.getLogger(__name__)

PROFILES = ('compact', 'sd15', 'frontend_only')


@dataclass
class PipelineConfig(Config):
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
    threads: int = field(default=0, metadata={
        'help': 'CPU threads of the whole pipeline (0 = all cores); with pipelining they are '
                'split between the front-end and the mesh stages'})
    pipelining: bool = field(default=True, metadata={
        'help': 'overlap the front-end of the next image with the mesh stages of the current '
                'one (worker threads in hmr_node)'})
    temporal_worker: bool = field(default=True, metadata={
        'help': 'pipelined: the temporal stage (DiffMesh, the smoothed and delayed outputs, '
                'then the visuals) runs on a third worker thread, so the mesh stage takes the '
                "next image's people as soon as this image's per-frame people are out; false: "
                'the mesh worker runs it after them'})
    pace_frontend: bool = field(default=True, metadata={
        'help': 'pipelined, while the source outruns the node (images dropped): start the '
                'front-end of the next image just in time for the mesh stages when they are the '
                'slower half (the newest image then, and no wait in between: lower latency, '
                'same rate), and pass over an image older than half the camera period for the '
                'next one (fresher images, a few percent fewer); false: always the waiting '
                'image, as soon as the last one is handed over'})
    backend: str = field(default='auto', metadata={
        'help': "inference backend of the mesh stages: 'auto' (onnxruntime on CPU, torch on "
                "GPU), 'torch', 'onnxruntime' (exported once, cached), 'tensorrt' (GPU) or "
                "'cuda_graphs' (GPU: torch, each network replayed from a CUDA graph per padded "
                "number of people)"})
    floor_from_people: bool = field(default=False, metadata={
        'help': "a fixed camera with no known floor (no floor_frame on /tf_static): find the "
                "floor from where people's ankles are over the first seconds, then size and "
                "place people from it as with a known floor (hmr_models.fitting.floor_estimate;"
                " not for a moving camera)"})
    stills: bool = field(default=False, metadata={
        'help': 'every image stands alone (a folder of photos, not a video): the detector runs '
                'on each and nothing is tracked, smoothed or learnt across images (per-frame '
                'people only: enable_tracking, enable_temporal and floor_from_people are off)'})

    def __post_init__(self):
        # stills means these three off: one place, so no stage needs to ask about photos
        if self.stills:
            self.enable_tracking = self.enable_temporal = self.floor_from_people = False
        super().__post_init__()

    def validate(self):
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
class FrontResult:
    """What the front-end found in one image (the first half of `HMRPipeline.process`)."""

    people: People
    stamp: float
    timings_ms: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)


@dataclass
class DelayedFrame:
    """Fully smoothed people of an earlier frame (`temporal_delay_frames` > 0).

    stamp: that frame's time (seconds); people: the front-end's people of that frame who have a
    delayed estimate; bodies: their BodyEstimate, aligned with `people`.
    """

    stamp: float
    people: People
    bodies: object


@dataclass
class FrameResult:
    people: People
    bodies: object = None     # BodyEstimate of the per-frame model, or None
    smoothed: object = None   # BodyEstimate of the temporal model, or None
    timings_ms: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)
    delayed: list = field(default_factory=list)   # DelayedFrame of earlier frames
    stamp: float = 0.0        # the frame's time (seconds)
    camera: object = None     # the CameraIntrinsics the mesh stages used (a found floor added)


_COUNTED = ('tiny_dropped', 'capped', 'low_score_dropped', 'duplicates_dropped', 'parts_dropped',
            'candidates_skipped', 'invalid_boxes', 'keypoints_nonfinite', 'keypoints_outside',
            'guided_kept', 'detector_fallbacks', 'scene_cuts', 'occluded_retried',
            'occluded_replaced', 'legs_retried', 'legs_replaced')
# Delayed estimates are matched to the frame they belong to by stamp, within this tolerance.
_STAMP_MATCH_S = 1e-3


class HMRPipeline:
    """Runs the enabled stages on one RGB image. Stages are built once, at construction.

    frontend: a PersonFrontEnd (detection, keypoints and, with tracking on, track ids);
    mesh: a per-frame body estimator with predict(image, people, camera) -> BodyEstimate;
    temporal: a per-track smoother with update(stamp, track_ids, bodies, people) (and, for
    delayed output, step(...) -> StreamingResult).

    `process` runs everything; `process_front` + `process_bodies` are its two halves, so a
    caller can overlap the front-end of one frame with the mesh stages of the previous one
    (each half must be called from one thread at a time, in frame order); `process_bodies` is
    `process_mesh` then `process_temporal`, so the per-frame result can go out before the
    temporal stage.
    """

    def __init__(self, config: PipelineConfig, frontend=None, mesh=None, temporal=None):
        self.config = config
        self.frontend = frontend
        self.mesh = mesh
        self.temporal = temporal
        delay = getattr(getattr(temporal, 'config', None), 'temporal_delay_frames', 0) or 0
        self.delay_frames = int(delay) if hasattr(temporal, 'step') else 0
        # People of recent frames, to pair delayed estimates with their frame's detections.
        self._recent = deque(maxlen=2 * delay + 4) if self.delay_frames else None
        self.floor_estimate = None
        if config.floor_from_people and mesh is not None:
            from hmr_models.fitting.floor_estimate import FloorFromPeople
            self.floor_estimate = FloorFromPeople.for_body(mesh.body)

    def process(self, image_rgb, stamp, camera):
        front = self.process_front(image_rgb, stamp)
        return self.process_bodies(image_rgb, camera, front)

    def process_front(self, image_rgb, stamp):
        """Detection, keypoints and tracking of one image."""
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
        return FrontResult(people, float(stamp), timings, counters)

    def process_bodies(self, image_rgb, camera, front):
        """Per-frame meshes and the temporal stage for the people `process_front` found."""
        return self.process_temporal(self.process_mesh(image_rgb, camera, front), camera)

    def process_mesh(self, image_rgb, camera, front):
        """Per-frame meshes (DPMesh) of `front`'s people: a FrameResult without `smoothed`.

        The first half of `process_bodies`: a caller can publish the per-frame people before
        `process_temporal` smooths them (the per-frame result then does not wait for DiffMesh).
        """
        people = front.people
        timings, counters = dict(front.timings_ms), dict(front.counters)
        t0 = time.perf_counter()
        bodies = None
        if self.floor_estimate is not None:
            if front.counters.get('scene_cuts'):
                self.floor_estimate.reset()     # another shot, another camera: another floor
            camera = self.floor_estimate.apply(camera)
        if self.mesh is not None and len(people):
            bodies = self.mesh.predict(image_rgb, people, camera, stamp=front.stamp)
            timings['mesh'] = (time.perf_counter() - t0) * 1e3
            timings.update({f'mesh_{k}': v for k, v in
                            getattr(self.mesh, 'last_timings_ms', {}).items()})
            # estimates the keypoint fit turned to face the way the keypoints say
            mirrored = getattr(self.mesh, 'last_mirrored', 0)
            if mirrored:
                counters['facing_mirrored'] = mirrored
            # ... and turned back to their frame before's orientation (refine_continuity)
            kept = getattr(self.mesh, 'last_kept_turn', 0)
            if kept:
                counters['turn_kept_back'] = kept
        if self.floor_estimate is not None:
            self.floor_estimate.observe(bodies, people, camera)
        timings['total'] = timings.get('frontend', 0.0) + (time.perf_counter() - t0) * 1e3
        return FrameResult(people, bodies, None, timings, counters, stamp=front.stamp,
                           camera=camera)

    def process_temporal(self, result, camera):
        """The temporal stage on `process_mesh`'s result (in place; returned for chaining)."""
        people, bodies, stamp = result.people, result.bodies, result.stamp
        camera = camera if result.camera is None else result.camera   # with a found floor
        timings = result.timings_ms
        if self.temporal is not None and bodies is not None:
            t0 = time.perf_counter()
            if self._recent is not None:
                self._recent.append((stamp, people))
                step = self.temporal.step(stamp, people.track_ids, bodies, people, camera)
                self._name_joined(step.joined)
                result.smoothed = step.current
                result.delayed = self._delayed_frames(step.delayed)
            else:
                result.smoothed = self.temporal.update(stamp, people.track_ids, bodies, people,
                                                       camera)
            timings['temporal'] = (time.perf_counter() - t0) * 1e3
            timings['total'] += timings['temporal']
            if getattr(self.temporal, 'last_refine_ms', 0.0):
                timings['temporal_refine'] = self.temporal.last_refine_ms
        return result

    def end_of_stream(self):
        """The stream has ended: the delayed frames still owed (DelayedFrame list, oldest first).

        With `temporal_delay_frames` d, a stream's last d frames would otherwise never get a
        delayed estimate (`StreamingSmoother.flush`). The tracks are kept: a stream that goes
        on later continues them, and asking again gives nothing new.
        """
        if not self.delay_frames:
            return []
        return self._delayed_frames(self.temporal.flush())

    def _name_joined(self, joined):
        """Give the untracked people a new track took over its id in the recent frames.

        Their delayed estimates then pair with them (`_delayed_frames` pairs by track id); the
        frames' people are replaced, not changed, as the per-frame results still hold them.
        """
        for stamp, track_id, box in joined:
            for k, (when, people) in enumerate(self._recent):
                if abs(when - stamp) > _STAMP_MATCH_S:
                    continue
                hit = np.nonzero((people.track_ids < 0) &
                                 np.all(people.boxes == box, axis=1))[0]
                if hit.size:
                    ids = people.track_ids.copy()
                    ids[hit[0]] = track_id
                    self._recent[k] = (when, replace(people, track_ids=ids))
                break

    def _delayed_frames(self, delayed):
        """DelayedEstimate (people of several tracks) -> one DelayedFrame per earlier frame.

        Rows are matched to the recent frames by stamp, within a tolerance: a sample between
        observations carries a grid time that can differ from its frame's stamp by rounding,
        and must not make a second DelayedFrame of that frame. A row on no frame's time (an
        interpolated grid time) or of a track not in its frame is left out.
        """
        if delayed is None or not len(delayed.track_ids):
            return []
        frames = []
        for stamp, people in self._recent:
            near = np.nonzero(np.abs(delayed.stamps - stamp) <= _STAMP_MATCH_S)[0]
            rows, cols = [], []
            for j in near:
                where = np.nonzero(people.track_ids == delayed.track_ids[j])[0]
                if where.size and int(where[0]) not in rows:
                    rows.append(int(where[0]))
                    cols.append(int(j))
            if rows:
                frames.append(DelayedFrame(float(stamp), people.select(np.array(rows)),
                                           _select_estimate(delayed.estimate, np.array(cols))))
        return frames

    def warm_up(self, width=640, height=480, frames=3):
        """Run every stage once on a synthetic person, then forget it.

        The first call of each model allocates, traces (TorchScript) and tunes; doing it before
        the first real frame keeps that second or two out of the first frames' latency. With
        backend 'cuda_graphs' it runs every padded number of people up to the front-end's
        max_people (1, 2, 4, 8 and 16 for the default 10), so that each graph is captured here.
        The tracker and the temporal model's tracks are left as they were (empty).
        """
        image = np.full((height, width, 3), 127, np.uint8)
        camera = CameraIntrinsics.from_image_diagonal(width, height)
        if self.frontend is not None:
            self.frontend.detect(image)
        if self.mesh is None:
            return
        one = _standing_person(width, height)
        counts = (1,)
        if getattr(self.mesh, 'backend', '') == 'cuda_graphs':   # each graph captured before use
            from hmr_models.cuda_graphs import buckets_up_to
            most = getattr(getattr(self.frontend, 'config', None), 'max_people', 8)
            counts = buckets_up_to(most)
        for n in counts:
            people = one.select(np.zeros(n, np.int64))
            people.track_ids = np.arange(n, dtype=np.int64)
            for k in range(frames):
                bodies = self.mesh.predict(image, people, camera)
                if self.temporal is not None:
                    step = getattr(self.temporal, 'step', None)
                    if step is not None:
                        step(k / 30.0, people.track_ids, bodies, people)
                    else:
                        self.temporal.update(k / 30.0, people.track_ids, bodies, people)
            self.reset_stream()

    def reset_stream(self):
        """A new stream (another video or camera): forget every track.

        The tracker starts again (ids from its first), and so do the temporal model's
        histories and the mesh stage's cached image corrections per track, so that a clip
        processed after another gives what it gives alone.
        """
        reset = getattr(self.frontend, 'reset', None)
        if reset is not None:
            reset()
        if self.temporal is not None:
            self.temporal.reset()
        reset = getattr(self.mesh, 'reset', None)
        if reset is not None:
            reset()
        if self.floor_estimate is not None:
            self.floor_estimate.reset()

    def live_parameters(self):
        """Names of the settings `set_parameter` may change while the pipeline runs."""
        names = set()
        if self.frontend is not None:
            names |= set(self.frontend.LIVE_PARAMETERS)
        if self.mesh is not None:
            names |= {'keypoint_threshold', 'image_correction_interval'}
        return names

    def set_parameter(self, name, value):
        """Change a live setting (see `live_parameters`); raises ValueError when invalid."""
        if self.frontend is not None and name in self.frontend.LIVE_PARAMETERS:
            self.frontend.update_config(**{name: value})
        elif name == 'keypoint_threshold' and self.mesh is not None:
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f'keypoint_threshold must be in [0, 1], got {value}')
            self.mesh.keypoint_threshold = float(value)
        elif name == 'image_correction_interval' and self.mesh is not None:
            if int(value) < -1:
                raise ValueError(f'image_correction_interval must be >= -1, got {value}')
            if int(value) not in (-1, 1) and not self.mesh.model.splits:
                raise ValueError('image_correction_interval other than 1 needs a lifted model')
            # The image part takes seconds to make: not in the caller's thread (a node's
            # executor); the new interval takes effect once it is ready.
            self.mesh.set_image_correction_interval(int(value), wait=False)
        else:
            raise ValueError(f"'{name}' cannot change while the pipeline runs")

    def close(self):
        for stage in (self.frontend, self.mesh, self.temporal):
            close = getattr(stage, 'close', None)
            if close is not None:
                close()


# COCO-17 keypoints of a person standing upright, in units of the box (x, y in [0, 1]).
_STANDING = np.array([
    (0.50, 0.06), (0.53, 0.04), (0.47, 0.04), (0.56, 0.06), (0.44, 0.06), (0.64, 0.20),
    (0.36, 0.20), (0.68, 0.36), (0.32, 0.36), (0.70, 0.50), (0.30, 0.50), (0.58, 0.52),
    (0.42, 0.52), (0.58, 0.74), (0.42, 0.74), (0.58, 0.96), (0.42, 0.96)], np.float32)


def _standing_person(width, height):
    """One People entry: an upright person in the middle of a width x height image."""
    h = 0.8 * height
    w = 0.35 * h
    x0, y0 = (width - w) / 2, 0.1 * height
    keypoints = _STANDING * np.array([w, h], np.float32) + np.array([x0, y0], np.float32)
    return People(boxes=np.array([[x0, y0, x0 + w, y0 + h]], np.float32),
                  scores=np.ones(1, np.float32), keypoints=keypoints[None],
                  keypoint_scores=np.full((1, 17), 0.9, np.float32),
                  track_ids=np.zeros(1, np.int64))


def _select_estimate(est, index):
    """The rows `index` of a BodyEstimate."""
    def pick(a):
        return None if a is None else a[index]
    flags = est.temporal_flags()[index]
    return replace(est, pose=est.pose[index], betas=est.betas[index],
                   translation=est.translation[index], joints=est.joints[index],
                   joint_confidence=est.joint_confidence[index], vertices=pick(est.vertices),
                   temporal=flags)


@dataclass
class StageConfigs:
    """The per-stage settings build_pipeline takes (each one also a set of ROS parameters)."""

    frontend: object = None    # hmr_models.frontend.FrontEndConfig
    mesh: object = None        # hmr_models.dpmesh.factory.MeshConfig
    temporal: object = None    # hmr_models.diffmesh.TemporalConfig
    streaming: object = None   # hmr_models.diffmesh.StreamingConfig
    one_euro: object = None    # hmr_models.diffmesh.OneEuroConfig
    refine: object = None      # hmr_models.fitting.RefineConfig


def build_pipeline(config: PipelineConfig, stages=None):
    """The pipeline the configuration asks for, with every model loaded (clear errors if not).

    `stages` is a StageConfigs; stages (or fields) left None take their defaults.
    """
    from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
    from hmr_models.runtime import resolve_runtime, split_threads
    stages = stages or StageConfigs()
    runtime = resolve_runtime(config.device, config.dtype, config.threads, config.backend)
    # One budget of CPU threads for the whole pipeline: pipelined stages run at the same time,
    # so they share the cores instead of each taking all of them.
    pipelined = config.pipelining and config.mesh_enabled
    # no temporal stage, no share of the threads for it
    front_rt, mesh_rt, temporal_rt = split_threads(
        runtime, pipelined,
        temporal_apart=pipelined and config.temporal_worker and config.enable_temporal)
    frontend = PersonFrontEnd(stages.frontend or FrontEndConfig(), front_rt)
    mesh = temporal = None
    if config.mesh_enabled:
        from hmr_models.dpmesh.factory import create_mesh_predictor
        from hmr_models.fitting import RefineConfig
        refine = stages.refine or RefineConfig()
        mesh = create_mesh_predictor(config.model_profile, stages.mesh, mesh_rt, refine=refine)
        if config.enable_temporal:
            from hmr_models.diffmesh import create_smoother
            temporal = create_smoother(
                stages.temporal, stages.streaming, stages.one_euro, body=mesh.body,
                runtime=temporal_rt, refiner=mesh.refiner if refine.refine_smoothed else None)
    cuts = config.enable_tracking and frontend.config.scene_cut
    log.info('pipeline: profile %s on %s (%s, %s); threads: front-end %d, mesh %d, '
             'temporal %d; temporal %s%s', config.model_profile, runtime.device, runtime.dtype,
             runtime.backend, front_rt.cpu_threads(), mesh_rt.cpu_threads(),
             temporal_rt.cpu_threads(), type(temporal).__name__ if temporal is not None else 'off',
             '; a hard cut between shots starts new tracks' if cuts else '')
    return HMRPipeline(config, frontend=frontend, mesh=mesh, temporal=temporal)
