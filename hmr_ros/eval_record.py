"""eval_record: record what hmr_node publishes during a replay evaluation, and end the run.

A `BagRecorder` (hmr_ros.bag_tool) with reliable subscriptions to the node's outputs
(`~/persons`, `~/persons_smoothed`, `~/persons_delayed`, `~/frame_done`, `/diagnostics`), plus
one topic of its own, `/eval/input_headers` (std_msgs/Header): the header of every input image
as it arrives, written at its arrival time, so that latency and drops are measured on one clock
(this process's) as a robot's consumer would see them.

It sits between the player and the node in the ready/frame_done protocol (hmr_ros.frame_flow):
it announces `~/ready` (latched) only once hmr_node is ready *and* every output is subscribed,
so no early result is lost, and the player (`ready_topic:=/eval_record/ready`) waits for it.
It reads the input bag's image stamps and ends (exit 0, bag closed) when every one of them has
been acknowledged on `~/frame_done` (and so has the player's `~/end_of_stream`, when it sent
one: the delayed stream's last frames come before that) and the outputs have been quiet for
`settle` seconds, or when no acknowledgement came for `idle_timeout` seconds (frames lost on
the way, counted). The end's own acknowledgement is awaited at most `end_timeout` seconds after
every image is acknowledged: the player gives up on it as well, and a run must not hang on it.
Beside the bag it writes `run.json` (mode, input, parameters file, counts, times).
"""
import json
import os
from pathlib import Path
import platform
import subprocess
import time

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, Header

from hmr_ros.bag_tool import BagRecorder, IMAGE_TYPES
from hmr_ros.bags import BagError, iter_messages, open_reader
from hmr_ros.frame_flow import announce_ready, READY_QOS, stamp_key
from hmr_ros.image_conversion import header_from_cdr, ImageError
from hmr_ros.node_main import run_main, SetupError
from hmr_ros.params import Param, declare_params, one_of, positive

INPUT_HEADERS_TOPIC = '/eval/input_headers'
OUTPUTS = ('persons', 'persons_smoothed', 'persons_delayed', 'frame_done')
RELIABLE = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)

EVAL_RECORD_PARAMS = [
    Param('output', '', 'new result bag folder (MCAP)'),
    Param('input_bag', '', 'the bag being replayed: its image stamps say when the run is over'),
    Param('image_topic', '/camera/image_raw', 'image topic hmr_node reads'),
    Param('image_transport', 'raw', "'raw' or 'compressed' (<image_topic>/compressed)",
          one_of('raw', 'compressed')),
    Param('node', '/hmr_node', 'the evaluated node (its outputs are <node>/persons, ...)'),
    Param('mode', 'lockstep', "'lockstep' or 'realtime' (written to run.json)",
          one_of('lockstep', 'realtime')),
    Param('params_file', '', "hmr_node's parameters file (written to run.json)"),
    Param('model_profile', '', "hmr_node's model profile (written to run.json)"),
    Param('settle', 2.0, 'seconds of quiet outputs after the last acknowledgement', positive),
    Param('idle_timeout', 90.0, 'seconds without any acknowledgement (after the first) after '
          'which the run is over; unacknowledged frames count as lost', positive),
    Param('end_timeout', 90.0, "seconds to wait, once every image is acknowledged, for the "
          "node's acknowledgement of the player's end of stream (its last delayed frames)",
          positive),
]


def run_verdict(now, frames_missing, end_pending, quiet, last_ack, all_acked_at, p):
    """Whether a replay run is over: (over, warning or None).

    frames_missing: images not acknowledged yet; end_pending: the player's end announced and
    not acknowledged; quiet: seconds since the last output or acknowledgement; last_ack: when
    the last acknowledgement came (None before the first); all_acked_at: when every image was
    acknowledged (None until then); p: settle, idle_timeout and end_timeout.
    """
    if not frames_missing and not end_pending:
        return quiet >= p.settle, None
    if not frames_missing and all_acked_at is not None and now - all_acked_at >= p.end_timeout:
        return True, (f'the end of the stream was not acknowledged within {p.end_timeout:.0f} s '
                      'of the last image: the delayed stream may lack its last frames')
    if frames_missing and last_ack is not None and now - last_ack >= p.idle_timeout:
        return True, (f'no acknowledgement for {p.idle_timeout:.0f} s: {frames_missing} images '
                      'never acknowledged (lost), ending the run')
    return False, None


def image_stamps(bag, topic):
    """Header stamps (sec, nanosec) of every image on `topic` in `bag`, in bag order."""
    reader = open_reader(bag)
    try:
        conns = [c for c in reader.connections if c.topic == topic]
        if not conns or conns[0].msgtype not in IMAGE_TYPES:
            found = sorted(f'{c.topic} [{c.msgtype}]' for c in reader.connections)
            raise BagError(f'{bag} has no image topic {topic} (topics: {found})')
        return [stamp_key(header_from_cdr(bytes(raw)).stamp)
                for _, _, raw in iter_messages(reader, {topic})]
    finally:
        reader.close()


def git_commit():
    """The commit of the installed checkout, when it is one ('' otherwise)."""
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ''
    except (OSError, subprocess.SubprocessError):
        return ''


class EvalRecorder(BagRecorder):
    def __init__(self):
        Node.__init__(self, 'eval_record')
        self.p = p = declare_params(self, EVAL_RECORD_PARAMS)
        if not p.output:
            raise SetupError("parameter 'output' is empty: give the result bag folder")
        if not p.input_bag:
            raise SetupError("parameter 'input_bag' is empty: give the bag being replayed")
        image_topic = p.image_topic.rstrip('/') + (
            '/compressed' if p.image_transport == 'compressed' else '')
        try:
            expected = image_stamps(p.input_bag, image_topic)
        except BagError as exc:
            raise SetupError(str(exc)) from None
        node = p.node.rstrip('/')
        self.output_topics = [f'{node}/{name}' for name in OUTPUTS]
        try:
            self._start_recording(p.output, self.output_topics + ['/diagnostics'], False,
                                  discovery_period=0.25, qos=RELIABLE)
        except BagError as exc:
            raise SetupError(str(exc)) from None
        self.expected = set(expected)
        self.expected_count = len(expected)
        self.acked = set()
        self.started = time.time()
        self.first_ack = self.last_ack = self.last_output = self.all_acked_at = None
        self.node_ready = False
        self.ready_pub = None
        self.input_conn = self.writer.add_connection(INPUT_HEADERS_TOPIC, 'std_msgs/msg/Header',
                                                     typestore=self.store)
        self.counts[INPUT_HEADERS_TOPIC] = 0
        msg_type = CompressedImage if p.image_transport == 'compressed' else Image
        self.create_subscription(msg_type, image_topic, self._on_image, RELIABLE, raw=True)
        self.create_subscription(Bool, f'{node}/ready', self._on_node_ready, READY_QOS)
        self.create_subscription(Header, f'{node}/frame_done', self._on_done, RELIABLE)
        self.end_key = None     # the player's end-of-stream announcement, once seen
        self.create_subscription(Header, f'{node}/end_of_stream', self._on_end, RELIABLE)
        self.create_timer(0.1, self._check)
        self.get_logger().info(
            f'recording {node} into {p.output}; {self.expected_count} images expected from '
            f'{p.input_bag} ({image_topic})')

    # -- callbacks ------------------------------------------------------------------------
    def _on_node_ready(self, msg):
        self.node_ready = bool(msg.data)

    def _on_image(self, raw):
        try:
            header = header_from_cdr(raw)
        except ImageError:
            return
        self._write(self.input_conn, serialize_message(header))

    def _on_done(self, header):
        now = time.monotonic()
        self.acked.add(stamp_key(header.stamp))
        self.first_ack = self.first_ack or now
        self.last_ack = now

    def _on_end(self, header):
        self.end_key = stamp_key(header.stamp)

    def _write(self, conn, raw):
        super()._write(conn, raw)
        if conn.topic != INPUT_HEADERS_TOPIC and conn.topic != '/diagnostics':
            self.last_output = time.monotonic()

    # -- state ----------------------------------------------------------------------------
    def _subscribed(self, topic):
        sub = self.subscriptions_by_topic.get(topic)
        return sub is not None and sub.get_publisher_count() > 0

    def _check(self):
        if self.done:
            return
        if self.ready_pub is None:
            needed = [t for t in self.output_topics if not t.endswith('persons_delayed')]
            if self.node_ready and all(self._subscribed(t) for t in needed):
                self.ready_pub = announce_ready(self)
                self.get_logger().info('the node is ready and its outputs are subscribed: '
                                       'the player may start')
            return
        now = time.monotonic()
        missing = len(self.expected - self.acked)
        if not missing and self.all_acked_at is None:
            self.all_acked_at = now
        # An end announced and not acknowledged: the node is still publishing what it owes.
        end_pending = self.end_key is not None and self.end_key not in self.acked
        quiet = now - max(self.last_output or 0.0, self.last_ack or 0.0)
        self.done, warning = run_verdict(now, missing, end_pending, quiet, self.last_ack,
                                         self.all_acked_at, self.p)
        if warning:
            self.get_logger().warn(warning)
        elif self.done:
            self.get_logger().info(f'all {self.expected_count} images acknowledged')

    def close(self):
        if self.ready_pub is not None:
            self.ready_pub.publish(Bool(data=False))
        super().close()
        run = dict(
            mode=self.p.mode, input_bag=str(Path(self.p.input_bag).resolve()),
            image_topic=self.p.image_topic, image_transport=self.p.image_transport,
            node=self.p.node, params_file=self.p.params_file,
            model_profile=self.p.model_profile, images_expected=self.expected_count,
            images_acknowledged=len(self.acked & self.expected),
            complete=not (self.expected - self.acked),
            end_acknowledged=self.end_key is not None and self.end_key in self.acked,
            started=self.started,
            ended=time.time(), commit=git_commit(), host=platform.node(),
            counts=dict(self.counts), pid=os.getpid())
        out = Path(self.p.output)
        if out.is_dir():
            (out / 'run.json').write_text(json.dumps(run, indent=1))


def main(args=None):
    run_main(EvalRecorder, args)


if __name__ == '__main__':
    main()
