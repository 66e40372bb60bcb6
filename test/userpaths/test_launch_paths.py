"""The README's launch commands as a user runs them, with subscribers on every output."""
import re

import numpy as np
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker

from hmr_models.body import load_body_model
from hmr_ros.msg import SMPLPersonArray
from ros.conftest import pid_alive
from userpaths.conftest import OUTPUTS, TopicLog, ros2_command, wait_for

LAUNCH_TIMEOUT = 420   # seconds: model loading and the first frames on a busy 2-core machine


def diagnostic_values(log, node='hmr_node'):
    """The key/values of the newest status of `node` (the viewer publishes diagnostics too)."""
    for msg in reversed(list(log.last)):
        for status in msg.status:
            if status.name.split(':')[0].strip().lstrip('/') == node:
                return {kv.key: kv.value for kv in status.values}
    return {'processed': '0'}


def test_main_command_with_a_subscriber_on_every_output(ros_node, spawn):
    """`ros2 launch hmr_ros live.launch.py` while RViz-like subscribers listen to everything.

    A subscriber on ~/markers used to turn every frame into a pipeline error.
    """
    logs = {topic: TopicLog(ros_node, msg_type, topic, keep=20 if 'persons' in topic else 5)
            for topic, msg_type in OUTPUTS.items()}
    images = TopicLog(ros_node, Image, '/camera/image_raw', qos=qos_profile_sensor_data)
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'live.launch.py')
    assert wait_for(lambda: all(log.count >= 3 for log in logs.values()), LAUNCH_TIMEOUT), \
        ({t: log.count for t, log in logs.items()}, launch.text)
    assert 'sample_sports2d.mp4' in launch.text
    # Every output carries the stamp and frame of the source image it was computed from.
    persons, smoothed = logs['/hmr_node/persons'], logs['/hmr_node/persons_smoothed']
    assert set(persons.stamps) & set(images.stamps), (persons.stamps[:3], images.stamps[:3])
    assert all(m.header.frame_id == 'camera_optical_frame' for m in persons.last)
    # The default profile runs the bundled DPMesh and DiffMesh: meshes in front of the camera.
    meshes = [q for m in persons.last for q in m.persons if q.has_mesh]
    assert meshes, 'no mesh from the default compact model'
    assert all(q.model_profile == 'compact' and q.translation.z > 0 for q in meshes)
    # Tracked people are smoothed; untracked ones are passed through and labelled so.
    assert wait_for(lambda: any(q.temporal for m in list(smoothed.last) for q in m.persons), 60)
    assert all(q.has_mesh and q.temporal == (q.track_id >= 0) for m in list(smoothed.last)
               for q in m.persons)
    # Markers: the full mesh of a person, as a TRIANGLE_LIST of the body's every triangle.
    faces = load_body_model().faces
    mesh_markers = [m for arr in logs['/hmr_node/markers'].last for m in arr.markers
                    if m.type == Marker.TRIANGLE_LIST]
    assert mesh_markers and max(len(m.points) for m in mesh_markers) == 3 * len(faces)
    assert all(m.header.frame_id == 'camera_optical_frame' for m in mesh_markers)
    # Images: the source's 1280x720 scaled to visuals_max_width (640); the overlay differs from
    # the debug image (meshes drawn).
    overlay, debug = logs['/hmr_node/overlay'].last[-1], logs['/hmr_node/debug_image'].last[-1]
    assert (overlay.width, overlay.height) == (debug.width, debug.height) == (640, 360)
    # Diagnostics: frames processed, none failed.
    values = wait_for(lambda: (lambda v: v if int(v['processed']) >= 3 else None)(
        diagnostic_values(logs['/diagnostics'])), 60)
    assert values and values['errors'] == '0', values
    # Where the latency goes, waits included (the image's age on arrival from the live source;
    # pipelined: the image waiting for the front-end, the result waiting for the mesh worker).
    stages = {k for k in values if k.startswith('stage_ms_')}
    assert {'stage_ms_arrival', 'stage_ms_wait_intake', 'stage_ms_frontend',
            'stage_ms_wait_mesh', 'stage_ms_mesh', 'stage_ms_temporal',
            'stage_ms_publish'} <= stages, stages
    assert all(float(values[k]) >= 0 for k in stages), values
    print(f"markers received at {logs['/hmr_node/markers'].rate():.2f} /s, persons at "
          f"{logs['/hmr_node/persons'].rate():.2f} /s with every output subscribed")
    pids = [int(p) for p in re.findall(r'process started with pid \[(\d+)\]', launch.text)]
    assert len(pids) == 3, launch.text      # camera_source, hmr_node, viewer
    assert launch.interrupt(timeout=90) == 0, launch.text
    assert 'process has finished cleanly' in launch.text
    assert 'pipeline error' not in launch.text, launch.text
    assert 'Failed to publish log message' not in launch.text, launch.text
    assert 'process has died' not in launch.text, launch.text
    assert not any(pid_alive(p) for p in pids)


def test_video_file_command_processes_every_frame_and_stops(ros_node, spawn, clip):
    """README: `ros2 launch hmr_ros live.launch.py source:=clip.mp4 loop:=false`.

    N frames in give N results out, however slow the machine, and the launch ends by itself;
    with camera_height the floor is known too (and floor_from_people says it is not needed).
    """
    images = TopicLog(ros_node, Image, '/camera/image_raw')
    persons = TopicLog(ros_node, SMPLPersonArray, '/hmr_node/persons')
    smoothed = TopicLog(ros_node, SMPLPersonArray, '/hmr_node/persons_smoothed')
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'live.launch.py', f'source:={clip}',
                   'loop:=false', 'camera_height:=1.6', 'floor_from_people:=true')
    assert launch.wait(timeout=LAUNCH_TIMEOUT) == 0, launch.text
    assert 'floor from people: not used, the camera knows its floor (TF)' in launch.text
    # a file may be an edited video (scene_cut:=auto); the library's log reaches the launch's
    assert '[hmr_node]: pipeline: profile compact' in launch.text, launch.text
    assert 'a hard cut between shots starts new tracks' in launch.text, launch.text
    # camera_height: the mount on /tf_static, so hmr_node knows the floor
    assert ("floor in camera_optical_frame: base_footprint's xy plane from /tf_static, the "
            'camera 1.60 m above it') in launch.text, launch.text
    # The node's own count is exact; an observer started beside a launch may match the node's
    # publishers only after its first results on a busy machine.
    assert '20 frames sent, 20 acknowledged' in launch.text, launch.text
    assert 'frames 20 in, 20 done, 0 dropped (busy)' in launch.text, launch.text
    assert wait_for(lambda: persons.count >= 10 and smoothed.count >= 10, 30), \
        (persons.count, smoothed.count, launch.text)
    assert images.count <= 20 and persons.count <= 20 and smoothed.count <= 20
    # The stamps follow the video's clock (30 FPS), not the processing speed.
    t = np.array(sorted(s + n * 1e-9 for s, n in persons.stamps))
    np.testing.assert_allclose(np.diff(t), 1 / 30, atol=1e-6)
    assert 'Failed to publish log message' not in launch.text


def test_a_folder_of_photos_gives_each_photo_its_own_people(ros_node, spawn, tmp_path):
    """`live.launch.py source:=photos/ loop:=false` on photos that are not one video's frames:
    stills (auto) finds the people of every photo afresh, one result per photo, then stops."""
    import cv2
    from hmr_ros.node_main import share_file
    cap = cv2.VideoCapture(str(share_file('media', 'sample_sports2d.mp4')))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 75)
    ok, bgr = cap.read()
    cap.release()
    assert ok
    folder = tmp_path / 'photos'
    folder.mkdir()
    photos = {'roof.jpg': bgr, 'mirrored.jpg': bgr[:, ::-1],
              'small.png': cv2.resize(bgr, (640, 360), interpolation=cv2.INTER_AREA),
              'mirrored_small.jpg': cv2.resize(bgr[:, ::-1], (800, 450))}
    for name, image in photos.items():
        cv2.imwrite(str(folder / name), image)
    persons = TopicLog(ros_node, SMPLPersonArray, '/hmr_node/persons', keep=10)
    smoothed = TopicLog(ros_node, SMPLPersonArray, '/hmr_node/persons_smoothed')
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'live.launch.py', f'source:={folder}',
                   'loop:=false')
    assert launch.wait(timeout=LAUNCH_TIMEOUT) == 0, launch.text
    assert 'stills: every image stands alone' in launch.text, launch.text
    assert '4 frames sent, 4 acknowledged' in launch.text, launch.text
    assert wait_for(lambda: persons.count >= 4, 30), (persons.count, launch.text)
    # The two people on the roof and on the path, in every photo, mirrored or not.
    assert [len(m.persons) >= 2 for m in persons.last] == [True] * 4, \
        [len(m.persons) for m in persons.last]
    assert all(q.has_mesh and q.track_id < 0 for m in persons.last for q in m.persons)
    assert smoothed.count == 0
    assert 'pipeline error' not in launch.text, launch.text


def test_parameters_change_live_or_are_refused_with_a_reason(ros_node, spawn, clip):
    """`ros2 param set /hmr_node ...`: live parameters act, the others say why they cannot."""
    from rclpy.parameter_client import AsyncParameterClient
    persons = TopicLog(ros_node, SMPLPersonArray, '/hmr_node/persons', keep=50)
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'live.launch.py', f'source:={clip}',
                   'model_profile:=frontend_only')
    assert wait_for(lambda: persons.count >= 3, LAUNCH_TIMEOUT), launch.text
    assert any(len(m.persons) for m in persons.last), 'nobody found in the clip'
    client = AsyncParameterClient(ros_node, '/hmr_node')
    assert client.wait_for_services(timeout_sec=60)

    def set_params(*params):
        future = client.set_parameters(list(params))
        assert wait_for(future.done, 60)
        return future.result().results

    refused = set_params(Parameter('model_profile', value='sd15'),
                         Parameter('image_topic', value='/other'))
    assert not any(r.successful for r in refused)
    assert all('read-only' in r.reason for r in refused), refused
    bad = set_params(Parameter('frontend.min_person_height_px', value=-5.0))[0]
    assert not bad.successful and 'min_person_height_px' in bad.reason
    # People taller than the image cannot exist: from the next frames on, nobody is reported.
    ok = set_params(Parameter('frontend.min_person_height_px', value=5000.0))[0]
    assert ok.successful, ok.reason
    seen = persons.count
    assert wait_for(lambda: persons.count >= seen + 4 and not any(
        len(m.persons) for m in list(persons.last)[-3:]), 120), launch.text
    assert launch.says('parameter frontend.min_person_height_px = 5000.0 (live)'), launch.text
    ok = set_params(Parameter('frontend.min_person_height_px', value=20.0))[0]
    assert ok.successful
    assert wait_for(lambda: any(len(m.persons) for m in list(persons.last)[-3:]), 120)
    typed = client.get_parameters(['model_profile'])
    assert wait_for(typed.done, 30)
    assert typed.result().values[0].string_value == 'frontend_only'
    assert launch.interrupt(timeout=60) == 0, launch.text


def test_delayed_stream_is_published_when_asked(ros_node, spawn, clip, tmp_path):
    """`live.launch.py ... delay_frames:=4`: ~/persons_delayed carries fully smoothed earlier
    frames, up to the video's last one (the end of the file brings the last 4), and a
    parameters file must name the parameter with its stage."""
    flat = tmp_path / 'flat.yaml'          # the name without its stage: refused, not ignored
    flat.write_text('/**/hmr_node:\n  ros__parameters:\n    temporal_delay_frames: 4\n')
    refused = spawn('--ros-args', '--params-file', str(flat), python_module='hmr_ros.hmr_node')
    assert refused.wait(timeout=120) == 2, refused.text
    assert "'temporal_delay_frames' is 'temporal.temporal_delay_frames'" in refused.text
    persons = TopicLog(ros_node, SMPLPersonArray, '/hmr_node/persons')
    delayed = TopicLog(ros_node, SMPLPersonArray, '/hmr_node/persons_delayed', keep=50)
    launch = spawn(*ros2_command(), 'launch', 'hmr_ros', 'live.launch.py', f'source:={clip}',
                   'loop:=false', 'delay_frames:=4', 'viewer:=false')
    assert launch.wait(timeout=LAUNCH_TIMEOUT) == 0, launch.text
    assert 'frames 20 in, 20 done, 0 dropped (busy)' in launch.text, launch.text
    assert 'end of stream: its last 4 frames published' in launch.text, launch.text

    def seconds(log):
        return np.array(sorted(s + n * 1e-9 for s, n in log.stamps))

    def the_last_delayed_arrived():
        # 20 frames: the last delayed one is the last frame's, published at the end of the file
        # (an observer started beside a launch may miss the first messages, not the last)
        if persons.count < 10 or delayed.count < 8:
            return False
        return abs(seconds(delayed)[-1] - seconds(persons)[-1]) < 1e-3
    assert wait_for(the_last_delayed_arrived, 30), (persons.count, delayed.count, launch.text)
    assert delayed.count <= 20
    # Every delayed message is stamped with a frame of the video (its 30 FPS clock), each
    # once, in order, and its people are smoothed ones.
    steps = (np.array([s + n * 1e-9 for s, n in delayed.stamps]) - seconds(persons)[-1]) * 30
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    assert (np.diff(steps) > 0.5).all(), steps
    np.testing.assert_allclose(steps[-4:], [-3, -2, -1, 0], atol=1e-3)
    people = [p for m in delayed.last for p in m.persons]
    assert people and all(p.temporal and p.has_mesh and p.track_id >= 0 for p in people)
