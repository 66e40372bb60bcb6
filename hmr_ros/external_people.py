"""People given to hmr_node on a topic instead of found by its front-end (`people_topic`).

An hmr_ros/SMPLPersonArray per image (boxes, COCO-17 keypoints and scores, track ids), matched
to the image by header stamp: another detector and tracker on the robot, or, for evaluation, a
bag's simulated detections with their ground-truth track ids (the setting of
benchmarks/eval_synthocc_sequences.py). The node waits a bounded time for the people of an
image it has received; an image whose people never come is processed with nobody in it. A
person whose box is not finite or empty is dropped, counted and logged (throttled); missing or
non-finite keypoints count as missing (NaN, score 0).
"""
from collections import OrderedDict
import threading
import time

from rclpy.qos import QoSProfile, ReliabilityPolicy

from hmr_models.frontend.boxes import valid_boxes
from hmr_ros.frame_flow import stamp_key
from hmr_ros.msg import SMPLPersonArray
from hmr_ros.person_msgs import people_from_array

KEEP = 64   # people messages kept, by stamp (images arrive in order, a little after or before)


class ExternalPeople:
    def __init__(self, node, topic, timeout=5.0):
        self.topic = topic
        self.timeout = float(timeout)
        self.missed = 0
        self.dropped = 0        # people with a box that is not finite or empty
        self._log = node.get_logger()
        self._cond = threading.Condition()
        self._by_stamp = OrderedDict()
        node.create_subscription(
            SMPLPersonArray, topic, self._on_msg,
            QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))

    def _on_msg(self, msg):
        people = people_from_array(msg)
        ok = valid_boxes(people.boxes)
        if not ok.all():
            self.dropped += int((~ok).sum())
            people = people.select(ok)
            self._log.warning(f'{self.topic}: dropped people whose box is not finite or empty '
                              f'({self.dropped} so far)', throttle_duration_sec=10.0)
        with self._cond:
            self._by_stamp[stamp_key(msg.header.stamp)] = people
            while len(self._by_stamp) > KEEP:
                self._by_stamp.popitem(last=False)
            self._cond.notify_all()

    def take(self, stamp):
        """The people of the image stamped `stamp`; None after `timeout` seconds without."""
        key = stamp_key(stamp)
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while key not in self._by_stamp:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.missed += 1
                    return None
                self._cond.wait(timeout=min(left, 0.1))
            return self._by_stamp.pop(key)
