r"""Watch the humans node as a subscriber does: dump its messages, plot bodies in the robot frame.

Run beside ``ros2 launch hmr_ros robot.launch.py`` (same ROS_DOMAIN_ID):

    .venv/bin/python benchmarks/humans_robot_frame.py --frames 60 --out out/humans \\
        --png docs/results/humans_robot_frame.png

With ``--synthetic`` it needs nothing else: it starts the humans node itself and plays the
test clip with exact geometry (hmr_models.awareness.scenarios.approach_scene: one person walks
at the robot while another points at it) on a camera 1.3 m up, pitched 0.2 rad down.

It records /tf, /tf_static, /humans/bodies/tracked, /humans/nearest_person and
/humans/zone_events until `--frames` tracked messages with someone in them arrived (or
`--timeout`), writes text dumps of one /tf message with bodies, one tracked message, the zone
events and the nearest-person series into --out, and draws the skeletons of the bodies of a
few images in the reference frame: top view with the safety zones, side view with the ground.
"""
import argparse
from pathlib import Path
import threading
import time

import numpy as np


def dump(msg):
    """YAML-like text of a ROS message (what `ros2 topic echo` prints)."""
    return '\n'.join(_lines(msg))


def _scalar(value):
    if isinstance(value, float):
        return f'{value:.6g}'
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return '[' + ', '.join(_scalar(v) for v in list(value)) + ']'
    return str(value)


def _lines(msg):
    lines = []
    for name in msg.get_fields_and_field_types():
        value = getattr(msg, name)
        if hasattr(value, 'get_fields_and_field_types'):
            lines += [f'{name}:'] + ['  ' + line for line in _lines(value)]
        elif isinstance(value, (list, tuple)) and value and \
                hasattr(value[0], 'get_fields_and_field_types'):
            lines.append(f'{name}:')
            for item in value:
                sub = _lines(item)
                lines += ['- ' + sub[0]] + ['  ' + line for line in sub[1:]]
        else:
            lines.append(f'{name}: {_scalar(value)}')
    return lines


class Recorder:
    def __init__(self, node):
        from hri_msgs.msg import IdsList
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from tf2_msgs.msg import TFMessage

        from hmr_ros.msg import NearestPerson, ZoneEvent
        reliable = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.tf, self.static, self.tracked, self.nearest, self.events = [], [], [], [], []
        node.create_subscription(TFMessage, '/tf', self.tf.append, reliable)
        node.create_subscription(TFMessage, '/tf_static', self.static.append, latched)
        node.create_subscription(IdsList, '/humans/bodies/tracked', self.tracked.append, reliable)
        node.create_subscription(NearestPerson, '/humans/nearest_person', self.nearest.append,
                                 reliable)
        node.create_subscription(ZoneEvent, '/humans/zone_events', self.events.append, reliable)

    def with_people(self):
        return [m for m in self.tracked if m.ids]


def stamp_of(header):
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def tree_at(rec, stamp):
    from hmr_models.awareness import TransformTree
    from hmr_ros.tf_conversion import transform_from_msg
    tree = TransformTree()
    for msg in rec.static + [m for m in rec.tf if m.transforms and
                             abs(stamp_of(m.transforms[0].header) - stamp) < 1e-6]:
        for t in msg.transforms:
            tree.set(t.header.frame_id, t.child_frame_id, transform_from_msg(t.transform))
    return tree


def plot(rec, reference, png, zones=(('warning', 2.0), ('protective', 1.0)), instants=4):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS
    frames = rec.with_people()
    count = min(instants, len(frames))
    picks = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, count)]
    fig, (top, side) = plt.subplots(1, 2, figsize=(13, 6))
    colours = plt.cm.tab10.colors
    for name, radius in zones:
        top.add_patch(plt.Circle((0, 0), radius, fill=False, ls='--', color='grey'))
        top.annotate(f'{name} {radius:g} m', (radius * 0.71, radius * 0.71), color='grey')
    top.plot([0], [0], marker=(3, 0, -90), ms=14, color='k')
    side.axhline(0, color='sienna', lw=2)
    ids = sorted({i for m in picks for i in m.ids})
    labelled = {}   # id -> where its last label went (a standing person is labelled once)
    for k, msg in enumerate(picks):
        stamp = stamp_of(msg.header)
        tree = tree_at(rec, stamp)
        alpha = 0.35 + 0.65 * (k + 1) / len(picks)
        for body_id in msg.ids:
            colour = colours[ids.index(body_id) % len(colours)]
            pts = []
            for name in SMPL24_NAMES:
                t = tree.lookup(reference, f'{name}_{body_id}')
                pts.append(np.full(3, np.nan) if t is None else t[:3, 3])
            pts = np.array(pts)
            if np.isnan(pts).all():
                continue
            for j, p in enumerate(SMPL24_PARENTS):
                if p >= 0:
                    for ax, (a, b) in ((top, (0, 1)), (side, (0, 2))):
                        ax.plot(pts[[p, j], a], pts[[p, j], b], color=colour, alpha=alpha)
            body = tree.lookup(reference, f'body_{body_id}')
            top.arrow(body[0, 3], body[1, 3], 0.4 * body[0, 0], 0.4 * body[1, 0],
                      width=0.02, color=colour, alpha=alpha)
            where = body[:2, 3]
            if body_id not in labelled or np.linalg.norm(labelled[body_id] - where) > 0.5:
                labelled[body_id] = where
                label = f'{body_id} t={stamp - stamp_of(frames[0].header):.1f}s'
                top.annotate(label, (where[0], where[1] + 0.15), color=colour, fontsize=8)
        near = [n for n in rec.nearest if abs(stamp_of(n.header) - stamp) < 1e-6 and n.found]
        for n in near:
            top.plot(n.nearest_point.x, n.nearest_point.y, 'x', color='red', ms=9)
            side.plot(n.nearest_point.x, n.nearest_point.z, 'x', color='red', ms=9)
    top.set(title=f'top view ({reference}): skeletons, facing (arrows), nearest point (x)',
            xlabel='x forward (m)', ylabel='y left (m)', aspect='equal')
    side.set(title='side view: z up, ground z = 0', xlabel='x forward (m)', ylabel='z up (m)',
             aspect='equal')
    for ax in (top, side):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    print(f'wrote {png}')


def write_dumps(rec, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    people = rec.with_people()
    mid = people[len(people) // 2]
    tf = next(m for m in rec.tf if m.transforms and
              abs(stamp_of(m.transforms[0].header) - stamp_of(mid.header)) < 1e-6)
    (out / 'tf_message.txt').write_text(dump(tf) + '\n')
    (out / 'tracked.txt').write_text(dump(mid) + '\n')
    (out / 'tf_static.txt').write_text('\n---\n'.join(dump(m) for m in rec.static) + '\n')
    (out / 'zone_events.txt').write_text('\n---\n'.join(dump(e) for e in rec.events) + '\n')
    t0 = stamp_of(people[0].header)
    lines = ['t_s body distance_m bearing_rad part predicted']
    lines += [f'{stamp_of(n.header) - t0:.2f} {n.body_id} {n.distance:.3f} {n.bearing:.3f} '
              f'{n.nearest_part} {n.predicted}' for n in rec.nearest if n.found]
    (out / 'nearest.txt').write_text('\n'.join(lines) + '\n')
    print(f'wrote dumps to {out}: one /tf message ({len(tf.transforms)} transforms), '
          f'tracked {list(mid.ids)}, {len(rec.events)} zone events')


def play_synthetic(node, rec, log):
    """Start the humans node and play the synthetic scene through it, image by image."""
    import subprocess
    import sys

    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo
    from tf2_msgs.msg import TFMessage

    from hmr_models.awareness.frames import OPTICAL_IN_CAMERA, make_transform, rpy_to_rotation
    from hmr_models.awareness.scenarios import approach_scene, default_camera, level_camera
    from hmr_models.body import load_body_model
    from hmr_ros.awareness_msgs import person_array
    from hmr_ros.msg import SMPLPersonArray
    from hmr_ros.tf_conversion import transform_msg
    height, pitch = 1.3, 0.2
    reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    static = node.create_publisher(TFMessage, '/tf_static', latched)
    now = node.get_clock().now().to_msg()
    static.publish(TFMessage(transforms=[
        transform_msg('base_link', 'camera_link',
                      make_transform(rpy_to_rotation(0, pitch, 0), [0, 0, height]), now),
        transform_msg('camera_link', 'camera_optical_frame', make_transform(OPTICAL_IN_CAMERA),
                      now)]))
    info = node.create_publisher(CameraInfo, '/synthetic/camera_info', reliable)
    people = node.create_publisher(SMPLPersonArray, '/synthetic/persons_smoothed', reliable)
    humans = subprocess.Popen(
        [sys.executable, '-m', 'hmr_ros.humans_node', '--ros-args', '-p',
         'reference_frame:=base_link', '-p', 'smoothed_topic:=/synthetic/persons_smoothed',
         '-p', 'persons_topic:=/synthetic/persons', '-p',
         'camera_info_topic:=/synthetic/camera_info', '-p', 'prediction_timeout:=0.5'],
        stdout=log, stderr=subprocess.STDOUT)
    while people.get_subscription_count() == 0 or info.get_subscription_count() == 0:
        time.sleep(0.1)
    time.sleep(1.0)
    cam = default_camera()
    msg = CameraInfo(width=cam.width, height=cam.height)
    msg.header.frame_id = 'camera_optical_frame'
    info.publish(msg)
    scene = approach_scene(load_body_model(), level_camera(height, pitch))
    t0 = time.time()
    for k, (stamp, persons) in enumerate(scene):
        people.publish(person_array(persons, t0 + stamp, 'camera_optical_frame'))
        deadline = time.monotonic() + 30
        while len(rec.tracked) <= k and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(1.0)
    return humans


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=60,
                        help='tracked messages with people to record')
    parser.add_argument('--timeout', type=float, default=300.0, help='seconds at most')
    parser.add_argument('--reference', default='base_link')
    parser.add_argument('--out', default='out/humans', help='folder for the text dumps')
    parser.add_argument('--png', default='out/humans/humans_robot_frame.png')
    parser.add_argument('--synthetic', action='store_true',
                        help='start the humans node and play the synthetic approach scene')
    args = parser.parse_args()
    from hmr_ros.transport import use_large_image_transport
    use_large_image_transport()     # as the launch files' processes
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    rclpy.init()
    node = rclpy.create_node('humans_observer')
    rec = Recorder(node)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.1)
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    humans = None
    if args.synthetic:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        with open(Path(args.out) / 'humans_node.log', 'w') as log:
            humans = play_synthetic(node, rec, log)
    else:
        deadline = time.monotonic() + args.timeout
        while len(rec.with_people()) < args.frames and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
    stop.set()
    thread.join()
    print(f'{len(rec.tracked)} tracked messages ({len(rec.with_people())} with people), '
          f'{len(rec.tf)} /tf messages, {len(rec.static)} /tf_static')
    if rec.with_people():
        write_dumps(rec, args.out)
        plot(rec, args.reference, args.png)
    if humans is not None:
        import signal
        import subprocess
        humans.send_signal(signal.SIGINT)
        try:
            humans.wait(timeout=30)
        except subprocess.TimeoutExpired:
            humans.send_signal(signal.SIGABRT)
            humans.wait(timeout=10)
            raise
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown()


if __name__ == '__main__':
    main()
