"""The README's evaluation commands, end to end: hmr-synth writes bags, hmr-eval scores the node.

`hmr-eval` runs each bag through the real hmr_node (eval.launch.py: bag_play in lockstep ->
hmr_node -> eval_record), records the result bag and writes the report; the same with
`ros2 launch hmr_ros eval.launch.py`. One short bag (10 frames) from a tiny corpus (4 DeepMimic
clips) keeps it short; a bag set run in one node start is tested without the node
(test/ros/test_eval_tool.py).
"""
import json
import sys
from pathlib import Path

import pytest

from hmr_ros.bags import bag_info
from userpaths.conftest import ros2_command

TIMEOUT = 900   # model loading, a short scene and the report on a busy 2-core machine
# The shared data beside the checkout (also found from a git worktree deeper in the tree).
SHARED_MOCAP = next((p / 'shared' / 'data' / 'mocap' for p in Path(__file__).resolve().parents
                     if (p / 'shared' / 'data' / 'mocap').is_dir()),
                    Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'mocap')


def program(name):
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope='module')
def synth_bags(tmp_path_factory):
    """One SynthOcc-style scene written as a bag by `hmr-synth --bags` (README command)."""
    import subprocess
    if not (SHARED_MOCAP / 'deepmimic' / 'humanoid.urdf').is_file():
        pytest.skip(f'shared mocap data not found at {SHARED_MOCAP}')
    try:
        from hmr_models.body import load_body_model
        from hmr_models.data.synth.render import make_renderer
        make_renderer(load_body_model().faces).release()
    except Exception as exc:
        pytest.skip(f'no OpenGL renderer here: {exc}')
    from hmr_models.data.mocap.corpus import build_corpus
    root = tmp_path_factory.mktemp('synth')
    corpus = build_corpus(cache_dir=root / 'cache', mocap_dir=SHARED_MOCAP,
                          collections=('deepmimic',), limit=4, progress=False)
    out = subprocess.run([program('hmr-synth'), '--out', str(root / 'test'), '--scenes', '1',
                          '--frames', '10', '--split', 'train', '--bags', '1', '--seed', '0',
                          '--corpus', str(corpus.root)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    bags = root / 'test' / 'bags'
    topics = {t.topic: t.count for t in bag_info(bags / 'scene_00000').topics}
    # Complete for evaluation: images, camera_info and ground truth in every frame.
    assert topics['/camera/image_raw'] == topics['/camera/camera_info'] == 10
    assert topics['/ground_truth/persons'] == 10
    return bags


def test_hmr_eval_on_synth_bags(spawn, synth_bags, tmp_path):
    out = tmp_path / 'eval'
    run = spawn(program('hmr-eval'), str(synth_bags), '--out', str(out), '--delay-frames', '4')
    assert run.wait(timeout=TIMEOUT) == 0, run.text
    metrics = json.loads((out / 'metrics.json').read_text())
    s = metrics['summary']
    assert s['runtime']['frames'] == 10 and s['runtime']['processed'] == 10, run.text
    assert s['runtime']['mode'] == 'lockstep'
    assert set(metrics['runs']) == {'scene_00000'}
    for stream in ('persons', 'persons_smoothed'):
        if s[stream].get('person-frames'):
            assert 0 < s[stream]['MPJPE'] < 1000, s[stream]
    # --delay-frames: the delayed stream is recorded and scored too, its last 4 frames
    # published at the end of the bag
    if s['persons_smoothed'].get('person-frames'):
        delayed = s['persons_delayed']
        assert 0 < delayed['person-frames'] <= s['persons_smoothed']['person-frames'], s
        assert 0 < delayed['MPJPE'] < 1000, delayed
        log = (out / 'logs' / 'scene_00000.log').read_text()
        assert 'end of stream: its last 4 frames published' in log, log
    assert 'tracking' in s and 0 <= s['tracking']['recall'] <= 1
    assert (out / 'report.html').stat().st_size > 20_000
    assert 'FPS in' in run.text


def test_hmr_eval_realtime_ends_the_delayed_stream_too(spawn, synth_bags, tmp_path):
    """At the bag's own timing (the node drops frames as live) the player still announces the
    end, once the node is done with the last image, and the delayed stream's last frames come."""
    out = tmp_path / 'rt'
    run = spawn(program('hmr-eval'), str(synth_bags), '--out', str(out), '--mode', 'realtime',
                '--delay-frames', '4')
    assert run.wait(timeout=TIMEOUT) == 0, run.text
    s = json.loads((out / 'metrics.json').read_text())['summary']
    assert s['runtime']['mode'] == 'realtime'
    recorded = json.loads((out / 'sequences' / 'scene_00000' / 'run.json').read_text())
    assert recorded['complete'] and recorded['end_acknowledged'], recorded
    if s['persons_smoothed'].get('person-frames'):
        log = (out / 'logs' / 'scene_00000.log').read_text()
        assert 'end of stream: its last' in log and 'frames published' in log, log


def test_eval_launch_file_on_one_bag(spawn, synth_bags, tmp_path):
    out = tmp_path / 'one'
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'eval.launch.py',
                   f'bag:={synth_bags / "scene_00000"}', f'out:={out}',
                   'people_topic:=/ground_truth/detections')
    assert launch.wait(timeout=TIMEOUT) == 0, launch.text
    assert 'all 10 images acknowledged' in launch.text, launch.text
    s = json.loads((out / 'metrics.json').read_text())['summary']
    assert s['runtime']['processed'] == 10, launch.text
    assert (out / 'report.html').is_file()
