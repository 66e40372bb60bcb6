"""Per-track state shared by the streaming smoothers: ring buffers, expiry and bookkeeping."""
import logging

import numpy as np

log = logging.getLogger(__name__)

STAMP_EPS = 1e-6  # seconds: stamps closer than this are the same frame


class TrackBuffer:
    """Ring buffer of the last `capacity` observations of one track, oldest first.

    Each observation is a stamp plus named arrays of fixed shapes (declared by `shapes`).
    Pushing a frame with the newest stamp again replaces it (a duplicated message).
    """

    def __init__(self, capacity, shapes):
        self.capacity = int(capacity)
        self.stamps = np.zeros(self.capacity, np.float64)
        self.data = {k: np.zeros((self.capacity,) + tuple(s), np.float32)
                     for k, s in shapes.items()}
        self.size = 0

    @property
    def last_stamp(self):
        return float(self.stamps[self.size - 1]) if self.size else -np.inf

    def push(self, stamp, **values):
        """Append one observation; returns False when it replaced the newest (same stamp)."""
        appended = True
        if self.size and abs(stamp - self.last_stamp) <= STAMP_EPS:
            appended = False
        elif self.size == self.capacity:
            self.stamps[:-1] = self.stamps[1:]
            for arr in self.data.values():
                arr[:-1] = arr[1:]
        else:
            self.size += 1
        i = self.size - 1
        self.stamps[i] = stamp
        for k, arr in self.data.items():
            arr[i] = values[k]
        return appended

    def view(self, key):
        return self.data[key][:self.size]

    def views(self):
        """All observation arrays, oldest first (views, not copies)."""
        return {k: arr[:self.size] for k, arr in self.data.items()}

    def observed_stamps(self):
        return self.stamps[:self.size]


class TrackTable:
    """Track id -> state, with expiry of unseen tracks and reset of tracks going back in time.

    Tracks unseen for `timeout` seconds expire; tracks whose time runs backwards (a bag
    replayed from the start, a clock jump) are reset.

    `counters` counts what happened (expired, reset, duplicate_ids, untracked, frames) so the
    node can publish it as diagnostics.
    """

    def __init__(self, timeout, new_state):
        self.timeout = float(timeout)
        self.new_state = new_state
        self.states = {}
        self.last_seen = {}
        self.counters = {'frames': 0, 'expired': 0, 'reset': 0, 'duplicate_ids': 0,
                         'untracked': 0}

    def __len__(self):
        return len(self.states)

    def expire(self, stamp):
        """Drop tracks unseen for longer than the timeout; returns how many were dropped."""
        stale = [tid for tid, seen in self.last_seen.items() if stamp - seen > self.timeout]
        for tid in stale:
            del self.states[tid], self.last_seen[tid]
        self.counters['expired'] += len(stale)
        return len(stale)

    def assign(self, stamp, track_ids):
        """Index of the people to smooth and their states, for one frame.

        People with track id < 0 (untracked) and repeated ids after their first occurrence are
        left out (passed through by the caller) and counted.
        Returns (indices (M,), track ids (M,), states list).
        """
        self.expire(stamp)
        self.counters['frames'] += 1
        seen = set()
        idx, ids, states = [], [], []
        for i, tid in enumerate(np.asarray(track_ids).reshape(-1).tolist()):
            if tid < 0:
                self.counters['untracked'] += 1
                continue
            if tid in seen:
                self.counters['duplicate_ids'] += 1
                log.debug('track id %d appears twice in one frame: passing the second through',
                          tid)
                continue
            seen.add(tid)
            state = self.states.get(tid)
            if state is not None and stamp < self.last_seen[tid] - STAMP_EPS:
                log.info('track %d: time went backwards (%.3f -> %.3f s): buffer reset', tid,
                         self.last_seen[tid], stamp)
                self.counters['reset'] += 1
                state = None
            if state is None:
                state = self.states[tid] = self.new_state()
            self.last_seen[tid] = stamp
            idx.append(i)
            ids.append(tid)
            states.append(state)
        return np.asarray(idx, np.int64), np.asarray(ids, np.int64), states

    def reset(self):
        self.states.clear()
        self.last_seen.clear()
