"""hmr-bag: record, play and inspect rosbag2 bags (MCAP by default) without a ROS distribution.

    hmr-bag info  BAG
    hmr-bag record -o OUT [--storage mcap|sqlite3] [--duration S] [--compress-images [Q]]
                   [--zstd] (-a | TOPIC ...)
    hmr-bag play  BAG [--rate R] [--loop] [--topics T ...] [--remap FROM:=TO ...] [--inputs-only]
    hmr-bag video BAG OUT.mp4 [--topic /hmr_node/overlay] [--fps F]   (hmr_ros.bag_video)

Play publishes the stored CDR bytes through rclpy, paced by the recorded timestamps; record
writes raw subscriptions into a rosbags writer. The `bag_play` executable (replay.launch.py)
is the player as a ROS node with parameters bag, rate, loop, topics.
"""
import argparse
import importlib
import sys
import threading
import time

from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image as SensorImage

from hmr_ros import bag_video
from hmr_ros.bags import BagError, bag_info, iter_messages, open_reader, open_writer, typestore
from hmr_ros.frame_flow import END_TOPIC_PARAM, FrameFlow
from hmr_ros.image_conversion import (
    ImageError, header_from_cdr, image_to_rgb, rgb_to_compressed)
from hmr_ros.node_main import (
    EXIT_BAD_SETUP, EXIT_OK, LoggingNode, run_main, run_node, SetupError)
from hmr_ros.params import Param, declare_params, one_of, positive

# Best effort (takes reliable and best-effort publishers alike) with a deeper queue than the
# sensor-data profile's 5, with which a recorder lost 3 of 20 frames of a fast every-frame
# run (1 run in 10): a Python callback writing the bag can fall a few messages behind.
RECORD_QOS = QoSProfile(depth=50, reliability=qos_profile_sensor_data.reliability,
                        durability=qos_profile_sensor_data.durability)

INPUT_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage',
               'sensor_msgs/msg/CameraInfo')
IMAGE_TYPES = INPUT_TYPES[:2]

PLAY_PARAMS = [
    Param('bag', '', 'bag to play: a rosbag2 folder or a single .mcap/.db3 file'),
    Param('rate', 1.0, 'playback speed factor (real-time mode)', positive),
    Param('loop', False, 'restart at the end'),
    Param('topics', [''], "topics to play; empty: see 'play'"),
    Param('play', 'inputs', "with no 'topics': 'inputs' (images, compressed images and "
          "camera_info: what hmr_node reads; recorded outputs would mix with the node's new "
          "ones) or 'all'", one_of('inputs', 'all')),
    Param('remap', [''], "topic renames as 'from:=to'"),
    Param('start_delay', 5.0, 'without ready_topic: at most this many seconds to wait, before '
          'the first message, until every played topic has a subscriber (messages sent '
          'earlier would be lost)'),
    Param('every_frame', False, 'lockstep: publish the next image only when the node has '
          'finished the previous ones (needs done_topic; ignores the recorded timing)'),
    Param('ready_topic', '', "latched std_msgs/Bool of the node to wait for before playing "
          "(hmr_node: '/hmr_node/ready'); empty: do not wait"),
    Param('done_topic', '', "std_msgs/Header acknowledgements of finished frames (hmr_node: "
          "'/hmr_node/frame_done')"),
    Param('max_in_flight', 2, 'every-frame mode: images sent and not yet acknowledged, at most',
          positive),
    Param('ack_timeout', 20.0, 'every-frame mode: seconds before an unacknowledged image is '
          'sent again', positive),
    END_TOPIC_PARAM,
]


def message_class(msgtype):
    """The rclpy class of 'pkg/msg/Type'; raises SetupError if the package is not installed."""
    pkg, _, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{pkg}.msg'), name)
    except (ImportError, AttributeError):
        raise SetupError(f"message type {msgtype} is not installed here "
                         f"(python module {pkg}.msg)") from None


class BagPlayer(LoggingNode):
    def __init__(self):
        super().__init__('bag_play')
        self.p = declare_params(self, PLAY_PARAMS)
        if not self.p.bag:
            raise SetupError("parameter 'bag' is empty: give the bag to play")
        if self.p.every_frame and not self.p.done_topic:
            raise SetupError("every_frame needs parameter 'done_topic' (the node's "
                             "acknowledgements, e.g. '/hmr_node/frame_done')")
        self.exit_code = EXIT_OK
        self.done = False
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
        self.image_topics = set()
        skipped, not_inputs = [], []
        for conn in self.reader.connections:
            if topics is not None and conn.topic not in topics:
                continue
            if topics is None and self.p.play == 'inputs' and conn.msgtype not in INPUT_TYPES:
                not_inputs.append(conn.topic)
                continue
            try:
                cls = message_class(conn.msgtype)
            except SetupError as exc:
                skipped.append(f'{conn.topic} ({exc})')
                continue
            if conn.topic not in self.publishers_by_topic:
                self.publishers_by_topic[conn.topic] = self.create_publisher(
                    cls, remap.get(conn.topic, conn.topic), qos)
            if conn.msgtype in IMAGE_TYPES:
                self.image_topics.add(conn.topic)
        for s in skipped:
            self.get_logger().warning(f'not playing {s}')
        if not_inputs:
            self.get_logger().info(
                f"not playing {', '.join(sorted(set(not_inputs)))}: not inputs of the node "
                "(play:=all or topics:=[...] to play them)")
        if not self.publishers_by_topic:
            raise SetupError(f'nothing to play in {self.p.bag} (topics: '
                             f'{sorted(c.topic for c in self.reader.connections)})')
        if self.p.every_frame and not self.image_topics:
            raise SetupError('every_frame: no image topic to play in lockstep')
        self.flow = FrameFlow(self, self.p.ready_topic,
                              self.p.done_topic, self.p.max_in_flight,
                              self.p.ack_timeout, end_topic=self.p.end_topic,
                              every_frame=self.p.every_frame)
        self.played = 0
        self.play_seconds = 0.0
        mode = 'every frame (lockstep with the node)' if self.p.every_frame else \
            f'rate {self.p.rate}'
        self.get_logger().info(
            f'playing {self.p.bag}: {self.reader.message_count} messages, '
            f'{self.reader.duration * 1e-9:.1f} s, topics {sorted(self.publishers_by_topic)}, '
            f'{mode}')
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._play, daemon=True)
        self.thread.start()

    def _wait_for_subscribers(self):
        if self.p.ready_topic:
            images = [self.publishers_by_topic[t] for t in self.image_topics]
            return self.flow.wait_ready(self._stop, images)
        # Discovery: start once every topic has a subscriber, or after start_delay at most
        # (a fixed pause lost messages on a busy machine, and delayed an idle one).
        deadline = time.monotonic() + self.p.start_delay
        while time.monotonic() < deadline and not self._stop.is_set() and not all(
                pub.get_subscription_count() for pub in self.publishers_by_topic.values()):
            time.sleep(0.05)
        # A matched writer does not mean the reader has matched it yet: give it a moment.
        self._stop.wait(max(0.0, min(0.5, deadline - time.monotonic())))
        return not self._stop.is_set()

    def _play(self):
        if not self._wait_for_subscribers():
            return
        try:
            while not self._stop.is_set():
                self._play_once()
                if not self.p.loop:
                    break
            if self.flow.drain(self._stop):
                self.flow.end_stream(self._stop)
        except BagError as exc:
            self.get_logger().error(f'{exc}; played {self.played} messages')
            self.exit_code = 1
        self.get_logger().info(f'finished: {self.played} messages published over '
                               f'{self.play_seconds:.2f} s; {self.flow.summary()}')
        self.done = True

    def _play_once(self):
        first_log = None
        start = time.monotonic()
        self.play_seconds = 0.0
        topics = set(self.publishers_by_topic)
        for conn, stamp, raw in iter_messages(self.reader, topics):
            if self._stop.is_set():
                return
            data = bytes(raw)
            pub = self.publishers_by_topic[conn.topic]
            if self.p.every_frame:
                if conn.topic in self.image_topics:
                    if not self.flow.acquire(self._stop):
                        return
                    pub.publish(data)
                    self.flow.sent(header_from_cdr(data).stamp,
                                   lambda p=pub, d=data: p.publish(d))
                else:
                    pub.publish(data)
            else:
                if first_log is None:
                    first_log = stamp
                due = start + (stamp - first_log) * 1e-9 / self.p.rate
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                pub.publish(data)
                if conn.topic in self.image_topics:
                    self.flow.sent(header_from_cdr(data).stamp, None)
            self.played += 1
            self.play_seconds = time.monotonic() - start

    def close(self):
        self._stop.set()
        self.thread.join(timeout=5.0)
        self.reader.close()


class BagRecorder(LoggingNode):
    """Raw subscriptions written into a new bag; image topics optionally stored as JPEG.

    With `jpeg_quality` > 0, sensor_msgs/Image topics are recorded as
    sensor_msgs/CompressedImage on `<topic>/compressed` (what image_transport's compressed
    plugin publishes, and what hmr_node reads with image_transport:=compressed).
    """

    def __init__(self, output, topics, record_all, storage='mcap', duration=0.0,
                 discovery_period=1.0, jpeg_quality=0, zstd=False, node_name='bag_record',
                 qos=RECORD_QOS):
        super().__init__(node_name)
        self._start_recording(output, topics, record_all, storage, duration, discovery_period,
                              jpeg_quality, zstd, qos)

    def _start_recording(self, output, topics, record_all, storage='mcap', duration=0.0,
                         discovery_period=1.0, jpeg_quality=0, zstd=False,
                         qos=RECORD_QOS):
        """Open the writer and start discovering topics (the node is initialised)."""
        self.qos = qos
        self.exit_code = EXIT_OK
        self.done = False
        self.store = typestore()
        self.writer = open_writer(output, storage, zstd=zstd)
        self.output = output
        self.wanted = set(topics)
        self.record_all = record_all
        self.jpeg_quality = int(jpeg_quality)
        self.connections = {}
        self.subscriptions_by_topic = {}
        self.counts = {}
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + duration if duration > 0 else None
        self._discover()
        self.create_timer(discovery_period, self._discover)

    def _discover(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.done = True
            return
        for topic, types in self.get_topic_names_and_types():
            if topic in self.connections or not (self.record_all or topic in self.wanted):
                continue
            if self.record_all and topic in ('/rosout', '/parameter_events'):
                continue
            msgtype = types[0]
            if msgtype not in self.store.fielddefs:
                self.get_logger().warning(f'{topic}: type {msgtype} unknown to the bag writer, '
                                          'not recorded')
                self.connections[topic] = None
                continue
            cls = message_class(msgtype)
            write = self._write
            stored, stored_type = topic, msgtype
            if self.jpeg_quality and msgtype == 'sensor_msgs/msg/Image':
                stored = topic.rstrip('/') + '/compressed'
                stored_type = 'sensor_msgs/msg/CompressedImage'
                write = self._write_jpeg
            conn = self.writer.add_connection(stored, stored_type, typestore=self.store)
            self.connections[topic] = conn
            self.counts[stored] = 0
            # Best effort (the default) subscribes to reliable and best-effort publishers
            # alike; a reliable `qos` loses nothing from reliable publishers (evaluation).
            self.subscriptions_by_topic[topic] = self.create_subscription(
                cls, topic, lambda raw, c=conn, w=write: w(c, raw), self.qos, raw=True)
            self.get_logger().info(f'recording {topic} [{msgtype}]' + (
                f' as {stored} [{stored_type}], JPEG quality {self.jpeg_quality}'
                if stored != topic else ''))

    def _write(self, conn, raw):
        with self.lock:
            if self.writer is None:
                return
            self.writer.write(conn, self.get_clock().now().nanoseconds, raw)
            self.counts[conn.topic] += 1

    def _write_jpeg(self, conn, raw):
        try:
            image = deserialize_message(raw, SensorImage)
            rgb = image_to_rgb(image)
        except ImageError as exc:
            self.get_logger().warning(f'{conn.topic}: image not recorded: {exc}',
                                      throttle_duration_sec=5.0)
            return
        self._write(conn, serialize_message(rgb_to_compressed(rgb, image.header,
                                                              self.jpeg_quality)))

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
            '-p', f'loop:={str(ns.loop).lower()}',
            '-p', f"play:={'inputs' if ns.inputs_only else 'all'}"]
    if ns.topics:
        args += ['-p', 'topics:=[' + ','.join(f"'{t}'" for t in ns.topics) + ']']
    if ns.remap:
        args += ['-p', 'remap:=[' + ','.join(f"'{r}'" for r in ns.remap) + ']']
    return run_node(BagPlayer, ['hmr-bag'] + args)


def _record(ns):
    if not ns.all and not ns.topics:
        print('hmr-bag record: give topics or -a', file=sys.stderr)
        return EXIT_BAD_SETUP
    return run_node(lambda: BagRecorder(ns.output, ns.topics, ns.all, ns.storage, ns.duration,
                                        jpeg_quality=ns.jpeg_quality, zstd=ns.zstd),
                    ['hmr-bag'])


def build_parser():
    """hmr-bag's command line (also what the README's commands are checked against)."""
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
    p.add_argument('--inputs-only', action='store_true',
                   help="only images and camera_info (what hmr_node reads)")
    p = sub.add_parser('record', help='record topics into a new bag')
    p.add_argument('topics', nargs='*')
    p.add_argument('-a', '--all', action='store_true', help='record every topic')
    p.add_argument('-o', '--output', required=True, help='new bag folder')
    p.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    p.add_argument('--duration', type=float, default=0.0, help='stop after S seconds (0: Ctrl-C)')
    p.add_argument('--compress-images', dest='jpeg_quality', type=int, nargs='?', const=90,
                   default=0, metavar='QUALITY',
                   help='store Image topics as JPEG CompressedImage on <topic>/compressed '
                        '(quality 1-100, default 90)')
    p.add_argument('--zstd', action='store_true', help='zstd-compress the bag storage (MCAP '
                   'chunks)')
    bag_video.add_parser(sub)
    return parser


def main(argv=None):
    ns = build_parser().parse_args(argv)
    try:
        return {'info': _info, 'play': _play, 'record': _record,
                'video': bag_video.run}[ns.command](ns)
    except BagError as exc:
        print(f'hmr-bag {ns.command}: {exc}', file=sys.stderr)
        return EXIT_BAD_SETUP


def play_node_main(args=None):
    """The `bag_play` executable: BagPlayer with ROS parameters."""
    run_main(BagPlayer, args)


if __name__ == '__main__':
    sys.exit(main())
