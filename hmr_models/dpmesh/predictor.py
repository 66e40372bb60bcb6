"""DPMeshPredictor: one image + the front-end's people -> SMPL bodies, one batched forward.

    predictor = DPMeshPredictor(model, body, runtime)
    estimate = predictor.predict(image_rgb, people, camera)      # BodyEstimate, N people

Steps: square crops around the people (front-end `make_crops`), COCO-17 keypoints into the
crop (and into the model's keypoint set), heatmaps, one DPMesh forward for all N crops, CLIFF
translation with the camera (focal = image diagonal when `camera` is None), then (with a
`refiner`, hmr_models.fitting) a few steps that fit each body to its confident keypoints, and
SMPL through the body model. Timings of the last call are in `last_timings_ms`.
"""
import copy
import logging
import threading
import time

import numpy as np
import torch

from hmr_models.runtime import Runtime
from hmr_models.types import BodyEstimate, CameraIntrinsics, NUM_JOINTS, People

from .model import CropCameras, DPMeshOutput, lift, prepare_images
from .parts.keypoints import from_coco17, scores_from_coco17

log = logging.getLogger(__name__)

# COCO-17 keypoints that show each SMPL-24 joint (for the evidence-based joint confidence).
_SMPL_EVIDENCE = (
    (11, 12), (11,), (12,), (5, 6, 11, 12), (13,), (14,), (5, 6, 11, 12), (15,), (16,),
    (5, 6), (15,), (16,), (0, 5, 6), (5,), (6,), (0, 1, 2, 3, 4), (5,), (6,), (7,), (8,),
    (9,), (10,), (9,), (10,))


def joint_confidence(keypoint_scores, unseen=0.2):
    """(N, 24) confidence of each SMPL joint from the COCO-17 scores that observe it.

    Not a learned uncertainty: the mean score of the keypoints that show the joint, floored at
    `unseen` (DPMesh still infers occluded joints from context, with less certainty).
    """
    s = np.nan_to_num(np.asarray(keypoint_scores, np.float32)).clip(0.0, 1.0)
    conf = np.stack([s[:, list(idx)].mean(1) for idx in _SMPL_EVIDENCE], 1)
    return np.maximum(conf, unseen).astype(np.float32)


AUTO_INTERVAL_GPU = 30      # image_correction_interval -1 (auto) on a GPU


class DPMeshPredictor:
    """Runs a DPMesh model on all people of a frame (see module docstring)."""

    def __init__(self, model, body, runtime=None, keypoint_threshold=0.2,
                 image_correction_interval=1, refiner=None):
        runtime = runtime or Runtime()
        self.runtime = runtime
        self.device = runtime.torch_device
        self.dtype = runtime.torch_dtype
        if not model.splits or runtime.backend == 'cuda_graphs':
            model.ensure_backbone()   # every frame runs it, or CUDA graphs capture it
        self.network = None
        if runtime.backend in ('onnxruntime', 'tensorrt'):
            # Exported from float32 on the CPU (TensorRT makes its own fp16 engine from it).
            self.network = OnnxNetwork.create(model.float().cpu().eval(), runtime)
        self.backend = 'torch' if self.network is None else runtime.backend
        self.model = model.to(self.device, self.dtype).eval()
        if self.network is None:
            graphs = runtime.backend == 'cuda_graphs'
            self.network = TorchNetwork(self.model, cuda_graphs=graphs)
            self.backend = runtime.backend if graphs else 'torch'
        # SMPL stays in float32: fp16 LBS loses millimetres on large translations.
        self.body = body.to(self.device)
        self.keypoint_threshold = float(keypoint_threshold)
        self.refiner = refiner      # hmr_models.fitting.KeypointRefiner or None
        self.image_correction_interval = image_correction_interval
        self._corrections = {}   # track id -> [corrections (dict of rows), frame, last seen]
        self._poses = {}         # track id -> (frame, stamp, joint rotations after the fit)
        self.last_mirrored = 0   # estimates the keypoint fit of the latest frame turned round
        self.last_kept_turn = 0  # ... and turned back to their frame before's orientation
        self._frame = 0
        self.last_timings_ms = {}

    @property
    def image_correction_interval(self):
        """Every how many frames a tracked person gets the image part (lifted models)."""
        return self._interval

    @image_correction_interval.setter
    def image_correction_interval(self, value):
        self.set_image_correction_interval(value)

    def set_image_correction_interval(self, value, wait=True):
        """Set every how many frames a tracked person gets the image part (-1: auto).

        The image part is made (its backbone built, its graph loaded: ~20 s on 2 CPU cores)
        before an interval that uses it takes effect; until then the frames go on with the
        interval they had. wait=False makes it in a background thread and returns that thread
        (None when there was nothing to make): a live parameter change must not hold the node's
        executor for that long.
        """
        value = self._resolved_interval(value)
        self._interval_request = request = getattr(self, '_interval_request', 0) + 1
        if value == 0 or self._image_part_ready():
            self._interval = value
            return None

        def prepare():
            try:
                if isinstance(self.network, OnnxNetwork):
                    self.network.prepare_image_part()
                else:
                    self.model.ensure_backbone()
            except Exception as exc:
                if wait:
                    raise
                log.error('image_correction_interval %d not applied: the image part could not '
                          'be made (%s: %s)', value, type(exc).__name__, exc)
                return
            if self._interval_request == request:   # not overtaken by a later change
                self._interval = value
                if not wait:
                    log.info('image_correction_interval %d in effect: the image part is ready',
                             value)
        if wait:
            prepare()
            return None
        thread = threading.Thread(target=prepare, name='dpmesh-image-part', daemon=True)
        thread.start()
        return thread

    def _resolved_interval(self, value):
        value = int(value)
        if value < 0:
            # auto. On a CPU one person's image part costs as much as the rest of the mesh
            # stage, so a frame with one is late (live p95 +30-40 ms with 3 people), and real
            # footage scores the same without it (docs/RESULTS.md, 2026-12-07): never there.
            value = AUTO_INTERVAL_GPU if self.device.type == 'cuda' else 0
            if not self.model.splits:
                value = 1
        elif value != 1 and not self.model.splits:
            log.warning('image_correction_interval %d needs a lifted model (keypoint lifter + '
                        "'lifted' pose head); the image runs for every person of every frame",
                        value)
            value = 1
        return value

    def _image_part_ready(self):
        if isinstance(self.network, OnnxNetwork):
            return self.network.image_part_ready
        return self.model.backbone_built

    def reset(self):
        """Forget what the tracks carry (image corrections, orientations): a new stream."""
        self._corrections = {}
        self._poses = {}

    @property
    def config(self):
        return self.model.config

    def _empty(self):
        n = 0
        z = np.zeros
        return BodyEstimate(pose=z((n, 72), np.float32), betas=z((n, 10), np.float32),
                            translation=z((n, 3), np.float32),
                            joints=z((n, NUM_JOINTS, 3), np.float32),
                            joint_confidence=z((n, NUM_JOINTS), np.float32),
                            vertices=z((n, self.body.num_vertices, 3), np.float32),
                            body_model=self.body.name, model_profile=self.config.profile)

    def _check(self, people):
        if not isinstance(people, People):
            raise TypeError(f'people must be a hmr_models.types.People, got '
                            f'{type(people).__name__}')

    def _inputs(self, crops, people, camera):
        """Model inputs of `people` in `crops`: keypoints, validity, scores, crop cameras."""
        cfg = self.config
        scores = np.nan_to_num(people.keypoint_scores.astype(np.float32))
        valid = (scores >= self.keypoint_threshold) & np.isfinite(people.keypoints).all(-1)
        kp_crop = crops.normalise(people.keypoints.astype(np.float32))
        kp, ok = from_coco17(kp_crop, valid, cfg.keypoint_set)
        kp_scores = scores_from_coco17(np.where(valid, scores, 0.0), cfg.keypoint_set)
        dev, dt = self.device, self.dtype
        kp_t = torch.as_tensor(np.nan_to_num(kp), device=dev, dtype=dt)
        ok_t = torch.as_tensor(ok, device=dev)
        sc_t = torch.as_tensor(kp_scores, device=dev, dtype=dt)
        cams = CropCameras.from_crops(crops, camera, dev, torch.float32)
        return kp_t, ok_t, sc_t, cams, scores

    def _estimate(self, out, scores, size=None):
        f32 = lambda x: x.detach().float().cpu().numpy().astype(np.float32)  # noqa: E731
        return BodyEstimate(pose=f32(out.pose), betas=f32(out.betas),
                            translation=f32(out.translation), joints=f32(out.joints),
                            joint_confidence=joint_confidence(scores),
                            vertices=f32(out.vertices), temporal=False,
                            body_model=self.body.name, model_profile=self.config.profile,
                            size=size)

    @torch.inference_mode()
    def predict(self, image_rgb, people, camera=None, stamp=None):
        """BodyEstimate for `people` (front-end output) in `image_rgb` (H, W, 3) uint8.

        stamp: the image's time in seconds (None: not known), for the keypoint fit's motion
        prior (refine_motion_sigma).
        image_rgb may be None with a `camera` where no person gets the image part (a lifted
        model with image_correction_interval 0, as the node runs on a CPU): estimates of a
        simulated detector's people without rendering (hmr_models.data.synth.estimates).
        """
        from hmr_models.frontend.crops import crop_geometry, make_crops
        self._check(people)
        if image_rgb is None:
            if camera is None:
                raise ValueError('predict without an image needs the camera intrinsics')
        else:
            image_rgb = np.asarray(image_rgb)
            if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
                raise ValueError('image_rgb must be an (H, W, 3) uint8 RGB image, got '
                                 f'{image_rgb.shape} {image_rgb.dtype}')
        if len(people) == 0:
            self.last_timings_ms = {}
            return self._empty()
        if camera is None:
            h, w = image_rgb.shape[:2]
            camera = CameraIntrinsics.from_image_diagonal(w, h)
        cfg = self.config
        t0 = time.perf_counter()
        crops = crop_geometry(people.boxes, size=cfg.crop_size)
        kp_t, ok_t, sc_t, cams, scores = self._inputs(crops, people, camera)
        # The image part looks at everybody (a model without a keypoint lifter) or at the
        # people whose turn it is (lifted models): only their crops are cut.
        track_ids = np.asarray(people.track_ids, np.int64)
        self._frame += 1
        if self.model.splits:
            fresh = self._needs_image(track_ids)
        else:
            fresh = np.ones(len(people), bool)
        images = None
        if fresh.any():
            if image_rgb is None:
                raise ValueError('predict without an image: this model looks at the image '
                                 'this frame (image_correction_interval 0 does not)')
            cut = make_crops(image_rgb, np.asarray(people.boxes)[fresh], size=cfg.crop_size)
            images = prepare_images(cut.images, cfg.image_range, self.device, self.dtype)
        t1 = time.perf_counter()
        # cameras and scores: the keypoint lifter's box and confidence inputs
        if self.model.splits:
            out = self._lifted_output(track_ids, fresh, images, kp_t, ok_t, sc_t, cams)
        else:
            out = self.network.parameters(images, kp_t, ok_t, sc_t, cams)
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        timings = {'prepare': 1e3 * (t1 - t0), 'dpmesh': 1e3 * (t2 - t1)}
        size = None
        self.last_mirrored = self.last_kept_turn = 0
        if self.refiner is not None and self.refiner.config.enabled:
            fit = self._refine(out, cams, people, camera, stamp)
            timings['refine'] = 1e3 * (time.perf_counter() - t2)
            size, self.last_mirrored = fit.scale.astype(np.float32), fit.mirrored
            self.last_kept_turn = fit.kept_turn
        self._forget_old_tracks()
        t3 = time.perf_counter()
        self.model.pose_body(out, cams, self.body)
        timings['body'] = 1e3 * (time.perf_counter() - t3)
        self.last_timings_ms = timings
        return self._estimate(out, scores, size)

    def _refine(self, out, cams, people, camera, stamp=None):
        """Fit `out`'s pose, betas and translation to the people's keypoints (in place).

        Returns the RefineResult (its sizes and how many were turned to face the other way).
        """
        from hmr_models.fitting import so3
        from .model import camera_translation
        f32 = lambda x: x.detach().float().cpu().numpy()  # noqa: E731
        # each tracked person's fitted pose in the frame before, and the seconds since
        # (refine_continuity, refine_motion_sigma)
        track_ids = np.asarray(people.track_ids, np.int64)
        previous = np.full((len(people), 24, 3, 3), np.nan)
        elapsed = np.full(len(people), np.nan)
        for i, tid in enumerate(track_ids.tolist()):
            entry = self._poses.get(tid) if tid >= 0 else None
            if entry is not None and entry[0] == self._frame - 1:
                previous[i] = entry[2]
                if stamp is not None and entry[1] is not None:
                    elapsed[i] = float(stamp) - entry[1]
        res = self.refiner.refine(f32(out.pose), f32(out.betas),
                                  f32(camera_translation(out, cams)), people.keypoints,
                                  people.keypoint_scores, people.boxes, camera,
                                  previous_pose=previous, elapsed=elapsed)
        rotations = so3.exp(np.asarray(res.pose, np.float64).reshape(-1, 24, 3))
        for i, tid in enumerate(track_ids.tolist()):
            if tid >= 0:
                self._poses[tid] = (self._frame, stamp, rotations[i])
        t = lambda a: torch.as_tensor(a, device=out.pose.device)  # noqa: E731
        out.pose, out.betas, out.translation = t(res.pose), t(res.betas), t(res.translation)
        out.rotmats = None       # stale: the refined pose is in `pose`
        return res

    def _lifted_output(self, track_ids, fresh, images, kp_t, ok_t, sc_t, cams):
        """Lifter estimate + image corrections, the image part for a bounded share of people.

        `fresh` (N,) bool: who gets the image part this frame (_needs_image); `images` their
        crops, in order.

        With image_correction_interval k > 1, the keypoint lifter runs for everybody every
        frame, the image part for n / k people per frame on average (spread over frames: one
        person alone gets it every k-th frame), and never for more than max(1, ceil(n / k)) in
        one frame, so a crowd or a burst of new people does not make one frame slow. Who gets
        it: new tracks first, then the tracks with the oldest corrections, then untracked people
        (they cannot reuse it). The others reuse their track's latest corrections; a person
        without any yet has the lifter's estimate (zero corrections) until their turn.
        """
        idx_f, idx_r = np.nonzero(fresh)[0], np.nonzero(~fresh)[0]
        parts = []
        if idx_f.size:
            sel = torch.as_tensor(idx_f, device=self.device)
            lifted, corr = self.network.lifted_and_corrections(
                images, kp_t[sel], ok_t[sel], sc_t[sel], cams.select(sel))
            parts.append((idx_f, lifted, corr))
            for j, i in enumerate(idx_f):
                if track_ids[i] >= 0 and self.image_correction_interval > 1:
                    rows = {k: v[j:j + 1] for k, v in corr.items()}
                    self._corrections[int(track_ids[i])] = [rows, self._frame, self._frame]
        if idx_r.size:
            sel = torch.as_tensor(idx_r, device=self.device)
            lifted = self.network.lifted(kp_t[sel], ok_t[sel], sc_t[sel], cams.select(sel))
            rows = []
            for j, i in enumerate(idx_r):
                entry = self._corrections.get(int(track_ids[i]))
                if entry is None:                  # no image pass yet: the lifter alone
                    rows.append({k: torch.zeros_like(v[j:j + 1]) for k, v in lifted.items()})
                else:
                    entry[2] = self._frame
                    rows.append(entry[0])
            corr = {k: torch.cat([r[k] for r in rows]) for k in _LIFTED}
            parts.append((idx_r, lifted, corr))
        order = np.argsort(np.concatenate([p[0] for p in parts]))
        index = torch.as_tensor(order, device=self.device)
        lifted = {k: torch.cat([p[1][k] for p in parts])[index] for k in _LIFTED}
        corr = {k: torch.cat([p[2][k] for p in parts])[index] for k in _LIFTED}
        return self.model.combine(lifted, corr)

    def _needs_image(self, track_ids):
        """(N,) bool: who gets the image part this frame (see _lifted_output)."""
        k, n = self.image_correction_interval, len(track_ids)
        if k == 0:                       # never: the keypoint lifter alone
            return np.zeros(n, bool)
        if k == 1:
            return np.ones(n, bool)
        # Priority by the age of the person's corrections (frames): new tracks first (inf),
        # untracked people and repeats of an id in this frame last (-1).
        age = np.full(n, -1.0)
        seen = set()
        for i, tid in enumerate(track_ids.tolist()):
            if tid >= 0 and tid not in seen:
                entry = self._corrections.get(tid)
                age[i] = np.inf if entry is None else self._frame - entry[1]
            seen.add(tid)
        # n / k per frame on average, spread evenly (n = 1, k = 3: 0, 0, 1, ...); at least one
        # when a new track waits
        f = self._frame
        share = (f * n) // k - ((f - 1) * n) // k
        if np.isinf(age).any():
            share = max(share, 1)
        fresh = np.zeros(n, bool)
        fresh[np.argsort(-age, kind='stable')[:share]] = True
        return fresh

    def _forget_old_tracks(self, frames=30):
        """Drop what tracks unseen for more than `frames` frames carry."""
        for store, seen in ((self._corrections, 2), (self._poses, 0)):
            for t in [t for t, e in store.items() if self._frame - e[seen] > frames]:
                del store[t]

    @torch.inference_mode()
    def lift(self, people, camera):
        """BodyEstimate of the model's keypoint lifter alone (no image: DPMesh's starting point).

        For data generation at scale (the lifter is most of a lifted DPMesh's accuracy and
        needs no rendering); `camera` is the image's CameraIntrinsics.
        """
        from hmr_models.frontend.crops import crop_geometry
        from .model import lifter_output
        self._check(people)
        if self.model.keypoint_lifter is None:
            raise ValueError('this DPMesh checkpoint has no keypoint lifter '
                             f'(pose head {self.config.pose_head.type!r})')
        if len(people) == 0:
            return self._empty()
        crops = crop_geometry(people.boxes, size=self.config.crop_size)
        kp_t, ok_t, sc_t, cams, scores = self._inputs(crops, people, camera)
        out = lifter_output(self.model.lift(kp_t, ok_t, cams, sc_t), self.config.camera_mode)
        self.model.pose_body(out, cams, self.body)
        return self._estimate(out, scores)


_LIFTED = ('root6d', 'body6d', 'betas', 'camera')
_CAMERA_INPUTS = ('focal', 'principal', 'box_center', 'box_size')


def _cameras(focal, principal, box_center, box_size):
    return CropCameras(focal, principal, box_center, box_size, image_to_crop=None)


class _Parameters(torch.nn.Module):
    """DPMesh inputs -> (pose, betas, camera): any profile, tensors only (ONNX export)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images, keypoints, valid, scores, focal, principal, box_center, box_size):
        out = self.model(images, keypoints, valid > 0.5, scores=scores,
                         cameras=_cameras(focal, principal, box_center, box_size))
        return out.pose, out.betas, out.camera


class _LiftedAndCorrections(torch.nn.Module):
    """Lifted profiles: inputs -> the lifter's estimate and the image's corrections."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images, keypoints, valid, scores, focal, principal, box_center, box_size):
        valid = valid > 0.5
        lifted = self.model.lift(keypoints, valid,
                                 _cameras(focal, principal, box_center, box_size), scores)
        corr = self.model.image_corrections(images, keypoints, valid)
        return tuple(lifted[k] for k in _LIFTED) + tuple(corr[k] for k in _LIFTED)


class _Lifted(torch.nn.Module):
    """Lifted profiles: keypoints, scores and box -> the lifter's estimate (no image).

    It holds the lifter alone, so its export's cache key does not depend on the backbone
    (built or not: DPMesh.defer_backbone).
    """

    def __init__(self, model):
        super().__init__()
        self.keypoint_lifter = model.keypoint_lifter

    def forward(self, keypoints, valid, scores, focal, principal, box_center, box_size):
        lifted = lift(self.keypoint_lifter, keypoints, valid > 0.5,
                      _cameras(focal, principal, box_center, box_size), scores)
        return tuple(lifted[k] for k in _LIFTED)


class TorchNetwork:
    """The DPMesh network run by torch (the predictor's interface to it).

    cuda_graphs: each call replays a CUDA graph per padded number of people
    (hmr_models.cuda_graphs; backend 'cuda_graphs'); on a CPU the same padding runs eagerly.
    """

    def __init__(self, model, cuda_graphs=False):
        self.model = model
        self.graphs = None
        if cuda_graphs:
            from hmr_models.cuda_graphs import GraphedCallable
            capture = next(model.parameters()).is_cuda
            if model.splits:
                modules = {'lifted_and_corrections': _LiftedAndCorrections, 'lifted': _Lifted}
            else:
                modules = {'parameters': _Parameters}
            self.graphs = {name: GraphedCallable(
                module(model).eval(), [True] * (7 if name == 'lifted' else 8), capture=capture,
                name=f'DPMesh {name}') for name, module in modules.items()}

    def parameters(self, images, kp, ok, sc, cams):
        if self.graphs is None:
            return self.model(images, kp, ok, cameras=cams, scores=sc)
        pose, betas, camera = self.graphs['parameters'](images, *_graph_inputs(kp, ok, sc, cams))
        return DPMeshOutput(pose=pose, rotmats=None, betas=betas, camera=camera,
                            joint_coords=None, features=None)

    def lifted_and_corrections(self, images, kp, ok, sc, cams):
        if self.graphs is not None:
            out = self.graphs['lifted_and_corrections'](images, *_graph_inputs(kp, ok, sc, cams))
            return {k: v.float() for k, v in zip(_LIFTED, out[:4])}, dict(zip(_LIFTED, out[4:]))
        lifted = self.model.lift(kp, ok, cams, sc)
        return {k: lifted[k].float() for k in _LIFTED}, \
            self.model.image_corrections(images, kp, ok)

    def lifted(self, kp, ok, sc, cams):
        if self.graphs is not None:
            out = self.graphs['lifted'](*_graph_inputs(kp, ok, sc, cams))
            return {k: v.float() for k, v in zip(_LIFTED, out)}
        lifted = self.model.lift(kp, ok, cams, sc)
        return {k: lifted[k].float() for k in _LIFTED}


def _float32_cpu(model):
    """`model` if it is float32 on the CPU, else such a copy of it (what an export is made of)."""
    p = next(model.parameters())
    if p.device.type == 'cpu' and p.dtype == torch.float32:
        return model
    return copy.deepcopy(model).float().cpu().eval()


def _graph_inputs(kp, ok, sc, cams):
    """The tensor-only modules' inputs after the images (valid as 0/1 of the keypoints' dtype)."""
    return (kp, ok.to(kp.dtype), sc, cams.focal, cams.principal, cams.box_center,
            cams.box_size)


class OnnxNetwork:
    """The DPMesh network run by onnxruntime (or its TensorRT provider), same interface.

    Lifted profiles export two graphs (lifter + image corrections, and the lifter alone), other
    profiles one graph (inputs -> parameters). The lifted profiles' image graph is loaded only
    once something needs it (`prepare_image_part`): on a CPU the image part never runs by
    default, and loading its session took 12 of the node's 47 s start on 2 cores.
    """

    def __init__(self, runners, device, image_part=None):
        self.runners = runners
        self.device = device
        self._image_part = image_part   # (make the 'full' OnnxRunner, torch model), not made yet
        self._image_fallback = None     # TorchNetwork when that graph could not be exported
        self._image_lock = threading.Lock()

    @property
    def image_part_ready(self):
        return self._image_part is None

    def prepare_image_part(self):
        """Export or load the lifter + image corrections graph now, if not done yet."""
        from hmr_models.onnx_runner import ExportError
        with self._image_lock:
            if self._image_part is None:
                return
            make, model = self._image_part
            try:
                self.runners['full'] = make()
            except ExportError as exc:
                log.warning('the DPMesh image part runs with torch: onnxruntime could not use '
                            'it (%s)', exc)
                model.ensure_backbone()
                self._image_fallback = TorchNetwork(model)
            self._image_part = None

    @classmethod
    def create(cls, model, runtime, batch=2):
        """An OnnxNetwork of `model` (float32, CPU), or None when it cannot be exported."""
        from hmr_models.onnx_runner import ExportError, OnnxRunner
        cfg = model.config
        k, size = cfg.num_keypoints, cfg.crop_size
        images = torch.zeros(batch, 3, size, size)
        keypoints = (torch.full((batch, k, 2), 0.5), torch.ones(batch, k), torch.ones(batch, k))
        cameras = (torch.full((batch, 2), 1000.0), torch.full((batch, 2), 400.0),
                   torch.full((batch, 2), 420.0), torch.full((batch,), 300.0))
        image_inputs = ['images', 'keypoints', 'valid', 'scores', *_CAMERA_INPUTS]
        image_part = None
        try:
            if model.splits:
                outs = [f'lifted_{n}' for n in _LIFTED] + [f'corr_{n}' for n in _LIFTED]

                def make_image_part():
                    # Made later, when the predictor has moved the model to its device.
                    model.ensure_backbone()
                    source = _float32_cpu(model)
                    return OnnxRunner(_LiftedAndCorrections(source).eval(),
                                      (images, *keypoints, *cameras), image_inputs, outs,
                                      {n: {0: 'people'} for n in image_inputs + outs}, runtime,
                                      f'dpmesh_{cfg.profile}')
                names = image_inputs[1:]
                lifted_outs = [f'lifted_{n}' for n in _LIFTED]
                lifter = OnnxRunner(_Lifted(model).eval(), (*keypoints, *cameras), names,
                                    lifted_outs, {n: {0: 'people'} for n in names + lifted_outs},
                                    runtime, f'dpmesh_{cfg.profile}_lifter')
                runners, image_part = {'lifter': lifter}, (make_image_part, model)
            else:
                outs = ['pose', 'betas', 'camera']
                runners = {'parameters': OnnxRunner(
                    _Parameters(model).eval(), (images, *keypoints, *cameras), image_inputs,
                    outs, {n: {0: 'people'} for n in image_inputs + outs}, runtime,
                    f'dpmesh_{cfg.profile}')}
        except ExportError as exc:
            log.warning('DPMesh runs with torch: the %s backend could not use it (%s)',
                        runtime.backend, exc)
            return None
        return cls(runners, runtime.torch_device, image_part)

    @property
    def paths(self):
        return [r.path for r in self.runners.values()]

    def _feeds(self, kp, ok, sc, cams, images=None):
        feeds = dict(keypoints=kp.float(), valid=ok.float(), scores=sc.float(),
                     focal=cams.focal, principal=cams.principal, box_center=cams.box_center,
                     box_size=cams.box_size)
        if images is not None:
            feeds['images'] = images.float()
        return feeds

    def _tensors(self, arrays):
        return [torch.from_numpy(a).to(self.device) for a in arrays]

    def parameters(self, images, kp, ok, sc, cams):
        pose, betas, camera = self._tensors(self.runners['parameters'](
            **self._feeds(kp, ok, sc, cams, images)))
        return DPMeshOutput(pose=pose, rotmats=None, betas=betas, camera=camera,
                            joint_coords=None, features=None)

    def lifted_and_corrections(self, images, kp, ok, sc, cams):
        self.prepare_image_part()
        if self._image_fallback is not None:
            return self._image_fallback.lifted_and_corrections(images, kp, ok, sc, cams)
        out = self._tensors(self.runners['full'](**self._feeds(kp, ok, sc, cams, images)))
        return dict(zip(_LIFTED, out[:4])), dict(zip(_LIFTED, out[4:]))

    def lifted(self, kp, ok, sc, cams):
        return dict(zip(_LIFTED, self._tensors(self.runners['lifter'](
            **self._feeds(kp, ok, sc, cams)))))
