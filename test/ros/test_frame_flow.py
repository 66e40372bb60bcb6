"""The source side of the ready / frame_done protocol, against a real middleware."""
import threading

from std_msgs.msg import Bool, Header

from hmr_ros.frame_flow import DONE_QOS, READY_QOS, FrameFlow
from ros.conftest import wait_for, wait_matched


def header(sec):
    h = Header(frame_id='cam')
    h.stamp.sec = sec
    return h


def test_waits_for_ready_then_limits_frames_in_flight(ros_node):
    flow = FrameFlow(ros_node, '/ff/ready', '/ff/done', max_in_flight=2, ack_timeout=60.0)
    ready = ros_node.create_publisher(Bool, '/ff/ready', READY_QOS)
    done = ros_node.create_publisher(Header, '/ff/done', DONE_QOS)
    stop = threading.Event()
    waited = []
    waiter = threading.Thread(target=lambda: waited.append(flow.wait_ready(stop)))
    waiter.start()
    waiter.join(timeout=1.0)
    assert waiter.is_alive(), 'went ahead before the node was ready'
    ready.publish(Bool(data=True))          # latched: a late subscriber still gets it
    waiter.join(timeout=60)
    assert waited == [True]
    assert wait_matched(done, timeout=30)
    for sec in (1, 2):
        assert flow.acquire(stop)
        flow.sent(header(sec).stamp, lambda: None)
    blocked = threading.Thread(target=lambda: waited.append(flow.acquire(stop)))
    blocked.start()
    blocked.join(timeout=1.0)
    assert blocked.is_alive(), 'a third frame went out with two unacknowledged'
    done.publish(header(1))
    blocked.join(timeout=30)
    assert waited == [True, True]
    done.publish(header(2))
    assert flow.drain(stop) is True
    assert flow.counts == dict(sent=2, acknowledged=2, resent=0, lost=0)


def test_unacknowledged_frames_are_resent_then_given_up(ros_node):
    flow = FrameFlow(ros_node, '', '/ff2/done', max_in_flight=1, ack_timeout=0.3,
                     max_resends=2)
    resent = []
    flow.sent(header(7).stamp, lambda: resent.append(7))
    assert flow.drain(threading.Event()) is True     # done waiting: given up as lost
    assert resent == [7, 7]
    assert flow.counts['resent'] == 2 and flow.counts['lost'] == 1
    assert '1 frames sent, 0 acknowledged, 2 resent, 1 lost' in flow.summary()
    assert wait_for(lambda: flow.acquire(threading.Event()), 5)


def test_intake_keeps_what_the_idle_worker_waits_for_and_only_the_newest_behind_it():
    """Two images back to back while the worker wakes up: both processed (a source in
    every-frame mode sends two at once); the worker busy, only the newest waits."""
    from hmr_models.pacing import LatestSlot
    slot = LatestSlot()
    taken = []
    taker = threading.Thread(target=lambda: taken.append(slot.take()))
    taker.start()
    assert wait_for(lambda: slot._claimed, 30)       # the worker is waiting
    assert slot.put('a') is None and slot.put('b') is None, 'the awaited image was replaced'
    taker.join(timeout=30)
    assert taken == ['a']
    assert slot.put('c') == 'b', 'worker busy: the older waiting image gives way'
    slot.claim()                  # the worker acknowledges and will come back for 'c'
    assert slot.put('d') is None
    assert slot.take() == 'c' and slot.take() == 'd'
    slot.close()
    assert slot.take() is None


def test_handoff_between_stages_waits_instead_of_dropping():
    from hmr_models.pacing import LatestSlot
    slot = LatestSlot(replace=False)
    assert slot.put('a') is None
    putter = threading.Thread(target=lambda: slot.put('b'))
    putter.start()
    putter.join(timeout=1.0)
    assert putter.is_alive(), "a full hand-off did not wait"
    assert slot.take() == 'a'
    putter.join(timeout=30)
    assert not putter.is_alive() and slot.take() == 'b'


def test_the_end_of_a_stream_waits_for_the_node_to_finish(ros_node):
    """After the last frame: a Header on the end topic, 1 ns after it, acknowledged like a
    frame but not counted as one; without a listener there is nothing to wait for."""
    flow = FrameFlow(ros_node, '', '/ff3/done', ack_timeout=60.0, end_topic='/ff3/end')
    stop = threading.Event()
    assert flow.end_stream(stop) is True             # no frame sent yet: nothing to announce
    done = ros_node.create_publisher(Header, '/ff3/done', DONE_QOS)
    ends = []
    ros_node.create_subscription(Header, '/ff3/end', ends.append, DONE_QOS)
    assert wait_matched(done, timeout=30)
    assert wait_for(lambda: flow._end_pub.get_subscription_count() > 0, 30)
    flow.sent(header(5).stamp, lambda: None)
    done.publish(header(5))
    assert flow.drain(stop) is True
    waited = []
    ender = threading.Thread(target=lambda: waited.append(flow.end_stream(stop)))
    ender.start()
    assert wait_for(lambda: ends, 30)
    assert (ends[0].stamp.sec, ends[0].stamp.nanosec, ends[0].frame_id) == \
        (5, 1, 'end_of_stream')
    ender.join(timeout=1.0)
    assert ender.is_alive(), 'went on before the node had acknowledged the end'
    done.publish(ends[0])
    ender.join(timeout=30)
    assert waited == [True]
    assert flow.counts == dict(sent=1, acknowledged=1, resent=0, lost=0)
