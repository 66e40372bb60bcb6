"""Replaying frames at camera rate through a pipeline, the way hmr_node takes them.

A source thread offers frames at a fixed rate; the newest frame wins (a frame not taken
before the next one arrives is dropped and counted), as in hmr_node, with the node's own
hand-offs and pacing (hmr_models.pacing). Pipelined, one worker runs the front-end, a second
the per-frame mesh stage of the frame before and a third the temporal stage of the frame
before that (with `temporal_worker`; else the second runs both); in lockstep one worker runs
all. Latency is from a frame's arrival to its per-frame result (published before the temporal
stage, as the node does), and to its smoothed result: what a user of the node sees.
"""
from dataclasses import dataclass, field
import logging
import statistics
import threading
import time

import numpy as np

from hmr_models.pacing import FrontEndPacer, LatestSlot

log = logging.getLogger(__name__)


def fit_to_canvas(image, canvas, tile=(1, 1)):
    """`image` (H, W, 3) shown cols x rows times in a black canvas (width, height).

    Each copy is fitted into its cell with its aspect kept (black borders): a clip loads a
    pipeline like a camera of the canvas's size, and a grid of copies like a crowd
    (benchmarks/bench_live.py, bench_pipeline.py).
    """
    import cv2
    (w, h), (cols, rows) = canvas, tile
    cw, ch = w // cols, h // rows
    scale = min(cw / image.shape[1], ch / image.shape[0])
    fw, fh = int(round(image.shape[1] * scale)), int(round(image.shape[0] * scale))
    small = cv2.resize(image, (fw, fh), interpolation=cv2.INTER_AREA)
    frame = np.zeros((h, w, 3), np.uint8)
    for r in range(rows):
        for c in range(cols):
            x0, y0 = c * cw + (cw - fw) // 2, r * ch + (ch - fh) // 2
            frame[y0:y0 + fh, x0:x0 + fw] = small
    return frame


@dataclass
class Replay:
    """What replay_at_rate saw: one record per result, and the frames dropped on the way."""

    records: list = field(default_factory=list)   # dicts: frame, latency_ms, done, people, t_*
    offered: int = 0
    dropped_at_intake: int = 0
    errors: int = 0          # frames a stage raised on (logged; the replay goes on, as the node)


def replay_at_rate(pipe, frames, camera, rate, seconds, pipelined=True, pace=True,
                   temporal_worker=True):
    """Offer `frames` (looped) at `rate` Hz for `seconds` to an HMRPipeline; return a Replay.

    `pipe` needs process_front(image, stamp), process_mesh(image, camera, front) and
    process_temporal(result, camera), called each from one thread, in frame order (as
    HMRPipeline documents). `pace`: pipelined, the front-end starts just in time for the mesh
    stage (hmr_node's `pace_frontend`); `temporal_worker`: pipelined, the temporal stage on a
    third thread (hmr_node's `temporal_worker`).
    """
    intake, handoff = LatestSlot(), LatestSlot(replace=False)
    to_temporal = LatestSlot(replace=False) if pipelined and temporal_worker else None
    pacer = FrontEndPacer() if pipelined and pace else None
    stop = threading.Event()
    replay = Replay()

    def source():
        t0 = time.perf_counter()
        k = 0
        while k / rate <= seconds:
            time.sleep(max(0.0, t0 + k / rate - time.perf_counter()))
            if pacer is not None:
                pacer.frame_arrived()
            if intake.put((k, time.monotonic(), frames[k % len(frames)])) is not None:
                replay.dropped_at_intake += 1
                if pacer is not None:
                    pacer.frame_dropped()
            k += 1
        replay.offered = k
        stop.set()
        intake.close()

    def guarded(k, stage, *args):
        """Run a stage on frame k; on an exception count and log it and return None.

        It costs that frame, not the replay, as hmr_node's _guarded.
        """
        try:
            return stage(*args)
        except Exception:   # noqa: BLE001 - counted and logged with its traceback
            replay.errors += 1
            log.exception('realtime replay: %s failed on frame %d', stage.__name__, k)
            return None

    def finish(k, arrived, image, front):
        # As hmr_node: the per-frame result is out before the temporal stage runs.
        result = guarded(k, pipe.process_mesh, image, camera, front)
        if result is None:
            return
        latency = 1e3 * (time.monotonic() - arrived)
        if to_temporal is not None:
            to_temporal.put((k, arrived, result, latency))
        else:
            smooth(k, arrived, result, latency)

    def smooth(k, arrived, result, latency):
        if guarded(k, pipe.process_temporal, result, camera) is None:
            return
        replay.records.append({
            'frame': k, 'latency_ms': latency, 'done': time.monotonic(),
            'smoothed_latency_ms': 1e3 * (time.monotonic() - arrived),
            'people': len(result.people),
            **{f't_{name}': v for name, v in result.timings_ms.items()}})

    def front_worker():
        while True:
            if pacer is not None and pacer.active():
                handoff.wait_taken()
                stop.wait(pacer.delay())
            if pacer is not None and (waiting := intake.newest()) is not None:
                intake.wait_newer(waiting, pacer.fresh_wait(waiting[1]))
            item = intake.take()
            if item is None:
                break
            k, arrived, image = item
            t0 = time.monotonic()
            front = guarded(k, pipe.process_front, image, k / rate)
            if front is None:
                continue
            if pacer is not None:
                pacer.front_finished(time.monotonic() - t0)
            if pipelined:
                handoff.put((k, arrived, image, front))
            else:
                finish(k, arrived, image, front)
        handoff.wait_taken()
        handoff.close()

    def mesh_worker():
        while (item := handoff.take()) is not None:
            if pacer is not None:
                pacer.mesh_started()
            finish(*item)
            if pacer is not None:
                pacer.mesh_finished()
        if to_temporal is not None:
            to_temporal.wait_taken()
            to_temporal.close()

    def temporal_worker_loop():
        while (item := to_temporal.take()) is not None:
            smooth(*item)

    threads = [threading.Thread(target=source), threading.Thread(target=front_worker)]
    if pipelined:
        threads.append(threading.Thread(target=mesh_worker))
    if to_temporal is not None:
        threads.append(threading.Thread(target=temporal_worker_loop))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replay


def summarise(replay, settle=5):
    """Lines of figures: FPS out, latency percentiles, drops, people, stage medians.

    The first `settle` results are left out (warm-up).
    """
    rows = replay.records[settle:]
    if len(rows) < 2:
        return f'too few results ({len(replay.records)}) to measure'
    span = rows[-1]['done'] - rows[0]['done']
    fps = (len(rows) - 1) / span if span > 0 else float('nan')
    lat = np.array([r['latency_ms'] for r in rows])
    smoothed = np.percentile([r['smoothed_latency_ms'] for r in rows], [50, 95])
    people = np.mean([r['people'] for r in rows])
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    stages = sorted({k for r in rows for k in r if k.startswith('t_')})
    medians = ', '.join(f"{k[2:]} {statistics.median([r[k] for r in rows if k in r]):.1f}"
                        for k in stages)
    return (f'frames offered {replay.offered}, results {len(replay.records)} ({settle} warm-up), '
            f'FPS out {fps:.1f}, latency ms p50 {p50:.0f} p95 {p95:.0f} p99 {p99:.0f} '
            f'(smoothed p50 {smoothed[0]:.0f} p95 {smoothed[1]:.0f}), dropped '
            f'{replay.dropped_at_intake}, stage errors {replay.errors}, people per frame '
            f'{people:.1f}\n'
            f'stage medians ms: {medians}')
