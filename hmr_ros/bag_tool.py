"""hmr-bag: record, play and inspect rosbag2 bags (MCAP by default) without a ROS distribution.

    hmr-bag info  BAG
    hmr-bag record -o OUT [--storage mcap|sqlite3] [--duration S] (-a | TOPIC ...)
    hmr-bag play  BAG [--rate R] [--loop] [--topics T ...] [--remap FROM:=TO ...]

Play publishes the stored CDR bytes through rclpy, paced by the recorded timestamps; record
writes raw subscriptions into a rosbags writer. The `bag_play` executable (replay.launch.py)
is the player as a ROS node with parameters bag, rate, loop, topics.
"""
import argparse
import importlib
import sys
import threading
import time

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from hmr_ros.bags import BagError, bag_info, iter_messages, open_reader, open_writer, typestore
from hmr_ros.node_main import EXIT_BAD_SETUP, EXIT_OK, SetupError, run_node
from hmr_ros.params import Param, declare_params, positive

PLAY_PARAMS = [
    Param('bag', '', 'bag to play: a rosbag2 folder or a single .mcap/.db3 file'),
    Param('rate', 1.0, 'playback speed factor', positive),
    Param('loop', False, 'restart at the end'),
    Param('topics', [''], 'topics to play (empty: all)'),
    Param('remap', [''], "topic renames as 'from:=to'"),
    Param('start_delay', 5.0, 'at most this many seconds to wait, before the first message, '
          'until every played topic has a subscriber (messages sent earlier would be lost)'),
]


def message_class(msgtype):
    """The rclpy class of 'pkg/msg/Type'; raises SetupError if the package is not installed."""
    pkg, _, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{pkg}.msg'), name)
    except (ImportError, AttributeError):
        raise SetupError(f"message type {msgtype} is not installed here "
                         f"(python module {pkg}.msg)") from None


class BagPlayer(Node):
    def __init__(self):
        super().__init__('bag_play')
        self.p = declare_params(self, PLAY_PARAMS)
        if not self.p.bag:
            raise SetupError("parameter 'bag' is empty: give the bag to play")
        self.exit_code = EXIT_OK
        remap = {}
        for entry in (r for r in self.p.remap if r):
            if ':=' not in entry:
                raise SetupError(f"parameter 'remap': '{entry}' is not 'from:=to'")
            src, dst = entry.split(':=', 1)
            remap[src] = dst
        topics = [t for t in self.p.topics if t] or None
        try:
            self.reader = open_reader(self.p.bag)
        except BagError as exc:
            raise SetupError(f"{exc} (parameter 'bag')") from None
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers_by_topic = {}
        skipped = []
        for conn in self.reader.connections:
            if topics is not None and conn.topic not in topics:
                continue
            try:
                cls = message_class(conn.msgtype)
            except SetupError as exc:
                skipped.append(f'{conn.topic} ({exc})')
                continue
            if conn.topic not in self.publishers_by_topic:
                self.publishers_by_topic[conn.topic] = self.create_publisher(
                    cls, remap.get(conn.topic, conn.topic), qos)
        for s in skipped:
            self.get_logger().warn(f'not playing {s}')
        if not self.publishers_by_topic:
            raise SetupError(f'nothing to play in {self.p.bag} (topics: '
                             f'{sorted(c.topic for c in self.reader.connections)})')
        self.played = 0
        self.play_seconds = 0.0
        self.get_logger().info(
            f'playing {self.p.bag}: {self.reader.message_count} messages, '
            f'{self.reader.duration * 1e-9:.1f} s, topics {sorted(self.publishers_by_topic)} at '
            f'rate {self.p.rate}')
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._play, daemon=True)
        self.thread.start()

    def _play(self):
        # Discovery: start once every topic has a subscriber, or after start_delay at most
        # (a fixed pause lost messages on a busy machine, and delayed an idle one).
        deadline = time.monotonic() + self.p.start_delay
        while time.monotonic() < deadline and not self._stop.is_set() and not all(
                pub.get_subscription_count() for pub in self.publishers_by_topic.values()):
            time.sleep(0.05)
        # A matched writer does not mean the reader has matched it yet: give it a moment.
        self._stop.wait(max(0.0, min(0.5, deadline - time.monotonic())))
        try:
            while not self._stop.is_set():
                self._play_once()
                if not self.p.loop:
                    break
        except BagError as exc:
            self.get_logger().error(f'{exc}; played {self.played} messages')
            self.exit_code = 1
        self.get_logger().info(f'finished: {self.played} messages published over '
                               f'{self.play_seconds:.2f} s')
        self.context.try_shutdown()

    def _play_once(self):
        first_log = None
        start = time.monotonic()
        self.play_seconds = 0.0
        topics = set(self.publishers_by_topic)
        for conn, stamp, raw in iter_messages(self.reader, topics):
            if self._stop.is_set():
                return
            if first_log is None:
                first_log = stamp
            due = start + (stamp - first_log) * 1e-9 / self.p.rate
            delay = due - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    return
            self.publishers_by_topic[conn.topic].publish(bytes(raw))
            self.played += 1
            self.play_seconds = time.monotonic() - start

    def close(self):
        self._stop.set()
        self.thread.join(timeout=2.0)
        self.reader.close()


class BagRecorder(Node):
    def __init__(self, output, topics, record_all, storage, duration, discovery_period=1.0):
        super().__init__('bag_record')
        self.exit_code = EXIT_OK
        self.store = typestore()
        self.writer = open_writer(output, storage)
        self.output = output
        self.wanted = set(topics)
        self.record_all = record_all
        self.connections = {}
        self.counts = {}
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + duration if duration > 0 else None
        self._discover()
        self.create_timer(discovery_period, self._discover)

    def _discover(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.context.try_shutdown()
            return
        for topic, types in self.get_topic_names_and_types():
            if topic in self.connections or not (self.record_all or topic in self.wanted):
                continue
            if self.record_all and topic in ('/rosout', '/parameter_events'):
                continue
            msgtype = types[0]
            if msgtype not in self.store.fielddefs:
                self.get_logger().warn(f'{topic}: type {msgtype} unknown to the bag writer, '
                                       'not recorded')
                self.connections[topic] = None
                continue
            cls = message_class(msgtype)
            conn = self.writer.add_connection(topic, msgtype, typestore=self.store)
            self.connections[topic] = conn
            self.counts[topic] = 0
            # Sensor-data QoS subscribes to reliable and best-effort publishers alike.
            self.create_subscription(cls, topic, lambda raw, c=conn: self._write(c, raw),
                                     qos_profile_sensor_data, raw=True)
            self.get_logger().info(f'recording {topic} [{msgtype}]')

    def _write(self, conn, raw):
        with self.lock:
            if self.writer is None:
                return
            self.writer.write(conn, self.get_clock().now().nanoseconds, raw)
            self.counts[conn.topic] += 1

    def close(self):
        with self.lock:
            if self.writer is not None:
                self.writer.close()
                self.writer = None
        total = sum(self.counts.values())
        print(f'wrote {total} messages to {self.output}: ' +
              ', '.join(f'{t} {n}' for t, n in sorted(self.counts.items())), flush=True)


def _info(ns):
    info = bag_info(ns.bag)
    print(f'Bag:        {info.path}\nStorage:    {info.storage}\n'
          f'Duration:   {info.duration_s:.3f} s\nMessages:   {info.message_count}\nTopics:')
    for t in sorted(info.topics, key=lambda t: t.topic):
        rate = t.count / info.duration_s if info.duration_s > 0 else 0.0
        print(f'  {t.topic:40s} {t.msgtype:40s} {t.count:7d} msgs  {rate:7.2f} Hz')
    return EXIT_OK


def _play(ns):
    args = ['--ros-args', '-p', f'bag:={ns.bag}', '-p', f'rate:={float(ns.rate)}',
            '-p', f'loop:={str(ns.loop).lower()}']
    if ns.topics:
        args += ['-p', 'topics:=[' + ','.join(f"'{t}'" for t in ns.topics) + ']']
    if ns.remap:
        args += ['-p', 'remap:=[' + ','.join(f"'{r}'" for r in ns.remap) + ']']
    return run_node(BagPlayer, ['hmr-bag'] + args)


def _record(ns):
    if not ns.all and not ns.topics:
        print('hmr-bag record: give topics or -a', file=sys.stderr)
        return EXIT_BAD_SETUP
    return run_node(lambda: BagRecorder(ns.output, ns.topics, ns.all, ns.storage, ns.duration),
                    ['hmr-bag'])


def main(argv=None):
    parser = argparse.ArgumentParser(prog='hmr-bag', description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('info', help='topics, types, counts and duration of a bag')
    p.add_argument('bag')
    p = sub.add_parser('play', help='publish a bag with its recorded timing')
    p.add_argument('bag')
    p.add_argument('--rate', type=float, default=1.0)
    p.add_argument('--loop', action='store_true')
    p.add_argument('--topics', nargs='*', default=[])
    p.add_argument('--remap', nargs='*', default=[], metavar='FROM:=TO')
    p = sub.add_parser('record', help='record topics into a new bag')
    p.add_argument('topics', nargs='*')
    p.add_argument('-a', '--all', action='store_true', help='record every topic')
    p.add_argument('-o', '--output', required=True, help='new bag folder')
    p.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    p.add_argument('--duration', type=float, default=0.0, help='stop after S seconds (0: Ctrl-C)')
    ns = parser.parse_args(argv)
    try:
        return {'info': _info, 'play': _play, 'record': _record}[ns.command](ns)
    except BagError as exc:
        print(f'hmr-bag {ns.command}: {exc}', file=sys.stderr)
        return EXIT_BAD_SETUP


def play_node_main(args=None):
    """The `bag_play` executable: BagPlayer with ROS parameters."""
    raise SystemExit(run_node(BagPlayer, args))


if __name__ == '__main__':
    sys.exit(main())
