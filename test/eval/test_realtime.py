"""The camera-rate replay of benchmarks/bench_pipeline.py: drops counted, latency measured."""
from dataclasses import dataclass, field
import time

import numpy as np

from hmr_models.eval.realtime import fit_to_canvas, Replay, replay_at_rate, summarise
from hmr_models.pacing import FrontEndPacer, LatestSlot


@dataclass
class _Result:
    people: list
    timings_ms: dict = field(default_factory=dict)


class SlowStages:
    """Stands in for HMRPipeline's two halves with fixed costs (the harness is under test)."""

    def __init__(self, front_s, mesh_s, temporal_s=0.0):
        self.front_s, self.mesh_s, self.temporal_s = front_s, mesh_s, temporal_s
        self.fronts = []

    def process_front(self, image, stamp):
        time.sleep(self.front_s)
        self.fronts.append(stamp)
        return image

    def process_mesh(self, image, camera, front):
        time.sleep(self.mesh_s)
        return _Result(people=[0, 1], timings_ms={'mesh': 1e3 * self.mesh_s})

    def process_temporal(self, result, camera):
        time.sleep(self.temporal_s)
        result.timings_ms['temporal'] = 1e3 * self.temporal_s
        return result


def test_the_intake_keeps_the_newest_and_returns_the_replaced():
    slot = LatestSlot()
    assert slot.put(0) is None
    assert slot.put(1) == 0 and slot.put(2) == 1
    assert slot.take() == 2
    slot.close()
    assert slot.take() is None


def test_pacer_starts_the_front_end_to_finish_with_the_mesh_stage():
    pacer = FrontEndPacer(margin=0.25, max_delay_s=0.5, drop_window_s=2.0)
    assert pacer.delay(now=0.0) == 0.0                 # no history: no wait
    assert not pacer.active(now=0.0)                   # nothing dropped: an every-frame source
    pacer.frame_dropped(now=99.0)
    assert not pacer.active(now=100.0)                 # no history: nothing to pace by
    for k in range(5):                                 # mesh 100 ms, front-end 10-20 ms
        pacer.mesh_started(now=10.0 * k)
        pacer.mesh_finished(now=10.0 * k + 0.1)
        pacer.front_finished(0.02 if k == 2 else 0.01)
    assert pacer.active(now=100.0) and not pacer.active(now=101.5)
    pacer.mesh_started(now=100.0)
    # 100 ms of mesh left at 100.0: wait 100 - 1.25 * 20 (the slowest front-end) = 75 ms;
    # 40 ms later 35 ms
    assert abs(pacer.delay(now=100.0) - 0.075) < 1e-9
    assert abs(pacer.delay(now=100.04) - 0.035) < 1e-9
    assert pacer.delay(now=100.2) == 0.0               # overdue mesh stage: start now
    pacer.mesh_finished(now=100.1)
    assert pacer.delay(now=100.1) == 0.0               # mesh stage idle: start now
    slow = FrontEndPacer(max_delay_s=0.5)
    slow.front_finished(0.01)
    slow.mesh_started(now=0.0)
    slow.mesh_finished(now=30.0)                       # one stalled frame
    slow.mesh_started(now=40.0)
    assert slow.delay(now=40.0) == 0.5                 # bounded


def test_no_pacing_unless_the_mesh_stage_is_clearly_the_slower_half():
    pacer = FrontEndPacer(margin=0.1)
    pacer.frame_dropped(now=0.0)
    for k in range(6):                      # mesh 90 ms; front-end 60 / 110 ms (detector)
        pacer.mesh_started(now=0.1 * k)
        pacer.mesh_finished(now=0.1 * k + 0.09)
        pacer.front_finished(0.11 if k % 2 else 0.06)
    # On average the front-end (85 ms) is about as slow as the mesh stage: waiting for the mesh
    # worker would start the slow front-end frames late, the mesh stage would idle and the rate
    # drop. Free running instead.
    assert not pacer.active(now=0.6)
    for k in range(15):                     # the mesh stage slows down to 130 ms
        pacer.mesh_started(now=1.0 + 0.2 * k)
        pacer.mesh_finished(now=1.0 + 0.2 * k + 0.13)
    pacer.frame_dropped(now=4.0)
    assert pacer.active(now=4.0)            # 130 >= 1.1 x 85: the mesh stage sets the rate


def test_a_slow_mesh_stage_drops_frames_and_every_frame_is_accounted_for():
    frames = [np.zeros((4, 4, 3), np.uint8)] * 5
    stages = SlowStages(front_s=0.001, mesh_s=0.05)
    replay = replay_at_rate(stages, frames, None, rate=100.0, seconds=1.0, pipelined=True)
    done = len(replay.records)
    # Every offered frame gave a result or was dropped (the last one may be left at the end).
    assert 0 <= replay.offered - done - replay.dropped_at_intake <= 2
    assert done < replay.offered / 2                  # the mesh stage is the bottleneck
    latencies = [r['latency_ms'] for r in replay.records]
    assert min(latencies) >= 50.0                     # at least the mesh stage's cost
    frames_out = [r['frame'] for r in replay.records]
    assert frames_out == sorted(frames_out)           # in order
    text = summarise(replay, settle=1)
    assert 'FPS out' in text and 'people per frame 2.0' in text and 'mesh 50' in text


def test_the_per_frame_result_does_not_wait_for_the_temporal_stage():
    frames = [np.zeros((4, 4, 3), np.uint8)] * 5
    stages = SlowStages(front_s=0.001, mesh_s=0.02, temporal_s=0.08)
    replay = replay_at_rate(stages, frames, None, rate=20.0, seconds=1.5, pipelined=True)
    assert len(replay.records) >= 3
    for r in replay.records:
        # the smoothed result comes a whole temporal stage after the per-frame one
        assert r['smoothed_latency_ms'] - r['latency_ms'] >= 80.0
    assert 'smoothed p50' in summarise(replay, settle=1)


def test_the_temporal_worker_frees_the_mesh_stage_for_the_next_frame():
    """temporal_worker: frame k's temporal stage runs beside frame k+1's mesh stage, in order."""
    import threading

    class Recording(SlowStages):
        def __init__(self):
            super().__init__(front_s=0.001, mesh_s=0.005)
            self.threads = {'mesh': set(), 'temporal': set()}
            self.next_mesh = threading.Event()
            self.overlapped = None

        def process_mesh(self, image, camera, front):
            self.threads['mesh'].add(threading.get_ident())
            if self.overlapped is not None:      # a mesh stage after the first temporal one
                self.next_mesh.set()
            return super().process_mesh(image, camera, front)

        def process_temporal(self, result, camera):
            self.threads['temporal'].add(threading.get_ident())
            if self.overlapped is None:          # the first: wait for the next mesh stage
                self.overlapped = False
                self.overlapped = self.next_mesh.wait(timeout=30.0)
            return super().process_temporal(result, camera)

    frames = [np.zeros((4, 4, 3), np.uint8)] * 5
    stages = Recording()
    replay = replay_at_rate(stages, frames, None, rate=50.0, seconds=1.0, pipelined=True)
    assert stages.overlapped is True
    assert not stages.threads['mesh'] & stages.threads['temporal']
    done = [r['frame'] for r in replay.records]
    assert len(done) >= 3 and done == sorted(done)
    two = Recording()
    two.next_mesh.set()                          # nothing to wait for on one thread
    replay_at_rate(two, frames, None, rate=50.0, seconds=0.5, pipelined=True,
                   temporal_worker=False)
    assert two.threads['mesh'] == two.threads['temporal']


def test_pacing_takes_the_wait_out_of_the_latency_at_the_same_rate():
    frames = [np.zeros((4, 4, 3), np.uint8)] * 5
    runs = {}
    for pace in (False, True):
        stages = SlowStages(front_s=0.02, mesh_s=0.06)
        runs[pace] = replay_at_rate(stages, frames, None, rate=100.0, seconds=2.0,
                                    pipelined=True, pace=pace)
    p50 = {pace: np.median([r['latency_ms'] for r in run.records[5:]])
           for pace, run in runs.items()}
    # unpaced: front-end 20 + wait ~40 + mesh 60 ms; paced: ~25 + 60 ms
    assert p50[True] < 0.85 * p50[False], p50
    count = {pace: len(run.records) for pace, run in runs.items()}
    assert count[True] >= 0.8 * count[False], count


def test_lockstep_runs_both_halves_on_each_frame_it_takes():
    frames = [np.zeros((4, 4, 3), np.uint8)]
    stages = SlowStages(front_s=0.01, mesh_s=0.01)
    replay = replay_at_rate(stages, frames, None, rate=50.0, seconds=0.5, pipelined=False)
    assert len(stages.fronts) == len(replay.records) > 0


def test_summarise_refuses_too_few_results():
    assert 'too few results' in summarise(Replay(records=[]), settle=5)


def test_fresh_wait_passes_over_a_frame_older_than_half_a_period():
    pacer = FrontEndPacer(drop_window_s=2.0, fresh_slack_s=0.0)
    for k in range(6):
        pacer.frame_arrived(now=0.1 * k)                # a 10 Hz camera
    assert pacer.fresh_wait(arrived=0.5, now=0.58) == 0.0   # nothing dropped: keeping up
    pacer.frame_dropped(now=0.55)
    assert pacer.fresh_wait(arrived=0.5, now=0.54) == 0.0   # 40 ms old: take it
    # 80 ms old: the next frame is due in 20 ms; waiting saves 60 ms of its age
    assert abs(pacer.fresh_wait(arrived=0.5, now=0.58) - 0.02) < 1e-9
    assert pacer.fresh_wait(arrived=0.5, now=0.7) == 0.0    # the next one is late: take this
    assert pacer.fresh_wait(arrived=0.5, now=3.0) == 0.0    # no drop for 2 s: keeping up


def test_the_intake_wakes_a_wait_for_a_newer_frame():
    import threading
    slot = LatestSlot()
    assert slot.newest() is None
    slot.put('a')
    assert slot.newest() == 'a'
    t0 = time.monotonic()
    slot.wait_newer('a', 0.05)                          # nothing newer: the timeout
    assert time.monotonic() - t0 >= 0.04
    threading.Timer(0.05, lambda: slot.put('b')).start()
    t0 = time.monotonic()
    slot.wait_newer('a', 30.0)
    assert time.monotonic() - t0 < 20.0 and slot.take() == 'b'


def test_a_slow_front_end_takes_fresh_frames():
    frames = [np.zeros((4, 4, 3), np.uint8)] * 5
    waits = {}
    for pace in (False, True):
        # The front-end (130 ms) is slower than the camera's period (100 ms): unpaced, the
        # frame it takes has waited 0-100 ms (measured: mean 49); with fresh frames at most
        # about 50 (mean 17).
        stages = SlowStages(front_s=0.13, mesh_s=0.01)
        run = replay_at_rate(stages, frames, None, rate=10.0, seconds=4.0, pipelined=True,
                             pace=pace)
        waits[pace] = np.mean([r['latency_ms'] - 140.0 for r in run.records[8:]])
    assert waits[True] < 0.7 * waits[False], waits


def test_a_stage_that_raises_costs_its_frame_not_the_replay(caplog):
    """As hmr_node: a frame a stage fails on is counted and logged, and the replay goes on
    (it used to stop that stage's worker and leave the others waiting on it for ever)."""
    class Failing(SlowStages):
        def process_temporal(self, result, camera):
            self.calls = getattr(self, 'calls', 0) + 1
            if self.calls == 3:
                raise IndexError('a bug on one frame')
            return super().process_temporal(result, camera)

    frames = [np.zeros((4, 4, 3), np.uint8)] * 5
    for pipelined in (True, False):
        stages = Failing(front_s=0.001, mesh_s=0.005)
        replay = replay_at_rate(stages, frames, None, rate=50.0, seconds=1.0,
                                pipelined=pipelined)
        assert replay.errors == 1 and len(replay.records) >= 10
        assert 'process_temporal failed on frame' in caplog.text
        assert 'IndexError: a bug on one frame' in caplog.text


def test_a_clip_is_fitted_into_the_canvas_once_or_as_a_grid_of_copies():
    """fit_to_canvas: aspect kept, centred with black borders; 2x1 gives two side by side."""
    image = np.full((576, 768, 3), 200, np.uint8)           # vtest.avi's 4:3
    image[:, :384] = 50                                     # left half darker
    one = fit_to_canvas(image, (1280, 720))
    assert one.shape == (720, 1280, 3)
    filled = np.flatnonzero(one[360, :, 0])
    assert (filled[0], filled[-1]) == (160, 1119)          # 960 px wide, centred
    assert one[0, 640].any() and not one[:, :160].any()     # full height, black sides
    two = fit_to_canvas(image, (1280, 720), (2, 1))
    rows = np.flatnonzero(two[:, 320, 0])
    assert (rows[0], rows[-1]) == (120, 599)                # 640x480 in each 640x720 cell
    np.testing.assert_array_equal(two[:, :640], two[:, 640:])   # the same copy twice
    assert two[360, 10, 0] == 50 and two[360, 630, 0] == 200    # not mirrored
