"""The web viewer's cost: hmr_node's output FPS without and with it, in one run, and its CPU.

    python benchmarks/bench_viewer.py [--phase-seconds 45] [--screenshot docs/results/viewer.png]

Starts `ros2 launch hmr_ros live.launch.py viewer:=false` (the bundled clip), then runs four
phases of the same launch: (1) no viewer, (2) the viewer with no browser, (3) the viewer with
a headless chromium showing the page (software WebGL, on the same cores), (4) no viewer
again. Prints hmr_node's output FPS per phase (mean of its /diagnostics over the phase, after
a settling time), the ratio to the mean of the two phases without the viewer, the viewer
process's CPU (% of one core, /proc) and the browser's. With --screenshot, the page at the end
of phase 3 is saved as PNG. Needs Debian's chromium and playwright for phase 3.
"""
import argparse
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import threading
import time

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / 'test'):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total


def descendants(root):
    """Pids of every process below `root` (the browser's processes below playwright's)."""
    children = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            ppid = int(stat.read_text().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Diagnostics:
    def __init__(self):
        rclpy.init()
        self.node = rclpy.create_node('bench_viewer')
        self.samples = []       # (time, hmr_node output_fps)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on, 10)
        self._stop = False
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _on(self, msg):
        for s in msg.status:
            if s.name.startswith('hmr_node'):
                values = {kv.key: kv.value for kv in s.values}
                self.samples.append((time.monotonic(), float(values['output_fps'])))

    def _spin(self):
        while not self._stop:
            rclpy.spin_once(self.node, timeout_sec=0.1)

    def mean_fps(self, start, end):
        fps = [f for t, f in self.samples if start <= t <= end]
        return sum(fps) / len(fps) if fps else float('nan')

    def close(self):
        self._stop = True
        self.thread.join(timeout=2)
        self.node.destroy_node()
        rclpy.shutdown()


def start(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_text(path, pattern, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, Path(path).read_text(errors='replace'))
        if m:
            return m
        time.sleep(0.5)
    raise SystemExit(f'timed out waiting for {pattern!r} in {path}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--phase-seconds', type=float, default=45.0)
    ap.add_argument('--settle-seconds', type=float, default=10.0)
    ap.add_argument('--port', type=int, default=8080)
    ap.add_argument('--screenshot', type=Path, default=None)
    ap.add_argument('--logs', type=Path, default=Path('out/bench_viewer'))
    args = ap.parse_args()
    from hmr_ros.transport import use_large_image_transport
    use_large_image_transport()     # as the launch files' processes
    args.logs.mkdir(parents=True, exist_ok=True)
    ros2 = str(Path(sys.executable).parent / 'ros2')
    diag = Diagnostics()
    launch_log = open(args.logs / 'launch.log', 'w')
    launch = start([ros2, 'launch', 'hmr_ros', 'live.launch.py', 'viewer:=false'], launch_log)
    rows = []
    try:
        t0 = time.monotonic()
        while not any(f > 0 for _, f in diag.samples):
            if time.monotonic() - t0 > 300:
                raise SystemExit('hmr_node produced nothing in 300 s')
            time.sleep(1.0)
        time.sleep(args.settle_seconds)

        def phase(name, cpu_pids=lambda: [], browser_pids=lambda: []):
            begin = time.monotonic()
            cpu0, bcpu0 = cpu_seconds(cpu_pids()), cpu_seconds(browser_pids())
            time.sleep(args.phase_seconds)
            end = time.monotonic()
            cpu = 100 * (cpu_seconds(cpu_pids()) - cpu0) / (end - begin)
            bcpu = 100 * (cpu_seconds(browser_pids()) - bcpu0) / (end - begin)
            rows.append((name, diag.mean_fps(begin, end), cpu, bcpu))
            print(f'{name}: {rows[-1][1]:.2f} FPS out, viewer {cpu:.1f} % CPU, browser '
                  f'{bcpu:.1f} % CPU', flush=True)

        phase('no viewer')
        viewer_log = open(args.logs / 'viewer.log', 'w')
        viewer = start([ros2, 'run', 'hmr_ros', 'viewer', '--ros-args',
                        '-p', f'viewer_port:={args.port}'], viewer_log)
        url = wait_text(args.logs / 'viewer.log', r'web viewer ready: (http://\S+)', 120)[1]
        time.sleep(args.settle_seconds)
        phase('viewer, no browser', lambda: [viewer.pid])
        from viewer.browser import browser, open_viewer
        with browser() as b:
            page = open_viewer(b, url)
            time.sleep(args.settle_seconds)

            def browser_pids():   # below this process, less the launch and the viewer
                ours = {launch.pid, viewer.pid, *descendants(launch.pid),
                        *descendants(viewer.pid)}
                return [p for p in descendants(os.getpid()) if p not in ours]
            phase('viewer + headless chromium', lambda: [viewer.pid], browser_pids)
            if args.screenshot is not None:
                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.screenshot))
                print(f'screenshot: {args.screenshot}')
        stop(viewer)
        time.sleep(args.settle_seconds)
        phase('no viewer again')
    finally:
        stop(launch)
        diag.close()
    base = (rows[0][1] + rows[-1][1]) / 2
    print('\n| phase | hmr_node output FPS | ratio to no viewer | viewer CPU % | browser CPU % |')
    print('|---|---|---|---|---|')
    for name, fps, cpu, bcpu in rows:
        print(f'| {name} | {fps:.2f} | {fps / base:.2f} | {cpu:.1f} | {bcpu:.1f} |')


if __name__ == '__main__':
    main()
