"""Multi-person tracker: stable ids from box overlap and keypoint similarity.

Each update associates the image's people with the existing tracks by an optimal assignment
(Jonker-Volgenant, lapx) on the similarity

    s = (w_iou * IoU(box, predicted box) + w_kp * OKS(keypoints, predicted keypoints))
        / (w_iou + w_kp)

(the IoU alone when the two share no keypoint). Predictions shift the last box and keypoints by
the track's smoothed centre velocity times the elapsed time, so irregular timestamps are fine.

Life cycle (hysteresis): a new person starts a *tentative* track that gets an id only after
`track_min_hits` consecutive matched updates (one-frame false positives never get one); a
confirmed track that goes unseen is kept *lost* for up to `track_max_age_s` seconds, during which
a reappearing person takes its id back (short occlusions). Recently seen tracks are matched first,
so a lost track cannot steal a detection from a visible one; lost tracks are then matched with
the better of that similarity and a centre-distance score (`proximity`), because a person who
walked on behind an obstacle rarely overlaps the box where they disappeared. Ids count up
from 0 and are never reused within a run, not even after `reset()`.
"""
from dataclasses import dataclass
import logging

import lap
import numpy as np

from hmr_models.frontend.boxes import box_area, box_iou, keypoint_similarity

log = logging.getLogger(__name__)

TENTATIVE, CONFIRMED = 'tentative', 'confirmed'
_NO_MATCH = 1e6   # cost of a forbidden pair (above any cost limit)


@dataclass
class Track:
    """State of one tracked person (pixels, seconds)."""

    box: np.ndarray          # (4,) last observed box, xyxy
    keypoints: np.ndarray    # (17, 2) last observed keypoints (NaN where missing)
    stamp: float             # time of the last match
    velocity: np.ndarray     # (2,) smoothed box-centre velocity, px/s
    hits: int = 1            # consecutive matched updates
    state: str = TENTATIVE
    track_id: int = -1       # public id, assigned at confirmation
    detected_stamp: float = 0.0   # last time the person detector (not track guidance) saw it

    def predict(self, stamp, horizon):
        """(box, keypoints) expected at `stamp`, extrapolating at most `horizon` seconds."""
        dt = float(np.clip(stamp - self.stamp, 0.0, horizon))
        shift = self.velocity * dt
        return self.box + np.tile(shift, 2), self.keypoints + shift


class Tracker:
    """`update(people, stamp) -> people` with `track_ids` filled (-1 while not yet confirmed)."""

    def __init__(self, config):
        self.config = config
        self.tracks = []
        self._next_id = 0
        self._last_stamp = None

    @property
    def confirmed_tracks(self):
        return [t for t in self.tracks if t.state == CONFIRMED]

    def reset(self):
        """Forget all tracks (e.g. a new video); ids keep counting so none is ever reused."""
        self.tracks = []
        self._last_stamp = None

    def guide(self, stamp, max_unsupported_s, tentative=False):
        """Predicted boxes (G, 4) and keypoints (G, 17, 2) of visible confirmed tracks at `stamp`.

        Only tracks matched at the last update whose last detector support is at most
        `max_unsupported_s` old are returned: the front-end looks for these people again when the
        detector misses them, and never for long without the detector's confirmation. With
        `tentative`, tracks not yet confirmed are included (on images where the detector does not
        run at all, they would otherwise die unmatched).
        """
        picked = [t for t in self.tracks if (t.state == CONFIRMED or tentative) and t.hits > 0
                  and stamp - t.detected_stamp <= max_unsupported_s]
        if not picked:
            return np.zeros((0, 4), np.float32), np.zeros((0, 17, 2), np.float32)
        predicted = [t.predict(stamp, self.config.track_max_age_s) for t in picked]
        return (np.stack([p[0] for p in predicted]).astype(np.float32),
                np.stack([p[1] for p in predicted]).astype(np.float32))

    def update(self, people, stamp, guided=None):
        """Associate `people` (a People of one image) at time `stamp` (seconds).

        guided (N,) bool, optional: people found only by track guidance (`guide`), not by the
        detector; they keep a track alive but do not renew its detector support.
        """
        cfg = self.config
        stamp = float(stamp)
        if not np.isfinite(stamp):
            raise ValueError(f'tracker stamp must be a finite time in seconds, got {stamp}')
        if self._last_stamp is not None and stamp < self._last_stamp:
            # A bag restarted or the clock jumped: old tracks cannot be predicted into the past.
            log.warning('time went backwards (%.3f s -> %.3f s): tracks reset, ids continue',
                        self._last_stamp, stamp)
            self.reset()
        self._last_stamp = stamp

        n = len(people)
        guided = np.zeros(n, bool) if guided is None else np.asarray(guided, bool).reshape(n)
        track_ids = np.full(n, -1, np.int64)
        det_used = np.zeros(n, bool)
        # Stage 1: tracks matched at the previous update (visible ones); stage 2: the lost ones.
        recent = [t for t in self.tracks if t.hits > 0]
        lost = [t for t in self.tracks if t.hits == 0]
        matched = set()
        for group in (recent, lost):
            free = np.nonzero(~det_used)[0]
            if not group or free.size == 0:
                continue
            sim = self.similarity(people.select(free), group, stamp)
            if group is lost:
                sim = np.maximum(sim, self.proximity(people.boxes[free], group, stamp))
            cost = 1.0 - sim
            limit = 1.0 - cfg.track_match_threshold
            cost[~(cost <= limit)] = _NO_MATCH
            _, rows, _ = lap.lapjv(cost, extend_cost=True, cost_limit=limit + 1e-9)
            for r, c in enumerate(rows):
                if c < 0 or cost[r, c] > limit:
                    continue
                d, track = free[r], group[c]
                self._absorb(track, people, d, stamp, guided[d])
                det_used[d] = True
                matched.add(id(track))
                track_ids[d] = track.track_id

        # Unmatched tracks: tentative ones die at once, confirmed ones after track_max_age_s.
        survivors = []
        for track in self.tracks:
            if id(track) in matched:
                survivors.append(track)
            elif track.state == CONFIRMED and stamp - track.stamp <= cfg.track_max_age_s:
                track.hits = 0
                survivors.append(track)
        # Unmatched people start tentative tracks (confirmed at once when min_hits is 1); a guided
        # person always comes from a track, so one left unmatched starts nothing.
        for d in np.nonzero(~det_used & ~guided)[0]:
            track = Track(box=people.boxes[d].astype(np.float32).copy(),
                          keypoints=people.keypoints[d].astype(np.float32).copy(),
                          stamp=stamp, velocity=np.zeros(2, np.float32), detected_stamp=stamp)
            self._maybe_confirm(track)
            survivors.append(track)
            track_ids[d] = track.track_id
        self.tracks = survivors

        out = people.select(np.arange(n))
        out.track_ids = track_ids
        return out

    def similarity(self, people, tracks, stamp):
        """Association similarity, (N people, T tracks) in [0, 1], at time `stamp`."""
        cfg = self.config
        predicted = [t.predict(stamp, cfg.track_max_age_s) for t in tracks]
        pred_boxes = np.stack([p[0] for p in predicted]).astype(np.float32)
        pred_kps = np.stack([p[1] for p in predicted]).astype(np.float32)
        iou = box_iou(people.boxes, pred_boxes)
        if cfg.track_keypoint_weight == 0:
            return iou
        oks = keypoint_similarity(people.keypoints, people.keypoint_scores > 0,
                                  pred_kps, np.isfinite(pred_kps).all(-1),
                                  box_area(pred_boxes)[None, :])
        mixed = (cfg.track_iou_weight * iou + cfg.track_keypoint_weight * oks) / \
            (cfg.track_iou_weight + cfg.track_keypoint_weight)
        return np.where(np.isnan(oks), iou, mixed).astype(np.float32)

    def proximity(self, boxes, tracks, stamp):
        """Re-association similarity (N, T) of boxes to lost tracks, from centre distances.

        1 at the track's last or predicted centre, falling linearly to 0 at
        `track_reassociation_radius` box heights, times the ratio of the two heights. Boxes seen
        after an occlusion barely overlap the last box (the person kept walking behind the
        obstacle), so IoU alone would fail here.
        """
        cfg = self.config
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2                               # (N, 2)
        height = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        last = np.stack([t.box for t in tracks]).astype(np.float32)
        pred = np.stack([t.predict(stamp, cfg.track_max_age_s)[0] for t in tracks])
        t_height = np.maximum(last[:, 3] - last[:, 1], 1.0)                     # (T,)
        dist = np.minimum(
            np.linalg.norm(centre[:, None] - ((last[:, :2] + last[:, 2:]) / 2)[None], axis=-1),
            np.linalg.norm(centre[:, None] - ((pred[:, :2] + pred[:, 2:]) / 2)[None], axis=-1))
        scale = cfg.track_reassociation_radius * (height[:, None] + t_height[None]) / 2
        ratio = np.minimum(height[:, None], t_height[None]) / np.maximum(height[:, None],
                                                                         t_height[None])
        return (np.clip(1.0 - dist / np.maximum(scale, 1e-6), 0.0, 1.0) * ratio).astype(np.float32)

    def _absorb(self, track, people, d, stamp, guided=False):
        """Update a matched track with person d of `people`."""
        box = people.boxes[d].astype(np.float32)
        dt = stamp - track.stamp
        if dt > 1e-6:
            measured = ((box[:2] + box[2:]) - (track.box[:2] + track.box[2:])) / (2 * dt)
            a = self.config.track_velocity_smoothing
            # A track coming back from occlusion restarts its velocity from the measurement.
            track.velocity = (measured if track.hits == 0 and a < 1 else
                              a * track.velocity + (1 - a) * measured).astype(np.float32)
        track.box = box.copy()
        track.keypoints = people.keypoints[d].astype(np.float32).copy()
        track.stamp = stamp
        if not guided:
            track.detected_stamp = stamp
        track.hits += 1
        self._maybe_confirm(track)

    def _maybe_confirm(self, track):
        if track.state == TENTATIVE and track.hits >= self.config.track_min_hits:
            track.state = CONFIRMED
            track.track_id = self._next_id
            self._next_id += 1
