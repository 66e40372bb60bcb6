"""Detection and multi-object tracking metrics: matching, recall/precision, CLEAR MOT, IDF1.

Definitions as py-motmetrics and TrackEval compute them (neither is a dependency: motmetrics
1.4.0, its last release, calls `DataFrame.append`, removed in pandas 2, and the maintained
TrackEval packaging on PyPI requires numpy >= 2.3 where this project pins 1.26; both reduce to
the few lines below on numpy + scipy, and the tests check them on hand-made cases):

- per frame, a ground-truth person and a prediction may match when their similarity (OKS or
  box IoU, in [0, 1]) is at least the threshold;
- CLEAR MOT (Bernardin & Stiefelhagen 2008): matches of the previous frame are kept while still
  allowed, the rest are assigned by maximum total similarity (Hungarian); a ground truth whose
  prediction id differs from its last matched one is an ID switch;
  MOTA = 1 - (FN + FP + IDSW) / GT;
- IDF1 (Ristani et al. 2016): one global one-to-one assignment of ground-truth to predicted
  trajectories maximising the frames they match in (IDTP); IDF1 = 2 IDTP / (GT + predictions).

Ground-truth people marked `ignore` (e.g. almost entirely hidden) are removed before counting,
with any prediction matched to them (MOTChallenge's preprocessing), so finding or missing them
changes nothing.
"""
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


def assign(similarity, threshold):
    """Maximum-similarity one-to-one matching: list of (row, column) with similarity >= threshold.

    similarity (N, M), NaN = not allowed.
    """
    sim = np.nan_to_num(np.asarray(similarity, np.float64), nan=-1.0)
    if sim.size == 0:
        return []
    allowed = sim >= threshold
    cost = np.where(allowed, -sim, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if allowed[r, c]]


def greedy_match(cost, max_cost):
    """Greedy one-to-one matching by increasing cost: (N,) column of each row, -1 if none.

    cost (N, M); pairs costing more than `max_cost` (or NaN) are never matched. Unlike `assign`
    (the best total, for the metrics) this takes the closest pair first, as a person associator
    does; ties go to the lower row, then the lower column.
    """
    cost = np.asarray(cost, np.float64)
    out = np.full(cost.shape[0], -1, int)
    if cost.size == 0:
        return out
    used = np.zeros(cost.shape[1], bool)
    for flat in np.argsort(cost, axis=None, kind='stable'):      # NaN sorts last
        i, j = divmod(int(flat), cost.shape[1])
        if not cost[i, j] <= max_cost:
            break
        if out[i] < 0 and not used[j]:
            out[i], used[j] = j, True
    return out


@dataclass
class TrackingFrame:
    """One frame for the tracking metrics: ids of ground truth and predictions, similarities."""

    gt_ids: np.ndarray        # (N,) ints
    pred_ids: np.ndarray      # (M,) ints
    similarity: np.ndarray    # (N, M)
    gt_ignore: np.ndarray = None   # (N,) bool


def _drop_ignored(frame, threshold):
    """Remove ignored ground truth and the predictions that match them."""
    if frame.gt_ignore is None or not np.any(frame.gt_ignore):
        return frame.gt_ids, frame.pred_ids, np.asarray(frame.similarity, np.float64)
    sim = np.asarray(frame.similarity, np.float64)
    matched = assign(sim, threshold)
    ignore = np.asarray(frame.gt_ignore, bool)
    drop_pred = {c for r, c in matched if ignore[r]}
    keep_p = np.array([j not in drop_pred for j in range(len(frame.pred_ids))], bool)
    keep_g = ~ignore
    return (np.asarray(frame.gt_ids)[keep_g], np.asarray(frame.pred_ids)[keep_p],
            sim[keep_g][:, keep_p])


def clear_mot(frames, threshold):
    """CLEAR MOT counts over a sequence of TrackingFrame (in time order).

    Returns dict: gt, predictions, matches, fn, fp, id_switches, fragmentations, MOTA, MOTP
    (mean similarity of matches), recall, precision, and `switch_frames` (frame index, gt id,
    old prediction id, new prediction id) of every switch.
    """
    last = {}            # gt id -> prediction id it was last matched to
    tracked_prev = {}    # gt id -> matched in the previous frame it was present in
    c = dict(gt=0, predictions=0, matches=0, fn=0, fp=0, id_switches=0, fragmentations=0)
    sim_sum = 0.0
    switches = []
    prev_pairs = {}
    for f, frame in enumerate(frames):
        gt_ids, pred_ids, sim = _drop_ignored(frame, threshold)
        gt_ids = [int(g) for g in gt_ids]
        pred_ids = [int(p) for p in pred_ids]
        c['gt'] += len(gt_ids)
        c['predictions'] += len(pred_ids)
        pairs = {}
        free_g, free_p = set(range(len(gt_ids))), set(range(len(pred_ids)))
        # Keep last frame's correspondences that are still allowed.
        for i, g in enumerate(gt_ids):
            if g in prev_pairs and prev_pairs[g] in pred_ids:
                j = pred_ids.index(prev_pairs[g])
                if j in free_p and sim[i, j] >= threshold:
                    pairs[i] = j
                    free_g.discard(i)
                    free_p.discard(j)
        rows, cols = sorted(free_g), sorted(free_p)
        if rows and cols:
            for r, cc in assign(sim[np.ix_(rows, cols)], threshold):
                pairs[rows[r]] = cols[cc]
        new_prev = {}
        for i, g in enumerate(gt_ids):
            if i in pairs:
                p = pred_ids[pairs[i]]
                sim_sum += sim[i, pairs[i]]
                if g in last and last[g] != p:
                    c['id_switches'] += 1
                    switches.append((f, g, last[g], p))
                if g in tracked_prev and not tracked_prev[g]:
                    c['fragmentations'] += 1
                last[g] = p
                new_prev[g] = p
                tracked_prev[g] = True
            else:
                if tracked_prev.get(g):
                    tracked_prev[g] = False
        prev_pairs = new_prev
        c['matches'] += len(pairs)
        c['fn'] += len(gt_ids) - len(pairs)
        c['fp'] += len(pred_ids) - len(pairs)
    gt = max(c['gt'], 1)
    c['MOTA'] = 1.0 - (c['fn'] + c['fp'] + c['id_switches']) / gt if c['gt'] else float('nan')
    c['MOTP'] = sim_sum / c['matches'] if c['matches'] else float('nan')
    c['recall'] = c['matches'] / gt if c['gt'] else float('nan')
    c['precision'] = c['matches'] / c['predictions'] if c['predictions'] else float('nan')
    c['switch_frames'] = switches
    return c


def idf1(frames, threshold):
    """Identity metrics: IDF1, IDP, IDR, IDTP, IDFP, IDFN over a sequence of TrackingFrame."""
    gt_count, pred_count = {}, {}
    pair_count = {}
    for frame in frames:
        gt_ids, pred_ids, sim = _drop_ignored(frame, threshold)
        for g in gt_ids:
            gt_count[int(g)] = gt_count.get(int(g), 0) + 1
        for p in pred_ids:
            pred_count[int(p)] = pred_count.get(int(p), 0) + 1
        ok = np.nan_to_num(sim, nan=-1.0) >= threshold
        for i, j in zip(*np.nonzero(ok)):
            key = (int(gt_ids[i]), int(pred_ids[j]))
            pair_count[key] = pair_count.get(key, 0) + 1
    total_gt, total_pred = sum(gt_count.values()), sum(pred_count.values())
    g_index = {g: i for i, g in enumerate(gt_count)}
    p_index = {p: j for j, p in enumerate(pred_count)}
    idtp = 0
    if g_index and p_index:
        overlap = np.zeros((len(g_index), len(p_index)))
        for (g, p), n in pair_count.items():
            overlap[g_index[g], p_index[p]] = n
        rows, cols = linear_sum_assignment(-overlap)
        idtp = int(overlap[rows, cols].sum())
    out = dict(IDTP=idtp, IDFN=total_gt - idtp, IDFP=total_pred - idtp)
    out['IDF1'] = 2 * idtp / (total_gt + total_pred) if total_gt + total_pred else float('nan')
    out['IDP'] = idtp / total_pred if total_pred else float('nan')
    out['IDR'] = idtp / total_gt if total_gt else float('nan')
    return out
