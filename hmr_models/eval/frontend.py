"""Front-end scores where no ground-truth boxes exist.

- `match_points`: people found, against hand-counted points (one point per person): a point is
  found when it lies inside a returned box (with a margin), one point per box (optimal
  assignment on the distance to the box centre).
- `id_switch_proxies`: two proxies of identity switches from the track ids alone: jumps (a
  track's box centre moves more than half the box height between two close observations) and
  fragments (a new id born within one box height of where another id was last seen shortly
  before).
"""
import lap
import numpy as np


def match_points(points, boxes, margin=0.1):
    """Boolean (P,) found flags and (B,) used flags: each hand-counted point to at most one box."""
    points = np.asarray(points, np.float32).reshape(-1, 2)
    found, used = np.zeros(len(points), bool), np.zeros(len(boxes), bool)
    if len(points) == 0 or len(boxes) == 0:
        return found, used
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    lo = boxes[:, :2] - margin * np.stack([w, h], 1)
    hi = boxes[:, 2:] + margin * np.stack([w, h], 1)
    inside = ((points[:, None] >= lo[None]) & (points[:, None] <= hi[None])).all(-1)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    cost = np.linalg.norm(points[:, None] - centre[None], axis=-1) / np.maximum(h, 1)[None]
    cost = np.where(inside, cost, 1e6)
    _, rows, _ = lap.lapjv(cost, extend_cost=True, cost_limit=1e3)
    for p, b in enumerate(rows):
        if b >= 0 and inside[p, b]:
            found[p] = used[b] = True
    return found, used


def id_switch_proxies(observations, jump_gap_s=0.25, reborn_window_s=2.0, warmup_s=0.5):
    """(jumps, fragments, ids) from {track_id: [(stamp, box), ...]} in time order."""
    jumps = 0
    for obs in observations.values():
        for (t0, b0), (t1, b1) in zip(obs, obs[1:]):
            height = ((b0[3] - b0[1]) + (b1[3] - b1[1])) / 2
            moved = np.linalg.norm((b1[:2] + b1[2:]) / 2 - (b0[:2] + b0[2:]) / 2)
            if t1 - t0 <= jump_gap_s and moved > 0.5 * max(height, 1.0):
                jumps += 1
    first = min((obs[0][0] for obs in observations.values()), default=0.0)
    fragments = 0
    for tid, obs in observations.items():
        t_birth, box = obs[0]
        if t_birth - first < warmup_s:
            continue
        centre = (box[:2] + box[2:]) / 2
        for other, o_obs in observations.items():
            t_last, o_box = o_obs[-1]
            if other == tid or not (t_birth - reborn_window_s <= t_last < t_birth):
                continue
            if np.linalg.norm((o_box[:2] + o_box[2:]) / 2 - centre) <= box[3] - box[1]:
                fragments += 1
                break
    return jumps, fragments, len(observations)
