"""A 2D detector's errors, simulated on ground-truth keypoints (what the front-end outputs).

Per person and frame, following how top-down keypoint detectors fail in crowds:

- the person is missed with a probability that grows with occlusion (and always when almost
  nothing is visible or it is tiny);
- visible keypoints jitter with a per-keypoint spread proportional to the person's scale
  (COCO's OKS sigmas times sqrt(box area), the scale in which keypoint errors are measured);
- occluded keypoints are often missing, otherwise guessed with a larger error and a lower
  score, and when another person hides them the detector often grabs that neighbour's
  keypoint instead;
- left and right get swapped (the whole body, e.g. for people seen from behind, or one limb);
- keypoints outside the image are missing or clamped to the border with a low score;
- the box is the keypoints' ground-truth box with edge jitter.

Output is :class:`hmr_models.types.People` (NaN keypoints with score 0 where missing) plus the
error type of each keypoint for analysis and tests.

Calibrated to MoveNet: ``calibrated_config()`` (or ``DetectorNoiseConfig.from_stats(path)``)
returns a config whose visible-keypoint spreads, wrong-keypoint rates and scores are MoveNet
Lightning's, measured against a multi-view reference (``hmr_models.eval.detector_stats``,
``benchmarks/eval_real.py --detector-stats``; the shipped statistics are in
``hmr_models/assets/detectors/movenet_lightning_errors.json``). The call is the same:
``simulate_detections(keypoints, codes, occluder, image_size, rng, calibrated_config())``.
Left/right swaps (whole body, one limb pair) come from the same statistics where enough people
could be judged. What the multi-view data cannot measure (person misses, occluded keypoints,
neighbour grabs: too few occluded samples) keeps the defaults.
"""
from dataclasses import dataclass, field
import json
from pathlib import Path

import numpy as np

from hmr_models.config import Config
from hmr_models.skeleton import COCO17_FLIP
from hmr_models.types import People

from .visibility import OTHER, OUT_OF_FRAME

# COCO keypoint OKS sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
COCO_SIGMAS = np.array([.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062,
                        .107, .107, .087, .087, .089, .089])
# Left/right limb pairs (COCO indices) that a detector may swap one at a time.
LIMB_PAIRS = (((5, 7, 9), (6, 8, 10)), ((11, 13, 15), (12, 14, 16)), ((1, 3), (2, 4)))
# A measured swap rate (from_stats) replaces the hand-set one only from this many person-views.
MIN_SWAP_SAMPLES = 200

# Error type per keypoint.
OK, JITTER_OCCLUDED, MISSING, GRABBED, SWAPPED, CLAMPED = 0, 1, 2, 3, 4, 5


@dataclass
class DetectorNoiseConfig(Config):
    """Rates and spreads of the simulated detector (probabilities per person or keypoint)."""

    jitter: float = field(default=0.6, metadata={
        'help': 'x COCO sigma x scale, per axis, visible keypoints'})
    occluded_jitter: float = field(default=2.5, metadata={
        'help': 'same for occluded keypoints the detector guesses'})
    p_miss_person: float = field(default=0.02, metadata={
        'help': 'even fully visible people are sometimes missed'})
    p_miss_occluded: float = field(default=0.8, metadata={
        'help': '... rising to this when nothing is visible'})
    min_visible: float = field(default=0.15, metadata={
        'help': 'fewer visible keypoints than this: always missed'})
    min_height_px: float = field(default=24.0, metadata={'help': 'smaller people: always missed'})
    p_missing_occluded: float = field(default=0.45, metadata={
        'help': 'occluded keypoint reported missing'})
    p_grab: float = field(default=0.35, metadata={
        'help': "occluded by a person: take the neighbour's keypoint"})
    p_swap_all: float = field(default=0.03, metadata={'help': 'whole-body left/right swap'})
    p_swap_limb: float = field(default=0.02, metadata={'help': 'per limb pair'})
    p_missing_visible: float = 0.01
    p_clamp_outside: float = field(default=0.25, metadata={
        'help': 'out-of-frame keypoint clamped to the border'})
    box_jitter: float = field(default=0.04, metadata={'help': 'x box size, per edge'})
    score_threshold: float = field(default=0.05, metadata={
        'help': 'keypoints scored below this are reported missing'})
    visible_sigma: tuple = field(default=(), metadata={
        'help': 'Per-keypoint calibration (17 values each; empty = the scalar rules above). '
                'Spreads are per axis in units of sqrt(box area) and replace jitter x COCO sigma '
                'for visible keypoints.'})
    p_wrong_visible: tuple = field(default=(), metadata={
        'help': 'a visible keypoint lands elsewhere (another limb, clutter)'})
    wrong_spread: float = field(default=0.35, metadata={
        'help': '... that far off (x sqrt(box area), per axis)'})
    score_visible: float = field(default=0.95, metadata={
        'help': 'typical score of a well placed visible keypoint'})
    score_wrong: float = field(default=0.45, metadata={'help': '... and of a wrong one'})

    @classmethod
    def from_stats(cls, stats, reference_views=2.5, **overrides):
        """A config calibrated on measured detector statistics (JSON path or dict).

        The statistics come from hmr_models.eval.detector_stats: errors against a reference
        triangulated from other views. Statistics marked `reference_corrected` had the
        reference's own error removed there, keypoint by keypoint, from the cameras' geometry;
        older ones are deconvolved here as if the reference came from `reference_views` views
        of the same spread.
        """
        if not isinstance(stats, dict):
            stats = json.loads(Path(stats).read_text())
        names = stats['keypoints']
        vis = stats['per_joint']['visible']
        pooled = vis['all']
        deconvolve = 1.0 if stats.get('reference_corrected') else \
            np.sqrt(reference_views / (reference_views + 1.0))

        def num(v):
            return float('nan') if v is None else float(v)

        def per_kp(key, fallback):
            vals = [num(vis.get(n, {}).get(key)) for n in names]
            return tuple(v if np.isfinite(v) else num(fallback) for v in vals)
        sigma = tuple(s * deconvolve for s in per_kp('sigma', pooled['sigma']))
        wrong = per_kp('outlier', pooled['outlier'])
        values = dict(visible_sigma=sigma, p_wrong_visible=wrong)
        for key, field_name in (('missing', 'p_missing_visible'), ('score_inlier', 'score_visible'),
                                ('score_outlier', 'score_wrong')):
            if np.isfinite(num(pooled.get(key))):
                values[field_name] = num(pooled[key])
        if np.isfinite(num(pooled.get('outlier_median'))):
            values['wrong_spread'] = float(pooled['outlier_median']) / np.sqrt(2.0)
        swaps = stats.get('swaps') or {}
        for key, field_name in (('body', 'p_swap_all'), ('limb', 'p_swap_limb')):
            measured = swaps.get(key) or {}
            if measured.get('n', 0) >= MIN_SWAP_SAMPLES and np.isfinite(num(measured['rate'])):
                values[field_name] = num(measured['rate'])
        values.update(overrides)
        return cls(**values)


CALIBRATION_FILE = 'detectors/movenet_lightning_errors.json'


def calibrated_config(**overrides):
    """DetectorNoiseConfig calibrated on MoveNet Lightning's real errors (bundled statistics).

    Same use as DetectorNoiseConfig(); any field can be overridden.
    """
    from hmr_models.paths import asset
    return DetectorNoiseConfig.from_stats(asset(CALIBRATION_FILE), **overrides)


def _scores(err, sigma, rng, base, spread):
    """Confidence that falls with the error measured in OKS units."""
    oks = np.exp(-err ** 2 / (2.0 * np.maximum(sigma, 1e-6) ** 2 * 4.0))
    return np.clip(base * (0.5 + 0.5 * oks) + rng.normal(0.0, spread, err.shape), 0.0, 1.0)


def simulate_detections(keypoints, codes, occluder, image_size, rng, config=None, boxes=None):
    """Detector output for the people of one frame.

    Args:
        keypoints: (P, 17, 2) ground-truth COCO-17 pixels.
        codes: (P, 17) occlusion codes (:mod:`.visibility`).
        occluder: (P, 17) index of the person hiding each keypoint (-1: none).
        image_size: (width, height).
        rng: numpy Generator.
        config: DetectorNoiseConfig.
        boxes: (P, 4) amodal ground-truth boxes (default: from the keypoints).
    Returns:
        (People with the detected persons (track_ids = ground-truth index), error types
        (P, 17) uint8 for all P people, detected (P,) bool).
    """
    cfg = config or DetectorNoiseConfig()
    gt = np.asarray(keypoints, np.float64)
    codes = np.asarray(codes)
    p = gt.shape[0]
    w, h = image_size
    if boxes is None:
        boxes = np.concatenate([gt.min(1), gt.max(1)], -1)
    boxes = np.asarray(boxes, np.float64)
    bw = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    bh = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    scale = np.sqrt(bw * bh)                                    # COCO's s = sqrt(area)
    visible = codes == 0
    vis_frac = visible.mean(1) if p else np.zeros(0)
    # Person-level misses.
    p_miss = cfg.p_miss_person + (cfg.p_miss_occluded - cfg.p_miss_person) * (1 - vis_frac) ** 2
    detected = (rng.random(p) >= p_miss) & (vis_frac >= cfg.min_visible) \
        & (bh >= cfg.min_height_px)

    sigma = cfg.jitter * COCO_SIGMAS[None] * scale[:, None]   # (P, 17) px
    visible_sigma = sigma
    if len(cfg.visible_sigma):
        visible_sigma = np.asarray(cfg.visible_sigma, np.float64)[None] * scale[:, None]
    out = gt + rng.normal(0.0, 1.0, gt.shape) * visible_sigma[..., None]
    etype = np.zeros((p, 17), np.uint8)
    wrong = np.zeros((p, 17), bool)
    if len(cfg.p_wrong_visible):
        wrong = visible & (rng.random((p, 17)) < np.asarray(cfg.p_wrong_visible)[None])
        spread = cfg.wrong_spread * scale[:, None, None]
        out = np.where(wrong[..., None], gt + rng.normal(0.0, 1.0, gt.shape) * spread, out)
        etype[wrong] = JITTER_OCCLUDED
    occluded = ~visible & (codes & OUT_OF_FRAME == 0)
    guess = occluded & (rng.random((p, 17)) >= cfg.p_missing_occluded)
    out = np.where(guess[..., None],
                   gt + rng.normal(0.0, 1.0, gt.shape) * (sigma * cfg.occluded_jitter /
                                                          cfg.jitter)[..., None], out)
    etype[guess] = JITTER_OCCLUDED
    missing = (occluded & ~guess) | (visible & (rng.random((p, 17)) < cfg.p_missing_visible))
    # Keypoints grabbed from the person in front.
    grab = guess & ((codes & OTHER) > 0) & (occluder >= 0) & (rng.random((p, 17)) < cfg.p_grab)
    if grab.any():
        pi, ki = np.nonzero(grab)
        src = occluder[pi, ki].astype(int)
        # Same keypoint of the neighbour, or its mirror twin (the neighbour faces either way).
        twin = np.where(rng.random(len(ki)) < 0.5, ki, COCO17_FLIP[ki])
        out[pi, ki] = gt[src, twin] + rng.normal(0.0, 1.0, (len(ki), 2)) * \
            sigma[src, twin][:, None]
        etype[pi, ki] = GRABBED
    # Outside the image: missing, or clamped to the border.
    outside = (codes & OUT_OF_FRAME) > 0
    clamp = outside & (rng.random((p, 17)) < cfg.p_clamp_outside)
    out[..., 0] = np.where(clamp, np.clip(out[..., 0], 0, w - 1), out[..., 0])
    out[..., 1] = np.where(clamp, np.clip(out[..., 1], 0, h - 1), out[..., 1])
    etype[clamp] = CLAMPED
    missing |= outside & ~clamp
    etype[missing] = MISSING

    err = np.linalg.norm(out - gt, axis=-1)
    kp_sigma = COCO_SIGMAS[None] * scale[:, None]
    score = np.where(visible, _scores(err, kp_sigma, rng, cfg.score_visible, 0.04),
                     _scores(err, kp_sigma, rng, 0.45, 0.08))
    if wrong.any():
        score = np.where(wrong, np.clip(cfg.score_wrong + rng.normal(0.0, 0.08, err.shape),
                                        0.0, 1.0), score)
    score = np.where(clamp, score * 0.3, score)
    # Left/right swaps: positions and scores move together.
    for i in range(p):
        if rng.random() < cfg.p_swap_all:
            out[i], score[i], missing[i] = (out[i][COCO17_FLIP], score[i][COCO17_FLIP],
                                            missing[i][COCO17_FLIP])
            etype[i][(etype[i] == OK) & (COCO17_FLIP != np.arange(17))] = SWAPPED
            continue
        for left, right in LIMB_PAIRS:
            if rng.random() < cfg.p_swap_limb:
                lr, rl = list(left) + list(right), list(right) + list(left)
                out[i, lr], score[i, lr], missing[i, lr] = out[i, rl], score[i, rl], \
                    missing[i, rl]
                etype[i, lr] = np.where(etype[i, lr] == OK, SWAPPED, etype[i, lr])
    missing |= score < cfg.score_threshold
    etype[missing] = MISSING
    out[missing] = np.nan
    score[missing] = 0.0

    # Boxes: ground truth with edge jitter, clipped to the image.
    jit = rng.normal(0.0, cfg.box_jitter, (p, 4)) * np.stack([bw, bh, bw, bh], -1)
    det_boxes = boxes + jit
    det_boxes[:, [0, 2]] = np.clip(det_boxes[:, [0, 2]], 0, w - 1)
    det_boxes[:, [1, 3]] = np.clip(det_boxes[:, [1, 3]], 0, h - 1)
    person_score = np.clip(0.5 + 0.45 * vis_frac + rng.normal(0, 0.05, p), 0.05, 1.0)
    keep = np.flatnonzero(detected)
    people = People(boxes=det_boxes[keep].astype(np.float32),
                    scores=person_score[keep].astype(np.float32),
                    keypoints=out[keep].astype(np.float32),
                    keypoint_scores=score[keep].astype(np.float32),
                    track_ids=keep.astype(np.int64))
    return people, etype, detected
