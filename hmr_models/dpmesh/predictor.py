"""DPMeshPredictor: one image + the front-end's people -> SMPL bodies, one batched forward.

    predictor = DPMeshPredictor(model, body, runtime)
    estimate = predictor.predict(image_rgb, people, camera)      # BodyEstimate, N people

Steps: square crops around the people (front-end `make_crops`), COCO-17 keypoints into the
crop (and into the model's keypoint set), heatmaps, one DPMesh forward for all N crops, CLIFF
translation with the camera (focal = image diagonal when `camera` is None), SMPL through the
body model. Timings of the last call are in `last_timings_ms`.
"""
import logging
import time

import numpy as np
import torch

from hmr_models.runtime import Runtime
from hmr_models.types import BodyEstimate, CameraIntrinsics, NUM_JOINTS, People

from .keypoints import from_coco17, scores_from_coco17
from .model import CropCameras, prepare_images

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


class DPMeshPredictor:
    """Runs a DPMesh model on all people of a frame (see module docstring)."""

    def __init__(self, model, body, runtime=None, keypoint_threshold=0.2):
        runtime = runtime or Runtime()
        if runtime.backend != 'torch':
            raise ValueError(f"DPMesh runs on the 'torch' backend; backend "
                             f"'{runtime.backend}' is not supported for it yet")
        self.runtime = runtime
        self.device = runtime.torch_device
        self.dtype = runtime.torch_dtype
        self.model = model.to(self.device, self.dtype).eval()
        # SMPL stays in float32: fp16 LBS loses millimetres on large translations.
        self.body = body.to(self.device)
        self.keypoint_threshold = float(keypoint_threshold)
        self.last_timings_ms = {}

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

    def _estimate(self, out, scores):
        f32 = lambda x: x.detach().float().cpu().numpy().astype(np.float32)  # noqa: E731
        return BodyEstimate(pose=f32(out.pose), betas=f32(out.betas),
                            translation=f32(out.translation), joints=f32(out.joints),
                            joint_confidence=joint_confidence(scores),
                            vertices=f32(out.vertices), temporal=False,
                            body_model=self.body.name, model_profile=self.config.profile)

    @torch.inference_mode()
    def predict(self, image_rgb, people, camera=None):
        """BodyEstimate for `people` (front-end output) in `image_rgb` (H, W, 3) uint8."""
        from hmr_models.frontend.crops import make_crops
        self._check(people)
        image_rgb = np.asarray(image_rgb)
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError('image_rgb must be an (H, W, 3) uint8 RGB image, got '
                             f'{image_rgb.shape} {image_rgb.dtype}')
        if len(people) == 0:
            self.last_timings_ms = {}
            return self._empty()
        h, w = image_rgb.shape[:2]
        if camera is None:
            camera = CameraIntrinsics.from_image_diagonal(w, h)
        cfg = self.config
        t0 = time.perf_counter()
        crops = make_crops(image_rgb, people.boxes, size=cfg.crop_size)
        kp_t, ok_t, sc_t, cams, scores = self._inputs(crops, people, camera)
        images = prepare_images(crops.images, cfg.image_range, self.device, self.dtype)
        t1 = time.perf_counter()
        # cameras and scores: the keypoint lifter's box and confidence inputs
        out = self.model(images, kp_t, ok_t, cameras=cams, scores=sc_t)
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        self.model.pose_body(out, cams, self.body)
        t3 = time.perf_counter()
        self.last_timings_ms = {'prepare': 1e3 * (t1 - t0), 'dpmesh': 1e3 * (t2 - t1),
                                'body': 1e3 * (t3 - t2)}
        return self._estimate(out, scores)

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
