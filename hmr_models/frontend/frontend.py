"""`PersonFrontEnd`: one RGB image in, the people in it out (boxes, COCO-17 keypoints, ids).

Stages, each timed: person detector (NanoDet-m, unless the keypoint backend is one-stage) ->
drop tiny people -> cap at `max_people` -> keypoints per person -> clean keypoints -> drop
people with too little keypoint evidence and duplicates -> (optionally) tracker.
Every person removed on the way is counted in `FrontEndStats`, never silently lost.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
import logging
import time

import numpy as np

from hmr_models.frontend.config import FrontEndConfig
from hmr_models.frontend.boxes import box_area, box_intersection, box_iou, keypoint_similarity
from hmr_models.frontend.keypoints import create_backend, sanitize_keypoints
from hmr_models.frontend.occluders import grey_out_bodies
from hmr_models.frontend.scene_cut import SceneCutDetector
from hmr_models.frontend.tracker import Tracker
from hmr_models.types import People

log = logging.getLogger(__name__)
_WARN_EVERY_S = 10.0
TORSO = (5, 6, 11, 12)                    # COCO-17 shoulders and hips
LIMBS = (7, 8, 9, 10, 13, 14, 15, 16)     # elbows, wrists, knees, ankles
CLOSE_TORSO_KEYPOINTS = 3                 # a close person's evidence (close_person_fraction)
_GUIDE_MAX_OVERLAP = 0.3   # a predicted box overlapping a detection this much is that detection
_FAILED_SAME_PLACE = 0.6   # a weak candidate overlapping a failed one this much is that one again
_SAME_CROP = 0.5           # a box overlapping an expected box this much takes its keypoints
_HIPS = [11, 12]           # COCO-17
_LEGS = [13, 14, 15, 16]   # knees, ankles
# Only people this tall get a second look at their legs: on OpenCV's vtest.avi crowd (people of
# 60-120 px, whose crops MoveNet magnifies anyway) it ran 2.5 times a frame, on the bundled clip
# (players of 200-400 px) once every 5 frames.
_LEG_RETRY_MIN_HEIGHT_PX = 150.0


@dataclass
class FrontEndStats:
    """What happened to the candidate people of one image (or, summed, of a run)."""

    frames: int = 0
    detected: int = 0              # boxes from the detector (after NMS)
    guided: int = 0                # boxes where the tracker expected a person the detector missed
    guided_kept: int = 0           # ... in which the keypoint model found that person
    invalid_boxes: int = 0         # non-finite or empty boxes from a backend
    tiny_dropped: int = 0          # shorter than min_person_height_px
    capped: int = 0                # beyond max_people
    low_score_dropped: int = 0     # too little keypoint evidence (mean score or body evidence)
    duplicates_dropped: int = 0    # same person twice (keypoint similarity)
    parts_dropped: int = 0         # a box on part of a taller person (an arm, the legs)
    occluded_retried: int = 0      # keypoints estimated again with a better person greyed out
    occluded_replaced: int = 0     # ... and the new ones taken (still a body)
    legs_retried: int = 0          # keypoints estimated again on a crop of the lower body
    legs_replaced: int = 0         # ... and knees or ankles taken from it
    candidates_skipped: int = 0    # weak candidates where one failed recently (candidate_retry_s)
    detector_fallbacks: int = 0    # images between detector images where a tracked person was
    #                                not where expected, so the detector ran after all
    scene_cuts: int = 0            # images that start a new shot of an edited video (scene_cut)
    keypoints_nonfinite: int = 0   # NaN/inf keypoints or scores a backend returned (a fault)
    keypoints_outside: int = 0     # keypoints outside the image (people cut by the border)
    people: int = 0                # people returned
    timings_ms: dict = field(default_factory=dict)

    def add(self, other):
        """Accumulate another stats object (counters summed, timings summed)."""
        for f in fields(self):
            if f.name == 'timings_ms':
                for k, v in other.timings_ms.items():
                    self.timings_ms[k] = self.timings_ms.get(k, 0.0) + v
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def body_evidence(keypoint_scores, config, close=None):
    """(N,) bool: enough confident torso and limb keypoints to be a body (FrontEndConfig).

    close (N,) bool, optional: people close to the camera (close_person_fraction), who need
    CLOSE_TORSO_KEYPOINTS torso keypoints and no limb ones.
    """
    good = np.nan_to_num(keypoint_scores) >= config.body_keypoint_score
    torso, limbs = good[:, TORSO].sum(1), good[:, LIMBS].sum(1)
    out = (torso >= config.min_torso_keypoints) & (limbs >= config.min_limb_keypoints)
    if close is not None:
        out |= np.asarray(close, bool) & (torso >= max(CLOSE_TORSO_KEYPOINTS,
                                                       config.min_torso_keypoints))
    return out


def close_people(boxes, scores, image_height, config):
    """(N,) bool: confidently detected boxes at least close_person_fraction of the image tall."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if config.close_person_fraction <= 0:
        return np.zeros(len(boxes), bool)
    return ((boxes[:, 3] - boxes[:, 1] >= config.close_person_fraction * image_height)
            & (np.asarray(scores).reshape(-1) >= config.detector_score_threshold))


def duplicate_similarity(people, confident_score=0.3, min_common=4):
    """(N, N) similarity of the people's keypoints: the larger of two OKS.

    OKS over every keypoint both report, and OKS over the keypoints both report confidently
    (score >= confident_score, at least min_common of them): a second, smaller box on the same
    person (e.g. around the upper body) gives a crop in which MoveNet finds the same upper body
    but guesses other legs, so only the confident keypoints show it is one person.
    Both use the smaller box's area as the scale.
    """
    areas = box_area(people.boxes)
    scale = np.minimum(areas[:, None], areas[None, :])
    scores = np.nan_to_num(people.keypoint_scores)
    oks = np.nan_to_num(keypoint_similarity(people.keypoints, scores > 0, people.keypoints,
                                            scores > 0, scale))
    if min_common <= 0:
        return oks
    good = scores >= confident_score
    common = (good[:, None, :] & good[None, :, :]).sum(-1)
    strong = np.nan_to_num(keypoint_similarity(people.keypoints, good, people.keypoints, good,
                                               scale))
    return np.maximum(oks, np.where(common >= min_common, strong, 0.0))


SCORE_TOLERANCE = 0.05     # part_of_taller: detection scores this close are alike
OWN_FACE = 0.2             # part_of_taller: a face this far (x height) from the taller one's


def shows_face(keypoint_scores, confident_score=0.3):
    """Mask (N,) of people with a confident nose and eye (COCO-17 scores (N, 17))."""
    good = np.nan_to_num(keypoint_scores) >= confident_score
    return good[:, 0] & good[:, 1:3].any(1)


def nose_to_face(people, a, b):
    """How far B's nose lies from A's nearest face keypoint (nose, eyes, ears), x A's height.

    inf where B's nose or all of A's face keypoints are missing (NaN).
    """
    d = np.linalg.norm(people.keypoints[a, :5] - people.keypoints[b, 0], axis=-1)
    return float(np.nan_to_num(d, nan=np.inf).min() / (people.boxes[a, 3] - people.boxes[a, 1]))


def part_of_taller(people, confident_score=0.3, fraction=0.9, min_keypoints=4, inside=0.5,
                   height_ratio=0.8, radius=0.1, own_face=OWN_FACE):
    """Mask (N,) of people who are a part of a taller person, not somebody.

    A second box on an arm, the head and a raised arm, or the legs of a person gives a crop in
    which MoveNet lays a whole small skeleton over that part: its keypoints sit on the taller
    person's keypoints (the duplicate rule, OKS above duplicate_oks_threshold, did not catch
    these on Pose2Sim and the bundled clip). Person B is part of A when
    - B is at most `height_ratio` of A's height and at least `inside` of B's box lies in A's;
    - at least `fraction` of B's confident keypoints (at least `min_keypoints` of them) lie
      within `radius` x A's height of one of A's confident keypoints (somebody standing
      behind or in front has keypoints of their own: on Pose2Sim at most 0.6 of them near the
      other's, the parts 0.92-1.0);
    - at least `min_keypoints` of A's confident keypoints lie beyond B's box, the rest of A's
      body (4-9 for the parts on Pose2Sim and the bundled clip; 3 where the man's crop held
      the woman in front of him, her box inside his);
    - the detector is not surer of B than of A (within SCORE_TOLERANCE): it is less sure of a
      part (that woman scored 0.64 against his 0.49);
    - B has no face of its own: a confident nose and eye further than `own_face` x A's height
      from A's face (infinite: faces are not looked at). A part's crop holds A's own face or
      none (the legs); a child in front of a parent's legs, or a seated person in front of a
      standing one, lays its keypoints over A's lower half as a part does, but its face is at
      A's chest or hips (`benchmarks/check_part_rule.py`: the parts on the real clips and
      people pasted in front of others).
    """
    n = len(people)
    part = np.zeros(n, bool)
    if n < 2 or fraction <= 0:
        return part
    boxes = people.boxes
    heights = boxes[:, 3] - boxes[:, 1]
    good = np.nan_to_num(people.keypoint_scores) >= confident_score
    face_seen = shows_face(people.keypoint_scores, confident_score)
    # share of each box b inside each box a: [a, b]
    inside_share = box_intersection(boxes, boxes) / np.maximum(box_area(boxes), 1e-6)[None]
    for b in range(n):
        kb = people.keypoints[b][good[b]]
        if len(kb) < min_keypoints:
            continue
        for a in range(n):
            if a == b or heights[b] > height_ratio * heights[a] or not good[a].any() or \
                    people.scores[b] > people.scores[a] + SCORE_TOLERANCE:
                continue
            if inside_share[a, b] < inside:
                continue
            ka = people.keypoints[a][good[a]]
            reach = radius * heights[a]
            near = np.linalg.norm(kb[:, None] - ka[None], axis=-1).min(1) <= reach
            # and A's body goes on beyond B's box: else both hold one body's keypoints (A's
            # crop took the person in front of it), a duplicate, not a part
            beyond = ((ka[:, 0] < boxes[b, 0] - reach) | (ka[:, 0] > boxes[b, 2] + reach)
                      | (ka[:, 1] < boxes[b, 1] - reach) | (ka[:, 1] > boxes[b, 3] + reach))
            # B's own face elsewhere on A (at A's chest or hips): somebody in front of A
            face_apart = face_seen[b] and nose_to_face(people, a, b) > own_face
            if near.mean() >= fraction and beyond.sum() >= min_keypoints and not face_apart:
                part[b] = True
                break
    return part


def check_image(image_rgb):
    """Raise ValueError unless `image_rgb` is a uint8 (H, W, 3) numpy array."""
    if not isinstance(image_rgb, np.ndarray):
        raise ValueError(f'image must be a numpy array, got {type(image_rgb).__name__}')
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError('image must be uint8 RGB of shape (H, W, 3), got '
                         f'{image_rgb.dtype} {image_rgb.shape}; convert it to 8-bit RGB first')
    if image_rgb.shape[0] < 2 or image_rgb.shape[1] < 2:
        raise ValueError(f'image is too small: {image_rgb.shape}')
    return np.ascontiguousarray(image_rgb)


class PersonFrontEnd:
    """Detect people and their COCO-17 keypoints; optionally track them.

    `detect(image)` -> People (track_ids -1); `process(image, stamp)` -> People with track ids.
    `last_stats` describes the latest image, `totals` the whole run.
    """

    def __init__(self, config=None, runtime=None):
        self.config = config or FrontEndConfig()
        self.config.validate()
        self.runtime = runtime
        self.backend = create_backend(self.config, runtime)
        self.detector = None
        if self.backend.needs_boxes:
            from hmr_models.frontend.detector import NanoDetPersonDetector
            self.detector = NanoDetPersonDetector(
                self.config.detector_model_path, runtime,
                score_threshold=self.config.detector_candidate_threshold,
                nms_iou=self.config.detector_nms_iou,
                input_size=self.config.detector_input_size,
                precision=self.config.detector_precision)
        self._images = 0   # images processed with tracking (for detector_interval)
        self._detector_thread = None   # detector_beside_keypoints, started when first needed
        self.tracker = Tracker(self.config)
        self.scene_cuts = SceneCutDetector()
        # Weak candidates whose keypoints failed: boxes (M, 4) and stamps (M,) (process only).
        self._failed_boxes, self._failed_stamps = np.zeros((0, 4), np.float32), np.zeros(0)
        self.last_stats = FrontEndStats()
        self.totals = FrontEndStats()
        self._last_warning = -float('inf')

    # Settings read afresh for every image, so they may change while the front-end runs (the
    # node's live ROS parameters); models, backends and paths are fixed at construction.
    LIVE_PARAMETERS = (
        'keypoint_score_threshold', 'min_mean_keypoint_score', 'duplicate_oks_threshold',
        'occluded_retry_oks', 'detector_score_threshold', 'detector_candidate_threshold',
        'candidate_min_mean_keypoint_score', 'detector_nms_iou', 'max_people', 'people_priority',
        'min_person_height_px', 'track_iou_weight', 'track_keypoint_weight',
        'track_match_threshold', 'track_min_hits', 'track_max_age_s',
        'track_reassociation_radius', 'track_velocity_smoothing', 'track_guided_max_s',
        'detector_interval', 'detector_fallback', 'scene_cut', 'detector_input_size',
        'candidate_retry_s', 'detector_beside_keypoints', 'leg_retry_score')

    def update_config(self, **changes):
        """Change live settings (LIVE_PARAMETERS); raises ValueError and keeps the old ones."""
        fixed = sorted(set(changes) - set(self.LIVE_PARAMETERS))
        if fixed:
            raise ValueError(f'{fixed} cannot change while the front-end runs')
        config = replace(self.config, **changes)   # validated by __post_init__
        if self.detector is not None:
            self.detector.score_threshold = config.detector_candidate_threshold
            self.detector.nms_iou = config.detector_nms_iou
            self.detector.input_size = config.detector_input_size
        self.tracker.config = config
        if config.scene_cut != self.config.scene_cut:
            self.scene_cuts.reset()     # its last image may be long gone: no cut against it
        self.config = config

    def reset(self):
        """A new stream: tracks (ids from the first again), the shot and failed candidates."""
        self.tracker = Tracker(self.config)
        self.scene_cuts.reset()
        self._failed_boxes, self._failed_stamps = np.zeros((0, 4), np.float32), np.zeros(0)

    def close(self):
        pool, self._detector_thread = self._detector_thread, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------------------------------------
    def detect(self, image_rgb):
        """People in a uint8 RGB image (H, W, 3): boxes, scores, keypoints; track_ids -1."""
        return self._detect(image_rgb)[0]

    def process(self, image_rgb, stamp):
        """detect() then the tracker: People with stable track ids (stamp in seconds).

        With `track_guided_max_s` > 0, tracked people the detector misses in this image are
        looked for where the tracker expects them (keypoints on the predicted box, kept only with
        candidate_min_mean_keypoint_score evidence), for at most that long without a detection.
        Their `scores` are their mean keypoint score instead of a detector score.
        """
        cfg = self.config
        cut = cfg.scene_cut and self.scene_cuts.is_cut(image_rgb)
        if cut:
            # a new shot: its people are not the last shot's, whoever stands where they stood
            self.tracker.reset()
        guide = None
        skip = False
        if self.backend.needs_boxes and cfg.detector_interval > 1 and \
                self._images % cfg.detector_interval:
            # Between detector images: look for the tracked people where they are expected
            # (tentative tracks too, or they would die unmatched); nobody tracked: detect.
            guide = self.tracker.guide(float(stamp), max(cfg.track_guided_max_s, 1e9),
                                       tentative=True)
            skip = len(guide[0]) > 0
        if not skip and cfg.track_guided_max_s > 0 and self.backend.needs_boxes:
            guide = self.tracker.guide(float(stamp), cfg.track_guided_max_s)
        expected = None
        if not skip and cfg.detector_beside_keypoints and self.detector is not None:
            expected = self.tracker.guide(float(stamp), 1e9, tentative=True)
        self._images += 1
        people, guided = self._detect(image_rgb, guide, run_detector=not skip,
                                      stamp=float(stamp), expected=expected)
        if skip and cfg.detector_fallback and self.last_stats.guided_kept < len(guide[0]):
            # Someone tracked was not where the tracker expected: they left, or the image is
            # not the next of the same scene (a cut in an edited video, a folder of photos).
            # Detect on this image after all, without guidance: in another scene the tracks'
            # boxes would find ghosts (keypoints of whatever is there now).
            people, guided = self._detect(image_rgb, None, run_detector=True,
                                          stamp=float(stamp), counted=self.last_stats)
        if cut:
            self.last_stats.scene_cuts = 1
            self.totals.scene_cuts += 1
            log.info('scene cut (%d so far): a new shot, its people get new track ids',
                     self.totals.scene_cuts)
        t0 = time.perf_counter()
        people = self.tracker.update(people, stamp, guided)
        dt = (time.perf_counter() - t0) * 1e3
        self.last_stats.timings_ms['tracking'] = dt
        self.totals.timings_ms['tracking'] = self.totals.timings_ms.get('tracking', 0.0) + dt
        return people

    def _detect(self, image_rgb, guide=None, run_detector=True, stamp=None, counted=None,
                expected=None):
        """(People, guided (N,) bool); guide = Tracker.guide() output or None.

        Without `run_detector` (detector_interval) the guide's boxes are the only candidates,
        and they need the keypoint evidence of a confident detection, not of a weak candidate.
        With a `stamp` (a stream), weak candidates where one failed recently are skipped.
        `counted`: the stats of a first pass over the same image (a detector fallback), already
        in the totals: this pass adds its time and one fallback, not another frame.
        `expected` (Tracker.guide() output, detector_beside_keypoints): the tracked people's
        expected boxes, whose keypoints are estimated while the detector runs.
        """
        image_rgb = check_image(image_rgb)
        cfg = self.config
        stats = FrontEndStats(frames=1)
        h, w = image_rgb.shape[:2]

        t0 = time.perf_counter()
        early, early_ms, detector_ms = None, 0.0, None
        if self.detector is not None and not run_detector:
            boxes, scores = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
            kps = kp_scores = None
        elif self.detector is not None:
            if expected is not None and len(expected[0]):
                boxes, scores, early, early_ms, detector_ms = self._detect_beside_keypoints(
                    image_rgb, expected[0])
            else:
                boxes, scores = self.detector.detect(image_rgb)
            kps = kp_scores = None
        else:
            boxes, scores, kps, kp_scores = self.backend.detect(image_rgb)
        t1 = time.perf_counter()
        stats.detected = len(boxes)

        # Boxes: finite, non-empty, clipped to the image; then tiny people out.
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        scores = np.nan_to_num(np.asarray(scores, np.float32).reshape(-1), nan=0.0)
        ok = np.isfinite(boxes).all(1)
        boxes = np.where(ok[:, None], boxes, 0.0)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        ok &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        stats.invalid_boxes = int((~ok).sum())
        tall = (boxes[:, 3] - boxes[:, 1]) >= cfg.min_person_height_px
        stats.tiny_dropped = int((ok & ~tall).sum())
        keep = np.nonzero(ok & tall)[0]

        # Cap: keep the best `max_people` by the configured priority, count the rest.
        priority = scores[keep] if cfg.people_priority == 'score' else box_area(boxes[keep])
        keep = keep[np.argsort(-priority, kind='stable')]
        stats.capped = max(0, keep.size - cfg.max_people)
        keep = keep[:cfg.max_people]
        boxes, scores = boxes[keep], scores[keep]
        weak = scores < cfg.detector_score_threshold
        remember = stamp is not None and self.detector is not None and cfg.candidate_retry_s > 0
        if remember and weak.any():
            again = weak & self._failed_here(boxes, stamp)
            stats.candidates_skipped = int(again.sum())
            boxes, scores, weak = boxes[~again], scores[~again], weak[~again]
        boxes, scores, guided, guide_kps = self._add_guided(boxes, scores, guide, w, h, stats)

        t2 = time.perf_counter()
        if kps is None:
            kps, kp_scores = self._estimate(image_rgb, boxes, early)
            kps, kp_scores = self._retry_occluded(image_rgb, boxes, scores, guided, kps,
                                                  kp_scores, stats)
            kps, kp_scores = self._retry_legs(image_rgb, boxes, kps, kp_scores, stats)
        else:
            kps, kp_scores = np.asarray(kps)[keep], np.asarray(kp_scores)[keep]
        t3 = time.perf_counter()

        kps, kp_scores, stats.keypoints_nonfinite, stats.keypoints_outside = \
            sanitize_keypoints(kps, kp_scores, w, h, cfg.keypoint_score_threshold)
        # Confident boxes need some keypoint evidence, weak candidates a lot of it.
        needed = np.where(scores >= cfg.detector_score_threshold, cfg.min_mean_keypoint_score,
                          cfg.candidate_min_mean_keypoint_score)
        if not run_detector:
            needed = np.full(len(scores), cfg.min_mean_keypoint_score)
        close = close_people(boxes, scores, h, cfg)
        confident = (kp_scores.mean(1) >= needed) & body_evidence(kp_scores, cfg, close)
        stats.low_score_dropped = int((~confident).sum())
        candidates = boxes[:len(weak)][weak]      # before _correct_guided moves guided boxes
        if guided.any():
            boxes, scores = self._correct_guided(boxes, scores, guided, kps, kp_scores, guide_kps)
            boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
            boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        people = People(boxes=boxes[confident], scores=scores[confident],
                        keypoints=kps[confident], keypoint_scores=kp_scores[confident],
                        track_ids=np.full(int(confident.sum()), -1, np.int64))
        people, guided = self._drop_duplicates(people, guided[confident], stats)
        whole = ~part_of_taller(people, cfg.body_keypoint_score, cfg.part_keypoint_fraction)
        stats.parts_dropped = int((~whole).sum())
        people, guided = people.select(np.nonzero(whole)[0]), guided[whole]
        stats.guided_kept = int(guided.sum())
        if remember and len(candidates):
            # failed: too little evidence, or the keypoints of someone already found
            kept = (candidates[:, None] == people.boxes[None]).all(-1).any(1)
            self._failed_boxes = np.concatenate([self._failed_boxes, candidates[~kept]])
            self._failed_stamps = np.concatenate([self._failed_stamps,
                                                  np.full(int((~kept).sum()), stamp)])
        t4 = time.perf_counter()

        stats.people = len(people)
        stats.timings_ms = {'detector': (t1 - t0) * 1e3, 'keypoints': (t3 - t2) * 1e3,
                            'postprocess': (t2 - t1 + t4 - t3) * 1e3}
        if detector_ms is not None:
            # side by side: each its own time (they overlap, so the stages add up to more)
            stats.timings_ms['detector'] = detector_ms
            stats.timings_ms['keypoints'] += early_ms
        if stats.keypoints_nonfinite or stats.invalid_boxes:
            self._warn('%s backend returned %d non-finite keypoints and %d invalid boxes '
                       '(set to missing / dropped; counted in totals)', self.backend.name,
                       stats.keypoints_nonfinite, stats.invalid_boxes)
        if counted is not None:
            # The same image again: one frame in the totals, both passes' time in its timings.
            self.totals.add(replace(stats, frames=0, detector_fallbacks=1))
            stats.detector_fallbacks = 1
            for k, v in counted.timings_ms.items():
                stats.timings_ms[k] = stats.timings_ms.get(k, 0.0) + v
        else:
            self.totals.add(stats)
        self.last_stats = stats
        return people, guided

    def _detect_beside_keypoints(self, image_rgb, expected_boxes):
        """The detector on its own thread, the keypoints of the expected people meanwhile.

        Returns the detector's boxes and scores, the early estimates (boxes, keypoints,
        scores) and both durations in ms. onnxruntime releases the interpreter lock while a
        model runs, so the two models run at once on two cores.
        """
        if self._detector_thread is None:
            self._detector_thread = ThreadPoolExecutor(1, thread_name_prefix='person_detector')

        def timed_detect():
            t = time.perf_counter()
            out = self.detector.detect(image_rgb)
            return out, (time.perf_counter() - t) * 1e3

        future = self._detector_thread.submit(timed_detect)
        t0 = time.perf_counter()
        h, w = image_rgb.shape[:2]
        boxes, usable = self._predicted_boxes(expected_boxes, w, h)
        boxes = boxes[usable][:self.config.max_people]
        kps, kp_scores = self.backend.estimate(image_rgb, boxes)
        early_ms = (time.perf_counter() - t0) * 1e3
        (det_boxes, det_scores), detector_ms = future.result()
        return det_boxes, det_scores, (boxes, kps, kp_scores), early_ms, detector_ms

    def _estimate(self, image_rgb, boxes, early=None):
        """Keypoints (N, 17, 2) and scores (N, 17) for `boxes`, reusing `early` estimates.

        A box overlapping an early box by IoU >= _SAME_CROP (each early box used once, best
        pairs first) takes its keypoints: the keypoint model saw nearly the same crop.
        """
        if early is None or len(early[0]) == 0 or len(boxes) == 0:
            return self.backend.estimate(image_rgb, boxes)
        from hmr_models.eval.tracking import greedy_match
        early_boxes, early_kps, early_scores = early
        iou = box_iou(np.asarray(boxes, np.float32).reshape(-1, 4), early_boxes)
        source = greedy_match(-iou, -_SAME_CROP)
        kps = np.zeros((len(boxes), 17, 2), np.float32)
        kp_scores = np.zeros((len(boxes), 17), np.float32)
        reused = source >= 0
        kps[reused], kp_scores[reused] = early_kps[source[reused]], early_scores[source[reused]]
        if (~reused).any():
            kps[~reused], kp_scores[~reused] = self.backend.estimate(image_rgb, boxes[~reused])
        return kps, kp_scores

    def _failed_here(self, boxes, stamp):
        """(N,) bool: a weak candidate failed at this box less than candidate_retry_s ago.

        Forgets older failures (and any from the future: a looped or restarted stream).
        """
        age = stamp - self._failed_stamps
        recent = (age >= 0) & (age < self.config.candidate_retry_s)
        self._failed_boxes, self._failed_stamps = self._failed_boxes[recent], \
            self._failed_stamps[recent]
        if not recent.any():
            return np.zeros(len(boxes), bool)
        return box_iou(boxes, self._failed_boxes).max(1) >= _FAILED_SAME_PLACE

    def _add_guided(self, boxes, scores, guide, w, h, stats):
        """Append the tracker's predicted boxes that no detection covers.

        They get score 0, so they need candidate-level keypoint evidence to be kept.
        Returns boxes, scores, the guided mask and the predicted keypoints (zeros for detections).
        """
        n = len(boxes)
        none = (boxes, scores, np.zeros(n, bool), np.zeros((n, 17, 2), np.float32))
        if guide is None or len(guide[0]) == 0:
            return none
        g_boxes, usable = self._predicted_boxes(guide[0], w, h)
        if n:
            usable &= box_iou(g_boxes, boxes).max(1) < _GUIDE_MAX_OVERLAP
        idx = np.nonzero(usable)[0]
        room = max(0, self.config.max_people - n)
        stats.guided = idx.size
        stats.capped += max(0, idx.size - room)
        idx = idx[:room]
        if idx.size == 0:
            return none
        kps = np.concatenate([none[3], np.asarray(guide[1], np.float32)[idx]])
        return (np.concatenate([boxes, g_boxes[idx]]),
                np.concatenate([scores, np.zeros(idx.size, np.float32)]),
                np.arange(n + idx.size) >= n, kps)

    def _predicted_boxes(self, boxes, w, h):
        """The tracker's predicted boxes clipped to a w x h image, and which are usable.

        Usable: not empty, and at least min_person_height_px tall.
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        usable = ((boxes[:, 3] - boxes[:, 1] >= max(self.config.min_person_height_px, 1.0))
                  & (boxes[:, 2] > boxes[:, 0]))
        return boxes, usable

    @staticmethod
    def _correct_guided(boxes, scores, guided, kps, kp_scores, predicted_kps):
        """Correct guided boxes by their keypoints and score them by keypoint evidence.

        Each box moves by the mean offset of its keypoints from where the tracker predicted them
        (the person may have turned or stopped).
        """
        boxes, scores = boxes.copy(), scores.copy()
        both = (kp_scores > 0) & np.isfinite(predicted_kps).all(-1) & guided[:, None]
        diff = np.where(both[..., None], kps - predicted_kps, 0.0)
        count = both.sum(1, keepdims=True)
        shift = np.where(count > 0, diff.sum(1) / np.maximum(count, 1), 0.0)
        boxes[guided] += np.tile(shift[guided], 2)
        scores[guided] = kp_scores[guided].mean(1)
        return boxes.astype(np.float32), scores.astype(np.float32)

    def _warn(self, *args):
        """Log a backend fault at most once per `_WARN_EVERY_S` seconds (camera rate spam)."""
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning(*args)

    def _retry_occluded(self, image_rgb, boxes, scores, guided, kps, kp_scores, stats):
        """Keypoints again for crops that took a better person's body; (kps, kp_scores) out.

        A person whose keypoints resemble a better-ranked person's (similarity in
        [occluded_retry_oks, duplicate_oks_threshold): a mix, not the same body twice) is
        estimated again on the image with those people greyed out (occluders.py), and the new
        keypoints replace the old where they are still a body (body evidence and
        min_mean_keypoint_score). The one behind then gets its own body; where the two stand so
        close that greying one hides the other (Pose2Sim cam03: the woman inside the man's
        outline), the first estimate stays. Ranked by _ranking.
        """
        cfg = self.config
        low, high = cfg.occluded_retry_oks, cfg.duplicate_oks_threshold
        if len(boxes) < 2 or low >= min(1.0, high):
            return kps, kp_scores
        people = People(boxes=boxes, scores=scores, keypoints=kps, keypoint_scores=kp_scores,
                        track_ids=np.full(len(boxes), -1, np.int64))
        sim = duplicate_similarity(people, cfg.body_keypoint_score,
                                   cfg.duplicate_min_common_keypoints)
        order = self._ranking(people, guided)
        kps, kp_scores = kps.copy(), kp_scores.copy()
        for rank, i in enumerate(order):
            better = order[:rank]
            better = better[(sim[i, better] >= low) & (sim[i, better] < high)]
            if not len(better):
                continue
            masked = grey_out_bodies(image_rgb, kps[better], kp_scores[better], boxes[better],
                                     cfg.body_keypoint_score)
            new_kps, new_scores = self.backend.estimate(masked, boxes[i:i + 1])
            new_scores = np.nan_to_num(new_scores)
            stats.occluded_retried += 1
            close = close_people(boxes[i:i + 1], scores[i:i + 1], image_rgb.shape[0], cfg)
            if (body_evidence(new_scores, cfg, close)[0]
                    and new_scores[0].mean() >= cfg.min_mean_keypoint_score):
                kps[i], kp_scores[i] = new_kps[0], new_scores[0]
                stats.occluded_replaced += 1
        return kps, kp_scores

    def _retry_legs(self, image_rgb, boxes, kps, kp_scores, stats):
        """Knees and ankles again from a crop of the lower body; (kps, kp_scores) out.

        In the whole person's crop a lunging foot beside a ball, or a leg stretched wide, gets
        a low score and a wrong place (OpenCV's messi5.jpg: the left ankle on the ball, 0.16);
        cut from the hips down, the legs fill the crop (the boot, 0.53). A new knee or ankle is
        taken where it scores higher than the first, when the new hips lie within a tenth of
        the box height of the first ones (the same person's legs). People shorter than
        _LEG_RETRY_MIN_HEIGHT_PX are left as they are.
        """
        cfg = self.config
        if cfg.leg_retry_score <= 0 or len(boxes) == 0:
            return kps, kp_scores
        hips_ok = (kp_scores[:, _HIPS] >= cfg.body_keypoint_score).all(1)
        weak_legs = (kp_scores[:, _LEGS] < cfg.leg_retry_score).any(1)
        tall = boxes[:, 3] - boxes[:, 1] >= _LEG_RETRY_MIN_HEIGHT_PX
        todo = np.flatnonzero(hips_ok & weak_legs & tall)
        if not len(todo):
            return kps, kp_scores
        heights = boxes[todo, 3] - boxes[todo, 1]
        hip_y = kps[todo][:, _HIPS, 1].mean(1)
        lower = boxes[todo].copy()
        lower[:, 1] = np.minimum(hip_y - 0.1 * heights, lower[:, 3] - 1)
        new_kps, new_scores = self.backend.estimate(image_rgb, lower)
        new_scores = np.nan_to_num(new_scores)
        stats.legs_retried += len(todo)
        kps, kp_scores = kps.copy(), kp_scores.copy()
        for j, i in enumerate(todo):
            moved = np.linalg.norm(new_kps[j, _HIPS] - kps[i, _HIPS], axis=1)
            if not ((moved <= 0.1 * heights[j]).all()
                    and (new_scores[j, _HIPS] >= cfg.body_keypoint_score).all()):
                continue
            better = np.asarray(_LEGS)[new_scores[j, _LEGS] > kp_scores[i, _LEGS]]
            kps[i, better], kp_scores[i, better] = new_kps[j, better], new_scores[j, better]
            stats.legs_replaced += int(len(better) > 0)
        return kps, kp_scores

    def _ranking(self, people, guided):
        """Indices of the people, best first, for telling which of two is the one to keep.

        Detections rank before guided people, then people with more confident keypoints (the
        box that holds the whole body), then by score.
        """
        evidence = (np.nan_to_num(people.keypoint_scores)
                    >= self.config.body_keypoint_score).sum(1)
        return np.lexsort((-people.scores, -evidence, guided))

    def _drop_duplicates(self, people, guided, stats):
        """Drop people whose keypoints coincide with a better person's; (people, guided) out.

        Ranked by _ranking. One person seen in two boxes is a frequent detector artefact in
        crowds; MoveNet then finds the same body in both crops (see duplicate_similarity).
        """
        thr = self.config.duplicate_oks_threshold
        if len(people) < 2 or thr >= 1.0:
            return people, guided
        oks = duplicate_similarity(people, self.config.body_keypoint_score,
                                   self.config.duplicate_min_common_keypoints)
        order = self._ranking(people, guided)
        kept = []
        for i in order:
            if all(not (oks[i, j] > thr) for j in kept):
                kept.append(i)
        stats.duplicates_dropped = len(people) - len(kept)
        kept = np.sort(np.array(kept, np.int64))
        return people.select(kept), guided[kept]
