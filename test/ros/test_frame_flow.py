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


def test_a_replay_run_ends_even_if_the_end_of_stream_is_never_acknowledged():
    """eval_record's verdict: it waits for the end's acknowledgement (the delayed stream's
    last frames), but at most end_timeout after the last image, not idle_timeout (30 min)."""
    from types import SimpleNamespace
    from hmr_ros.eval_record import run_verdict
    p = SimpleNamespace(settle=2.0, idle_timeout=1800.0, end_timeout=90.0)
    # every image acknowledged at t=100, the end announced and still owed
    assert run_verdict(150.0, 0, True, 50.0, 100.0, 100.0, p) == (False, None)
    over, warning = run_verdict(190.0, 0, True, 90.0, 100.0, 100.0, p)
    assert over and 'end of the stream was not acknowledged within 90 s' in warning
    # acknowledged: over once the outputs are quiet, with no warning
    assert run_verdict(101.0, 0, False, 1.0, 100.0, 100.0, p) == (False, None)
    assert run_verdict(102.5, 0, False, 2.5, 100.0, 100.0, p) == (True, None)
    # images still owed: the end's bound does not apply, only idle_timeout does
    assert run_verdict(500.0, 3, True, 400.0, 100.0, None, p) == (False, None)
    over, warning = run_verdict(1900.0, 3, False, 1800.0, 100.0, None, p)
    assert over and '3 images never acknowledged' in warning


def test_at_the_sources_own_rate_the_end_waits_for_the_last_frame(ros_node):
    """No backpressure, but the end of the stream is announced only once the node is done
    with the last frame sent (it acknowledges dropped frames too): announced earlier, the
    node would flush the delayed stream before that frame."""
    flow = FrameFlow(ros_node, '', '/ff4/done', ack_timeout=60.0, end_topic='/ff4/end',
                     every_frame=False)
    done = ros_node.create_publisher(Header, '/ff4/done', DONE_QOS)
    ends = []
    ros_node.create_subscription(Header, '/ff4/end', ends.append, DONE_QOS)
    assert wait_matched(done, timeout=30)
    assert wait_for(lambda: flow._end_pub.get_subscription_count() > 0, 30)
    stop = threading.Event()
    for sec in (1, 2, 3):
        assert flow.acquire(stop)                   # never waits at the source's rate
        flow.sent(header(sec).stamp, None)
    assert flow.drain(stop) is True                 # nothing is outstanding
    waited = []
    ender = threading.Thread(target=lambda: waited.append(flow.end_stream(stop)))
    ender.start()
    done.publish(header(2))                         # an earlier frame: not the end yet
    ender.join(timeout=1.5)
    assert ender.is_alive() and not ends, 'announced before the last frame was done'
    done.publish(header(3))
    assert wait_for(lambda: ends, 30)
    assert (ends[0].stamp.sec, ends[0].stamp.nanosec) == (3, 1)
    done.publish(ends[0])
    ender.join(timeout=30)
    assert waited == [True]
    assert flow.summary() == '3 frames sent'


def test_at_the_sources_own_rate_a_lost_last_frame_does_not_hold_the_end(ros_node):
    flow = FrameFlow(ros_node, '', '/ff5/done', ack_timeout=0.2, max_resends=1,
                     end_topic='/ff5/end', every_frame=False)
    ends = []
    ros_node.create_subscription(Header, '/ff5/end', ends.append, DONE_QOS)
    assert wait_for(lambda: flow._end_pub.get_subscription_count() > 0, 30)
    flow.sent(header(9).stamp, None)
    stop = threading.Event()
    assert flow.end_stream(stop) is True            # nobody acknowledges: gives up, bounded
    assert wait_for(lambda: ends, 30), 'the end was not announced after the wait'
