"""The camera-rate replay of benchmarks/bench_pipeline.py: drops counted, latency measured."""
from dataclasses import dataclass, field
import time

import numpy as np

from hmr_models.eval.realtime import Replay, Slot, replay_at_rate, summarise


@dataclass
class _Result:
    people: list
    timings_ms: dict = field(default_factory=dict)


class SlowStages:
    """Stands in for HMRPipeline's two halves with fixed costs (the harness is under test)."""

    def __init__(self, front_s, mesh_s):
        self.front_s, self.mesh_s = front_s, mesh_s
        self.fronts = []

    def process_front(self, image, stamp):
        time.sleep(self.front_s)
        self.fronts.append(stamp)
        return image

    def process_bodies(self, image, camera, front):
        time.sleep(self.mesh_s)
        return _Result(people=[0, 1], timings_ms={'mesh': 1e3 * self.mesh_s})


def test_slot_keeps_the_newest_and_counts_the_rest():
    slot = Slot()
    for k in range(3):
        slot.put(k)
    assert slot.take() == 2 and slot.dropped == 2
    slot.close()
    assert slot.take() is None


def test_a_slow_mesh_stage_drops_frames_and_every_frame_is_accounted_for():
    frames = [np.zeros((4, 4, 3), np.uint8)] * 5
    stages = SlowStages(front_s=0.001, mesh_s=0.05)
    replay = replay_at_rate(stages, frames, None, rate=100.0, seconds=1.0, pipelined=True)
    done = len(replay.records)
    # Every offered frame either gave a result or was dropped at one of the two places.
    assert replay.offered == done + replay.dropped_at_intake + replay.dropped_between_stages
    assert replay.dropped_between_stages > 0          # the mesh stage is the bottleneck
    assert done < replay.offered / 2
    latencies = [r['latency_ms'] for r in replay.records]
    assert min(latencies) >= 50.0                     # at least the mesh stage's cost
    frames_out = [r['frame'] for r in replay.records]
    assert frames_out == sorted(frames_out)           # in order, newest-first never reorders
    text = summarise(replay, settle=1)
    assert 'FPS out' in text and 'people per frame 2.0' in text and 'mesh 50' in text


def test_lockstep_runs_both_halves_on_each_frame_it_takes():
    frames = [np.zeros((4, 4, 3), np.uint8)]
    stages = SlowStages(front_s=0.01, mesh_s=0.01)
    replay = replay_at_rate(stages, frames, None, rate=50.0, seconds=0.5, pipelined=False)
    assert len(stages.fronts) == len(replay.records) > 0
    assert replay.dropped_between_stages == 0


def test_summarise_refuses_too_few_results():
    assert 'too few results' in summarise(Replay(records=[]), settle=5)
