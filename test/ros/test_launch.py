"""live.launch.py end to end on the bundled sample video, headless, and clean shutdown."""
import os
import re

from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from hmr_ros.msg import SMPLPersonArray
from ros.conftest import ros2_command, wait_for
from ros.test_nodes import RELIABLE, collect


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_live_launch_publishes_people_with_source_stamps_and_stops_cleanly(ros_node, spawn):
    images = collect(ros_node, Image, '/camera/image_raw', qos_profile_sensor_data)
    persons = collect(ros_node, SMPLPersonArray, '/hmr_node/persons', RELIABLE)
    smoothed = collect(ros_node, SMPLPersonArray, '/hmr_node/persons_smoothed', RELIABLE)
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'live.launch.py', 'viewer:=false')

    def matched():
        stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in list(images)}
        return [p for p in list(persons) if (p.header.stamp.sec, p.header.stamp.nanosec) in stamps]
    # Model loading takes a while on 2 cores; then every output must carry a source stamp.
    assert wait_for(lambda: len(matched()) >= 5, 240), \
        f'{len(persons)} persons, {len(images)} images, {len(matched())} matched\n{launch.text}'
    assert 'sample_sports2d.mp4' in launch.text
    matched = matched()
    assert all(p.header.frame_id == 'camera_optical_frame' for p in matched)
    assert any(len(p.persons) > 0 for p in persons), 'nobody found in the sample video'
    # The default profile runs the bundled DPMesh and DiffMesh: meshes in front of the camera.
    meshes = [q for p in persons for q in p.persons if q.has_mesh]
    assert meshes, 'no mesh from the default compact model'
    assert all(q.model_profile == 'compact' and q.translation.z > 0 for q in meshes)
    assert wait_for(lambda: any(len(p.persons) for p in smoothed), 60), launch.text
    # Tracked people are smoothed; untracked ones are passed through and labelled so.
    assert all(q.has_mesh and q.temporal == (q.track_id >= 0) for p in smoothed
               for q in p.persons)
    assert any(q.temporal for p in smoothed for q in p.persons)

    pids = [int(p) for p in re.findall(r'process started with pid \[(\d+)\]', launch.text)]
    assert len(pids) == 2, launch.text
    assert launch.interrupt(timeout=60) == 0, launch.text
    assert 'process has finished cleanly' in launch.text
    assert 'process has died' not in launch.text
    assert not any(pid_alive(p) for p in pids)
