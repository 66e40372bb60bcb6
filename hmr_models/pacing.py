"""Pacing two pipelined workers: hand-offs without backlog, and a just-in-time front-end.

hmr_node (and hmr_models.eval.realtime, which replays a clip the same way) runs the front-end
of one frame on one thread while the mesh stages run on the frame before on another. The mesh
stages are the slower half. A front-end that starts on the next frame as soon as it has handed
the last one over finishes long before the mesh stage is free, and its result then waits: the
person was seen that much earlier than the mesh is published. `FrontEndPacer` makes the
front-end start late enough to finish just when the mesh stage frees up, on the newest frame
there is by then: the same output rate, with the waiting taken out of the latency. When the
front-end is the slower half it is free at a random point of the camera's period, and the
newest frame has waited up to a whole period: `FrontEndPacer.fresh_wait` has it wait for the
camera's next frame instead when that one is closer (a few ms of the front-end's time for a
frame up to half a period younger).
"""
from collections import deque
import threading
import time


class LatestSlot:
    """A hand-off between threads that never builds a backlog.

    With `replace` (the intake), `put` swaps in the newest item and returns the one it replaced
    (the caller counts it as dropped), except the item the taker is already waiting for (or has
    `claim`ed): that one is kept and the newest queues behind it. Two images that arrive
    back to back while the worker wakes up are both processed (an every-frame source sends
    two at once); the worker busy, only the newest waits. Without `replace` (between the
    stages), `put` waits until the slot is free: a frame that passed the front-end is never
    lost, and on few cores the front-end does not burn time on frames the mesh stage would
    never see. `take` blocks until an item is there and returns None once the slot is closed.
    """

    def __init__(self, replace=True):
        self._items = deque()
        self._replace = replace
        self._claimed = False
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item):
        with self._cond:
            while not self._replace and self._items and not self._closed:
                self._cond.wait(timeout=0.5)
            old = None
            if self._replace and len(self._items) > (1 if self._claimed else 0):
                old = self._items.pop()
            self._items.append(item)
            self._cond.notify_all()
            return old

    def newest(self):
        """The item that `take` would return now, or None."""
        with self._cond:
            return self._items[-1] if self._items else None

    def wait_newer(self, item, timeout):
        """Block until a newer item than `item` is put or the slot closes (`timeout` s at most)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed and self._items and self._items[-1] is item:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(timeout=left)

    def claim(self):
        """The taker will come for the next item: keep the one there now (or arriving next)."""
        with self._cond:
            self._claimed = True

    def take(self):
        with self._cond:
            self._claimed = True
            while not self._items and not self._closed:
                self._cond.wait(timeout=0.5)
            self._claimed = False
            if self._closed:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def wait_taken(self):
        """Block until the slot is empty (the taker has its item) or closed."""
        with self._cond:
            while self._items and not self._closed:
                self._cond.wait(timeout=0.5)

    @property
    def closed(self):
        return self._closed

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class FrontEndPacer:
    """When the front-end should start its next frame so that it is done as the mesh stage is.

    The mesh worker calls `mesh_started()` / `mesh_finished()` around each frame and the
    front-end worker `front_finished(seconds)` after each; before taking its next frame (once
    the mesh worker has taken the last hand-off) the front-end worker sleeps `delay()`: the
    mesh stage's expected remaining time (running median of recent frames) minus the
    front-end's longest recent time and a margin: the front-end's time varies from frame to
    frame (the detector runs on every other one), and a front-end that finishes late leaves the
    mesh stage idle, which costs output rate. With no history, or a mesh stage not clearly
    slower than the front-end, there is no pacing (`active` is False).

    Args:
        margin: fraction of the front-end's time it starts early on top.
        max_delay_s: the longest single wait (a stalled mesh stage must not stall the rest).
        history: frames in each running median.
        drop_window_s: how long after the last dropped frame pacing stays active.
    """

    def __init__(self, margin=0.1, max_delay_s=0.5, history=15, drop_window_s=2.0,
                 fresh_slack_s=0.002):
        self.margin = float(margin)
        self.max_delay_s = float(max_delay_s)
        self.fresh_slack_s = float(fresh_slack_s)
        self._front = deque(maxlen=history)
        self._mesh = deque(maxlen=history)
        self._gaps = deque(maxlen=2 * history)   # between camera frames' arrivals
        self._last_arrival = None
        self._mesh_started = None
        self._last_drop = None
        self.drop_window_s = float(drop_window_s)
        self._lock = threading.Lock()

    def frame_arrived(self, now=None):
        """A camera frame reached the intake (its period is learnt from these)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._last_arrival is not None:
                self._gaps.append(now - self._last_arrival)
            self._last_arrival = now

    def fresh_wait(self, arrived, now=None):
        """Seconds to wait for the camera's next frame rather than take the one from `arrived`.

        While the source outruns the node (as `active`), a frame older than half the camera's
        period (median gap between arrivals) is passed over for the next one, due one period
        after it: the latency of the frame processed drops by the difference, at the cost of
        that wait on the front-end (fewer frames processed, each one fresher). 0 otherwise.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._last_drop is None or now - self._last_drop > self.drop_window_s \
                    or len(self._gaps) < 5:
                return 0.0
            period = _median(self._gaps)
        if now - arrived <= period / 2:
            return 0.0
        return min(max(arrived + period + self.fresh_slack_s - now, 0.0), period)

    def frame_dropped(self, now=None):
        """The intake replaced a frame nobody had taken: the source outruns the node."""
        with self._lock:
            self._last_drop = time.monotonic() if now is None else now

    def active(self, now=None):
        """Whether to pace now.

        Only while the source outruns the node (a frame was dropped within drop_window_s) and
        the mesh stage is the slower half (its median over the front-end's mean, with the
        margin). Otherwise a front-end that waits for the mesh worker to take its last result
        starts late on its slow frames (the detector's) and the mesh stage idles: measured with
        3 people, where the two halves take about as long, 8.1 FPS paced against 9.7 free;
        with 5 people (the front-end slower) 6.6 against 8.3 (bench_live.py, 2026-12-04).
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._last_drop is None or now - self._last_drop > self.drop_window_s:
                return False
            return bool(self._front and self._mesh) and \
                _median(self._mesh) >= (1.0 + self.margin) * sum(self._front) / len(self._front)

    def front_finished(self, seconds):
        with self._lock:
            self._front.append(float(seconds))

    def mesh_started(self, now=None):
        with self._lock:
            self._mesh_started = time.monotonic() if now is None else now

    def mesh_finished(self, now=None):
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._mesh_started is not None:
                self._mesh.append(now - self._mesh_started)
            self._mesh_started = None

    def delay(self, now=None):
        """Seconds the front-end should wait before it takes its next frame."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._mesh_started is None or not self._front or not self._mesh:
                return 0.0
            remaining = self._mesh_started + _median(self._mesh) - now
            wait = remaining - (1.0 + self.margin) * max(self._front)
        return min(max(wait, 0.0), self.max_delay_s)


def _median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
