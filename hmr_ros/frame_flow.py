"""Flow control between a source (camera_source, bag_play) and hmr_node.

hmr_node announces on a latched `~/ready` (std_msgs/Bool) that its models are loaded, and
acknowledges every input image it has finished (or dropped) on `~/frame_done`
(std_msgs/Header: the image's own header). A source then

- waits until the node is ready and subscribed before its first frame, so that nothing is
  published into a node that is still loading (a short video used to be over before that);
- in every-frame mode, keeps at most `max_in_flight` frames unacknowledged: the next frame goes
  out when the node has finished an earlier one (backpressure), so N frames in give N results
  out at whatever speed the machine allows. A frame that is not acknowledged within
  `ack_timeout` is sent again (the node ignores a stamp it has already taken), and given up
  after `max_resends`, counted and logged;
- at the end of a file or bag, once every frame is acknowledged (at the source's own rate:
  once the last one is, as the node acknowledges the frames it drops too, waiting at most
  `ack_timeout * (MAX_RESENDS + 1)`), sends a std_msgs/Header on the node's `~/end_of_stream`
  and waits for it to be acknowledged on `~/frame_done` like a frame: the node first publishes
  what it still owes (the delayed stream's last frames, which no later frame will bring).
"""
from collections import deque, OrderedDict
import threading
import time

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, Header

from hmr_ros.params import Param

READY_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)
DONE_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
WAIT_LOG_PERIOD = 10.0   # seconds between "still waiting" log lines
END_FRAME_ID = 'end_of_stream'
# The sources' (camera_source, bag_play) parameter of the end-of-stream announcement.
END_TOPIC_PARAM = Param(
    'end_topic', '', "std_msgs/Header end-of-stream announcement at a file's end (needs "
    "done_topic), acknowledged there when the node has published all it owes (hmr_node: "
    "'/hmr_node/end_of_stream': the delayed stream's last frames); empty: none")


MAX_RESENDS = 2    # a frame unacknowledged after ack_timeout * (MAX_RESENDS + 1) is lost


def stamp_key(stamp):
    """A hashable key of a builtin_interfaces/Time."""
    return int(stamp.sec), int(stamp.nanosec)


class FrameFlow:
    """The source side of the protocol above (thread-safe; callbacks run in the executor).

    Args:
        node: the source node (subscriptions are created on it).
        ready_topic: hmr_node's ready topic; '' = do not wait for a node.
        done_topic: hmr_node's frame_done topic; '' = no acknowledgements (no every-frame mode,
            no end of stream).
        max_in_flight: frames sent and not yet acknowledged, at most.
        ack_timeout: seconds before an unacknowledged frame is sent again.
        max_resends: resends of one frame before it is given up as lost.
        end_topic: hmr_node's end_of_stream topic; '' = do not announce the end.
        every_frame: frames wait for the acknowledgement of earlier ones (False: the source's
            own rate; the acknowledgements only say when the last frame is done).
    """

    def __init__(self, node, ready_topic='', done_topic='', max_in_flight=2, ack_timeout=20.0,
                 max_resends=MAX_RESENDS, end_topic='', every_frame=True):
        self.node = node
        self.ready_topic = ready_topic
        self.max_in_flight = max(1, int(max_in_flight))
        self.ack_timeout = float(ack_timeout)
        self.max_resends = int(max_resends)
        self.ready = threading.Event()
        if ready_topic:
            node.create_subscription(Bool, ready_topic, self._on_ready, READY_QOS)
        else:
            self.ready.set()
        self.acknowledging = bool(done_topic) and every_frame
        if done_topic:
            node.create_subscription(Header, done_topic, self._on_done, DONE_QOS)
        self._end_pub = node.create_publisher(Header, end_topic, DONE_QOS) \
            if end_topic and done_topic else None
        self._end_key = None
        self._last_stamp = None
        self._recent_done = deque(maxlen=64)   # stamp keys lately acknowledged
        self._cond = threading.Condition()
        self._outstanding = OrderedDict()   # stamp key -> [sent monotonic, resend fn, resends]
        self.counts = dict(sent=0, acknowledged=0, resent=0, lost=0)
        self.ack_seconds = []

    # -- callbacks (executor thread) --------------------------------------------------------
    def _on_ready(self, msg):
        if msg.data and not self.ready.is_set():
            self.node.get_logger().info(f'{self.ready_topic}: the node is ready')
            self.ready.set()
        elif not msg.data:
            self.ready.clear()

    def _on_done(self, header):
        with self._cond:
            key = stamp_key(header.stamp)
            self._recent_done.append(key)
            self._cond.notify_all()
            entry = self._outstanding.pop(key, None)
            if entry is None:
                return  # a frame of somebody else, or an acknowledgement of a resend
            if key == self._end_key:
                return  # the end of the stream, not a frame
            self.counts['acknowledged'] += 1
            self.ack_seconds.append(time.monotonic() - entry[0])

    # -- the source's publishing thread -----------------------------------------------------
    def wait_ready(self, stop, publishers=()):
        """Block until the node is ready and each publisher has a subscriber; False if stopped."""
        waited_since = time.monotonic()
        last_log = waited_since
        while not stop.is_set():
            matched = all(p.get_subscription_count() > 0 for p in publishers)
            if self.ready.is_set() and matched:
                if publishers:
                    # A writer can see its reader before the reader has matched the writer:
                    # give discovery a moment, or the first frame may be lost.
                    stop.wait(0.5)
                return not stop.is_set()
            now = time.monotonic()
            if now - last_log >= WAIT_LOG_PERIOD:
                last_log = now
                what = f'{self.ready_topic} (the node loading its models)' \
                    if not self.ready.is_set() else 'a subscriber'
                self.node.get_logger().info(
                    f'waiting for {what} for {now - waited_since:.0f} s before the first frame')
            stop.wait(0.05)
        return False

    def acquire(self, stop):
        """Block until another frame may be sent (every-frame mode); False if stopped."""
        with self._cond:
            while not stop.is_set():
                self._resend_overdue()
                if len(self._outstanding) < self.max_in_flight:
                    return True
                self._cond.wait(timeout=0.1)
        return False

    def sent(self, stamp, resend):
        """Record a frame just sent; `resend()` publishes it again if it is not acknowledged."""
        with self._cond:
            self.counts['sent'] += 1
            self._last_stamp = stamp
            if self.acknowledging:
                self._outstanding[stamp_key(stamp)] = [time.monotonic(), resend, 0]

    def drain(self, stop):
        """Wait until every frame sent is acknowledged or given up; False if stopped."""
        with self._cond:
            while self._outstanding and not stop.is_set():
                self._resend_overdue()
                self._cond.wait(timeout=0.1)
            return not self._outstanding

    def end_stream(self, stop):
        """After `drain`: announce the end and wait for the node to finish; False if stopped.

        Nothing to do without an end topic, frames or a node listening. The end's stamp is
        1 ns after the last frame's, so that it is acknowledged like no frame.
        """
        if self._end_pub is None or self._last_stamp is None or \
                self._end_pub.get_subscription_count() == 0:
            return True
        if not self.acknowledging and not self._wait_last_frame(stop):
            return False
        ns = self._last_stamp.sec * 1_000_000_000 + self._last_stamp.nanosec + 1
        header = Header(frame_id=END_FRAME_ID)
        header.stamp.sec, header.stamp.nanosec = divmod(ns, 1_000_000_000)
        with self._cond:
            self._end_key = stamp_key(header.stamp)
            self._outstanding[self._end_key] = [time.monotonic(),
                                                lambda: self._end_pub.publish(header), 0]
        self._end_pub.publish(header)
        return self.drain(stop)

    def _wait_last_frame(self, stop):
        """At the source's own rate: wait until the node is done with the last frame sent.

        Bounded like a frame in every-frame mode; past that the end is announced anyway
        (logged). False if stopped.
        """
        bound = self.ack_timeout * (self.max_resends + 1)
        deadline = time.monotonic() + bound
        with self._cond:
            last = stamp_key(self._last_stamp)
            while last not in self._recent_done and not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    self.node.get_logger().warning(
                        f'the last frame was not acknowledged within {bound:.0f} s: '
                        'announcing the end of the stream anyway')
                    break
                self._cond.wait(timeout=min(0.1, left))
        return not stop.is_set()

    def _resend_overdue(self):
        now = time.monotonic()
        for key, entry in list(self._outstanding.items()):
            if now - entry[0] < self.ack_timeout:
                continue
            what = 'the end of the stream' if key == self._end_key else \
                f'frame {key[0]}.{key[1]:09d}'
            if entry[2] >= self.max_resends:
                del self._outstanding[key]
                if key != self._end_key:
                    self.counts['lost'] += 1
                self.node.get_logger().warning(
                    f'{what} was not acknowledged after {entry[2]} resends: given up'
                    + ('' if key == self._end_key else ' (counted as lost)'))
                self._cond.notify_all()
                continue
            entry[0], entry[2] = now, entry[2] + 1
            self.counts['resent'] += 1
            self.node.get_logger().warning(
                f'{what} not acknowledged within {self.ack_timeout:.0f} s: sending it again')
            entry[1]()

    def summary(self):
        c = self.counts
        text = f"{c['sent']} frames sent"
        if self.acknowledging:
            text += f", {c['acknowledged']} acknowledged"
            if c['resent'] or c['lost']:
                text += f", {c['resent']} resent, {c['lost']} lost"
        return text


def announce_ready(node):
    """hmr_node's side: the latched ready publisher, already saying True."""
    pub = node.create_publisher(Bool, '~/ready', READY_QOS)
    pub.publish(Bool(data=True))
    return pub


def on_end_of_stream(node, callback):
    """hmr_node's side: `callback(header)` when a source announces the end of its stream."""
    return node.create_subscription(Header, '~/end_of_stream', callback, DONE_QOS)


def done_publisher(node):
    """hmr_node's side: the publisher of acknowledgements (one Header per finished image)."""
    return node.create_publisher(Header, '~/frame_done', DONE_QOS)
