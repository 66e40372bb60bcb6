"""The user-path figures of the README: the commands a user types, measured as they run.

1. The video-file command, `ros2 launch hmr_ros live.launch.py source:=CLIP loop:=false`, on the
   bundled clip: frames the source sent and the node finished (every-frame mode: in = out),
   and how long the whole command took.
2. The main command, `ros2 launch hmr_ros live.launch.py`, with RViz-like subscribers on every
   output topic: messages per second of each, for `--seconds` after the first marker.
3. `hmr-bag record` of the camera and the results for `--seconds`, raw and with
   `--compress-images --zstd`: the bag sizes.

    .venv/bin/python benchmarks/bench_userpaths.py [--seconds 20] [--only video markers bag]

Run with the environment of scripts/setup.sh; every run gets its own ROS domain.
"""
import argparse
import os
from pathlib import Path
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ros_listener import BackgroundNode  # this folder (the script's own)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / 'media' / 'sample_sports2d.mp4'
BIN = Path(sys.executable).parent


def ros2():
    candidate = BIN / 'ros2'
    return [str(candidate)] if candidate.exists() else [
        sys.executable, '-c', 'import sys; from hmr_ros.ros2_shim import main; sys.exit(main())']


def spawn(cmd, log):
    # A process group, not a new session: a run started at a higher scheduling priority (its
    # autogroup's nice value) keeps it for the launches it measures.
    return subprocess.Popen(cmd, stdout=open(log, 'w'), stderr=subprocess.STDOUT,
                            process_group=0)


def interrupt(proc, timeout=60):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


class Listener(BackgroundNode):
    """Subscribers on every output of the main launch, as RViz and a user's node would be."""

    def __init__(self):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from visualization_msgs.msg import MarkerArray

        from hmr_ros.msg import SMPLPersonArray
        super().__init__('bench_userpaths')
        topics = {'/hmr_node/persons': SMPLPersonArray,
                  '/hmr_node/persons_smoothed': SMPLPersonArray,
                  '/hmr_node/markers': MarkerArray, '/hmr_node/overlay': Image,
                  '/hmr_node/debug_image': Image, '/diagnostics': DiagnosticArray}
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.times = {t: [] for t in topics}
        for topic, msg_type in topics.items():
            self.node.create_subscription(msg_type, topic,
                                          lambda _msg, t=topic: self.times[t].append(
                                              time.monotonic()), qos)
        self.start()

    def rates(self, since, until):
        return {t: sum(since <= s < until for s in v) / (until - since)
                for t, v in self.times.items()}


def video_file(work, timeout):
    t0 = time.monotonic()
    log = work / 'video.log'
    proc = spawn([*ros2(), 'launch', 'hmr_ros', 'live.launch.py', f'source:={SAMPLE}',
                  'loop:=false', 'viewer:=false'], log)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        interrupt(proc)
    text = log.read_text()
    node = re.findall(r'frames (\d+) in, (\d+) done, (\d+) dropped \(busy\)', text)
    source = re.findall(r'(\d+) frames sent, (\d+) acknowledged', text)
    fps = re.findall(r'out ([\d.]+) FPS', text)
    print(f'\n== video file: ros2 launch hmr_ros live.launch.py source:={SAMPLE.name} '
          'loop:=false')
    print(f'exit code {proc.returncode}, {time.monotonic() - t0:.0f} s in all')
    print(f'camera_source: {source[-1][0] if source else "?"} frames sent, '
          f'{source[-1][1] if source else "?"} acknowledged')
    if node:
        print(f'hmr_node: {node[-1][0]} in, {node[-1][1]} done, {node[-1][2]} dropped (busy); '
              f'output {fps[-1] if fps else "?"} FPS')
    else:
        print(f'hmr_node printed no summary (log: {log})')


def markers(work, seconds, timeout):
    listener = Listener()
    log = work / 'markers.log'
    proc = spawn([*ros2(), 'launch', 'hmr_ros', 'live.launch.py'], log)
    try:
        deadline = time.monotonic() + timeout
        while not listener.times['/hmr_node/markers']:
            if time.monotonic() > deadline or proc.poll() is not None:
                print(f'no markers within {timeout} s (log: {log})')
                return
            time.sleep(0.2)
        start = time.monotonic()
        time.sleep(seconds)
        rates = listener.rates(start, time.monotonic())
    finally:
        interrupt(proc)
        listener.close()
    print(f'\n== main command with a subscriber on every output: messages/s over {seconds} s')
    for topic, rate in rates.items():
        print(f'{topic:30} {rate:6.2f}')


def bag_size(path):
    return sum(f.stat().st_size for f in Path(path).rglob('*') if f.is_file())


def bags(work, seconds, timeout):
    print(f'\n== hmr-bag record, {seconds} s of the main command (1280x720 at 30 FPS)')
    for label, options in (('raw', []), ('JPEG + zstd', ['--compress-images', '--zstd'])):
        out = work / f'bag_{len(options)}'
        launch = spawn([*ros2(), 'launch', 'hmr_ros', 'live.launch.py', 'viewer:=false'],
                       work / f'bag_launch_{len(options)}.log')
        recorder = None
        try:
            listener_log = work / f'bag_record_{len(options)}.log'
            recorder = spawn([str(BIN / 'hmr-bag'), 'record', '-o', str(out), *options,
                              '/camera/image_raw', '/camera/camera_info', '/hmr_node/persons'],
                             listener_log)
            deadline = time.monotonic() + timeout
            while not out.exists() or bag_size(out) == 0:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            time.sleep(seconds)
        finally:
            if recorder is not None:
                interrupt(recorder)
            interrupt(launch)
        counts = re.findall(r'wrote .*', listener_log.read_text())
        print(f'{label:12} {bag_size(out) / 1e6:9.1f} MB  {counts[-1] if counts else ""}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--timeout', type=float, default=600.0)
    parser.add_argument('--only', nargs='+', default=['video', 'markers', 'bag'],
                        choices=['video', 'markers', 'bag'])
    parser.add_argument('--keep', action='store_true', help='keep the logs and bags')
    args = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 200)))
    from hmr_ros.transport import use_large_image_transport
    use_large_image_transport()     # as the launch files' processes
    os.environ['PYTHONPATH'] = os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])
    work = Path(tempfile.mkdtemp(prefix='bench_userpaths_'))
    print(f'{time.strftime("%Y-%m-%d %H:%M")}, {os.cpu_count()} cores, logs in {work}')
    if 'video' in args.only:
        video_file(work, args.timeout)
    if 'markers' in args.only:
        markers(work, args.seconds, args.timeout)
    if 'bag' in args.only:
        bags(work, args.seconds, args.timeout)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
