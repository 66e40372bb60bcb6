"""The in-process test node keeps receiving while helpers create and destroy entities."""
import time

from std_msgs.msg import Bool

from conftest import wait_for


def test_the_test_node_keeps_spinning_while_subscriptions_come_and_go(ros_node):
    """wait_node_ready and friends destroy their subscriptions from the test's thread while
    the executor's thread may be adding them to its wait set; that must not stop it."""
    pub = ros_node.create_publisher(Bool, '/fixture_check', 10)
    got = []
    ros_node.create_subscription(Bool, '/fixture_check', lambda m: got.append(m.data), 10)
    deadline = time.monotonic() + 3.0
    n = 0
    while time.monotonic() < deadline:
        sub = ros_node.create_subscription(Bool, '/fixture_other', lambda m: None, 10)
        time.sleep(0.0005 * (n % 5))
        ros_node.destroy_subscription(sub)
        n += 1
    before = len(got)
    # still spinning: a message sent now arrives
    assert wait_for(lambda: pub.publish(Bool(data=True)) or len(got) > before, 30, period=0.2)
