"""Live throughput and latency: camera_source + hmr_node as real processes, as a robot runs them.

For each clip, camera_source publishes it at a camera's rate (real-time mode: the node keeps the
newest frame and drops the rest) and hmr_node processes what it can, for `--seconds` after the
first result. Printed per run: input and output FPS, latency from the image's stamp to the
per-frame result's arrival here (p50/p95/p99; /hmr_node/persons, published before the temporal
stage) and to the smoothed result's (p50/p95; /hmr_node/persons_smoothed), frames dropped,
the node's pipeline errors since it started (`err`: a stage raised; the frame was counted and
acknowledged), people per frame, the node's per-stage median times, CPU % of each process
and the node's peak RSS, and the start: seconds from the node's process to its first result.

`--compare REV` runs the same on another commit in the same session (its code checked out into
a temporary worktree, run with this environment) and prints the ratios: on a shared machine the
ratios of one run are the evidence, the absolute figures context.

    .venv/bin/python benchmarks/bench_live.py --seconds 40
    .venv/bin/python benchmarks/bench_live.py --clip vtest.avi --compare HEAD~3
    .venv/bin/python benchmarks/bench_live.py --set pipelining:=false --set backend:=torch
    .venv/bin/python benchmarks/bench_live.py --view    # markers, overlay, debug image too
    .venv/bin/python benchmarks/bench_live.py --clip vtest.avi --tile 2x1 \
        --set frontend.max_people:=7                     # 7 people
"""
import argparse
import os
from pathlib import Path
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from ros_listener import BackgroundNode  # this folder (the script's own)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / 'media' / 'sample_sports2d.mp4'
VTEST = Path('/usr/share/doc/opencv-doc/examples/data/vtest.avi')
# where a bare clip name is also looked for: opencv-doc's examples, scripts/fetch_eval_data.sh
CLIP_FOLDERS = (VTEST.parent, REPO / 'data' / 'real' / 'opencv', REPO / 'media')
STAGES = ('arrival', 'wait_intake', 'decode', 'frontend_detector', 'frontend_keypoints',
          'frontend_tracking', 'frontend', 'wait_mesh', 'mesh', 'mesh_dpmesh', 'mesh_body',
          'temporal', 'publish')


class Observer(BackgroundNode):
    """Subscribes to the node's results and diagnostics (in this process, its own domain)."""

    def __init__(self, view=False):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from hmr_ros.msg import SMPLPersonArray
        super().__init__('bench_live')
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.results = []      # (arrival wall time, stamp wall time, people)
        self.smoothed = []     # (arrival wall time, stamp wall time) of the DiffMesh stream
        self.diagnostics = {}
        self.node.create_subscription(SMPLPersonArray, '/hmr_node/persons', self._on_persons,
                                      reliable)
        self.node.create_subscription(SMPLPersonArray, '/hmr_node/persons_smoothed',
                                      self._on_smoothed, reliable)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, reliable)
        self.viewed = {}       # display topic -> arrival times (--view)
        if view:
            from sensor_msgs.msg import Image
            from visualization_msgs.msg import MarkerArray
            # As RViz would: every display output, taken as bytes (RViz decodes in C++, so
            # decoding them in Python here would charge the machine more than RViz does).
            for topic, msg_type in (('/hmr_node/markers', MarkerArray),
                                    ('/hmr_node/overlay', Image),
                                    ('/hmr_node/debug_image', Image)):
                self.viewed[topic] = []
                self.node.create_subscription(
                    msg_type, topic, lambda _, times=self.viewed[topic]: times.append(time.time()),
                    QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE), raw=True)
        self.start()

    def _on_persons(self, msg):
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.results.append((time.time(), stamp, len(msg.persons)))

    def _on_smoothed(self, msg):
        self.smoothed.append((time.time(), msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))

    def _on_diag(self, msg):
        for status in msg.status:
            if status.name.startswith('hmr_node'):
                self.diagnostics = {kv.key: kv.value for kv in status.values}


def cpu_seconds(pid):
    """utime + stime of a process, seconds."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def peak_rss_mb(pid):
    match = re.search(r'VmHWM:\s+(\d+) kB', Path(f'/proc/{pid}/status').read_text())
    return int(match.group(1)) / 1024 if match else float('nan')


def start(code, module, params, env, log_path):
    cmd = [sys.executable, '-m', module, '--ros-args', *params]
    log = open(log_path, 'w')
    # Same session as this script: a benchmark started at a higher scheduling priority
    # (its autogroup's nice value) keeps it for the nodes it measures.
    return subprocess.Popen(cmd, cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT,
                            process_group=0)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(code, clip, args, label):
    """One measured run of the code in folder `code` on `clip`; returns a dict of figures."""
    from hmr_ros.transport import use_large_image_transport
    use_large_image_transport()     # this process and the nodes: as the launch files' processes
    env = dict(os.environ)
    env['PYTHONPATH'] = str(code)
    params_file = Path(code) / 'config' / 'hmr.yaml'
    logs = Path(tempfile.mkdtemp(prefix='bench_live_'))
    observer = Observer(view=args.view)
    node_params = ['--params-file', str(params_file), '-p', 'image_topic:=/camera/image_raw']
    for item in args.set:
        node_params += ['-p', item]
    spawned = time.time()         # the observer stamps results with wall time
    node = start(code, 'hmr_ros.hmr_node', node_params, env, logs / 'hmr_node.log')
    source_params = ['-r', '__ns:=/camera', '--params-file', str(params_file),
                     '-p', f'source:={clip}', '-p', 'loop:=true', '-p', 'every_frame:=false',
                     '-p', f'rate:={args.rate}', '-p', f'max_width:={args.max_width}',
                     '-p', 'ready_topic:=/hmr_node/ready']
    source = start(code, 'hmr_ros.camera_source', source_params, env, logs / 'camera.log')
    try:
        deadline = time.monotonic() + args.start_timeout
        first_result = None     # the start as a user waits for it: process to first people
        while len(observer.results) < 3:
            if first_result is None and observer.results:
                first_result = observer.results[0][0] - spawned
            if time.monotonic() > deadline or node.poll() is not None \
                    or source.poll() is not None:
                raise RuntimeError(f'{label}: no results from hmr_node (logs in {logs})')
            time.sleep(0.2)
        time.sleep(args.settle)
        cpu0 = {n: cpu_seconds(p.pid) for n, p in (('node', node), ('source', source))}
        first, first_smoothed = len(observer.results), len(observer.smoothed)
        first_viewed = {topic: len(times) for topic, times in observer.viewed.items()}
        t0 = time.monotonic()
        diag0 = dict(observer.diagnostics)
        time.sleep(args.seconds)
        elapsed = time.monotonic() - t0
        cpu1 = {n: cpu_seconds(p.pid) for n, p in (('node', node), ('source', source))}
        window = observer.results[first:]
        smoothed = observer.smoothed[first_smoothed:]
        viewed = {topic.rsplit('/', 1)[1]: (len(times) - first_viewed[topic]) / elapsed
                  for topic, times in observer.viewed.items()}
        diag1 = dict(observer.diagnostics)
        rss = peak_rss_mb(node.pid)
    finally:
        stop(source)
        stop(node)
        observer.close()
    latency = np.array([(arrival - stamp) * 1e3 for arrival, stamp, _ in window])
    smoothed = np.array([(arrival - stamp) * 1e3 for arrival, stamp in smoothed] or [np.nan])
    frames_in = int(diag1.get('frames_in', 0)) - int(diag0.get('frames_in', 0))
    done = int(diag1.get('processed', 0)) - int(diag0.get('processed', 0))
    return {
        'label': label, 'clip': Path(clip).name, 'start_s': first_result or float('nan'),
        'in_fps': frames_in / elapsed, 'out_fps': len(window) / elapsed,
        'lat_p50': np.percentile(latency, 50), 'lat_p95': np.percentile(latency, 95),
        'lat_p99': np.percentile(latency, 99),
        'smoothed_p50': np.percentile(smoothed, 50), 'smoothed_p95': np.percentile(smoothed, 95),
        'dropped_pct': 100.0 * (frames_in - done) / max(frames_in, 1),
        'people': float(np.median([n for _, _, n in window])),
        'cpu_node': 100.0 * (cpu1['node'] - cpu0['node']) / elapsed,
        'cpu_source': 100.0 * (cpu1['source'] - cpu0['source']) / elapsed,
        'rss_node_mb': rss,
        'stages': {k[len('stage_ms_'):]: float(v) for k, v in diag1.items()
                   if k.startswith('stage_ms_')},
        'errors': diag1.get('errors', '?'),
        'viewed_fps': viewed,
    }


def fit_clip(clip, canvas, frames, folder, tile=(1, 1)):
    """The clip fitted (aspect kept, black borders) into a canvas, e.g. 1280x720, as an MP4.

    So that every clip loads the node like a camera of that size (the goal's 1280x720 30 FPS
    source), whatever the size of the footage it shows; `tile` (cols, rows) copies of it side
    by side make a crowd of one clip (e.g. vtest.avi's 5-6 people twice: 7 and more).
    """
    import cv2
    from hmr_models.eval.realtime import fit_to_canvas
    width, height = canvas
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise SystemExit(f'cannot read the clip {clip}')
    grid = '' if tuple(tile) == (1, 1) else f'_{tile[0]}x{tile[1]}'
    out_path = Path(folder) / f'{Path(clip).stem}_{width}x{height}{grid}.mp4'
    out = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*'mp4v'), 30.0, (width, height))
    written = 0
    while written < frames:
        ok, bgr = cap.read()
        if not ok:
            break
        out.write(fit_to_canvas(bgr, canvas, tile))
        written += 1
    out.release()
    cap.release()
    if written == 0:
        raise SystemExit(f'no frames in the clip {clip}')
    return out_path


def located(name):
    """The clip `name` as given, else in CLIP_FOLDERS (e.g. 'vtest.avi'); None if nowhere."""
    return next((str(path) for path in [Path(name)] + [folder / name for folder in CLIP_FOLDERS]
                 if path.is_file()), None)


def find_clip(name):
    """located(name), or exit saying where it was looked for."""
    found = located(name)
    if found is not None:
        return found
    raise SystemExit(f'clip {name} not found (looked in {", ".join(map(str, CLIP_FOLDERS))}; '
                     'scripts/fetch_eval_data.sh puts vtest.avi in data/real/opencv)')


def checkout(rev):
    """A temporary worktree of `rev` (removed at exit by the caller)."""
    folder = Path(tempfile.mkdtemp(prefix='bench_rev_'))
    subprocess.run(['git', 'worktree', 'add', '--detach', str(folder), rev], cwd=REPO,
                   check=True, capture_output=True)
    return folder


def report(rows):
    print(f"\n{'run':18} {'clip':22} {'in':>5} {'out':>5} {'p50':>6} {'p95':>6} {'p99':>6} "
          f"{'drop%':>6} {'err':>4} {'ppl':>4} {'cpu node':>8} {'cpu src':>7} {'rss MB':>7} "
          f"{'smoothed p50/p95':>16} {'start s':>7}")
    for r in rows:
        print(f"{r['label'][:18]:18} {r['clip'][:22]:22} {r['in_fps']:5.1f} {r['out_fps']:5.1f} "
              f"{r['lat_p50']:6.0f} {r['lat_p95']:6.0f} {r['lat_p99']:6.0f} "
              f"{r['dropped_pct']:6.1f} {r['errors']:>4} {r['people']:4.0f} {r['cpu_node']:7.0f}% "
              f"{r['cpu_source']:6.0f}% {r['rss_node_mb']:7.0f} "
              f"{r['smoothed_p50']:9.0f} / {r['smoothed_p95']:4.0f} {r['start_s']:7.1f}")
    print('\nper-stage medians (ms, from the node\'s diagnostics):')
    for r in rows:
        stages = ', '.join(f'{k} {r["stages"][k]:.1f}' for k in STAGES if k in r['stages'])
        print(f"  {r['label'][:18]:18} {r['clip'][:22]:22} {stages}")
    if any(r['viewed_fps'] for r in rows):
        print('\ndisplay outputs received (messages/s, --view):')
        for r in rows:
            rates = ', '.join(f'{k} {v:.1f}' for k, v in r['viewed_fps'].items())
            print(f"  {r['label'][:18]:18} {r['clip'][:22]:22} {rates}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clip', action='append', help='video to play (repeatable); default: '
                        'the bundled clip, and vtest.avi when found (opencv-doc, data/real)')
    parser.add_argument('--seconds', type=float, default=30.0)
    parser.add_argument('--rate', type=float, default=30.0, help='camera rate (Hz)')
    parser.add_argument('--max-width', type=int, default=1280)
    parser.add_argument('--settle', type=float, default=5.0, help='seconds after the first '
                        'results before measuring')
    parser.add_argument('--start-timeout', type=float, default=300.0)
    parser.add_argument('--set', action='append', default=[], metavar='NAME:=VALUE',
                        help='an hmr_node parameter for every run')
    parser.add_argument('--view', action='store_true', help='also subscribe to the markers, '
                        'overlay and debug image (as RViz does) and print their rates')
    parser.add_argument('--compare', metavar='REV', help='also run this commit; print ratios')
    parser.add_argument('--canvas', default='1280x720', help="fit every clip into frames of "
                        "this size (aspect kept, borders), 30 FPS; '' = play clips as they are")
    parser.add_argument('--frames', type=int, default=300, help='frames of each fitted clip')
    parser.add_argument('--tile', default='1x1', help='COLSxROWS copies of each clip in the '
                        'canvas (with --canvas), e.g. 2x1: vtest.avi twice side by side, a crowd '
                        'of 7 and more')
    args = parser.parse_args()
    clips = [find_clip(c) for c in args.clip] if args.clip else \
        [str(SAMPLE)] + [c for c in [located(VTEST.name)] if c is not None]
    if args.canvas:
        folder = tempfile.mkdtemp(prefix='bench_clips_')
        size = tuple(int(v) for v in args.canvas.lower().split('x'))
        tile = tuple(int(v) for v in args.tile.lower().split('x'))
        clips = [str(fit_clip(c, size, args.frames, folder, tile)) for c in clips]
    elif args.tile != '1x1':
        raise SystemExit('--tile needs a --canvas')
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 200)))
    print(f"bench_live {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, camera "
          f"{args.rate:g} Hz at <= {args.max_width} px, {args.seconds:g} s per run"
          + (f", node parameters {' '.join(args.set)}" if args.set else ''))
    codes = [('HEAD' if not args.compare else 'this tree', REPO)]
    worktree = None
    if args.compare:
        worktree = checkout(args.compare)
        codes.append((args.compare, worktree))
    rows = []
    try:
        for clip in clips:
            for label, code in codes:
                print(f'running {label} on {Path(clip).name} ...', flush=True)
                rows.append(run(code, clip, args, label))
    finally:
        if worktree is not None:
            subprocess.run(['git', 'worktree', 'remove', '--force', str(worktree)], cwd=REPO,
                           capture_output=True)
    report(rows)
    if args.compare:
        print(f'\nratios, this tree / {args.compare}:')
        for clip in clips:
            a, b = [r for r in rows if r['clip'] == Path(clip).name]
            print(f"  {Path(clip).name}: out FPS x{a['out_fps'] / max(b['out_fps'], 1e-9):.2f}, "
                  f"latency p50 x{a['lat_p50'] / b['lat_p50']:.2f}, "
                  f"p95 x{a['lat_p95'] / b['lat_p95']:.2f}, "
                  f"node CPU x{a['cpu_node'] / max(b['cpu_node'], 1e-9):.2f}, "
                  f"start x{a['start_s'] / b['start_s']:.2f}")


if __name__ == '__main__':
    main()
