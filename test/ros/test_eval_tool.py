"""hmr-eval's bag side: 3DPW conversion, result bags read back, scores, report in chromium.

The node itself is not run here (test/userpaths/test_eval_paths.py runs the README command end
to end): the 'node output' is written as eval_record writes it, from the ground truth with
known errors, so the figures are known exactly.
"""
import json
import pickle

import cv2
import numpy as np
import pytest

from hmr_ros.bags import iter_messages, open_reader, open_writer, typestore
from hmr_ros.eval_record import INPUT_HEADERS_TOPIC
from hmr_ros.eval_tool import main as hmr_eval, read_input, read_people_topic

FRAMES = 12


@pytest.fixture(scope='module')
def body():
    from hmr_models.body import load_body_model
    return load_body_model(None)


def write_3dpw(root, body, frames=FRAMES):
    """A tiny sequence in 3DPW's layout: two actors walking, one camera, a few images."""
    import torch
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(0)
    rot = Rotation.from_euler('xyz', [0.05, -0.3, 0.02]).as_matrix()
    cam_poses = np.tile(np.eye(4), (frames, 1, 1))
    cam_poses[:, :3, :3] = rot
    cam_poses[:, :3, 3] = [0.1, 0.3, 5.0]
    poses, trans, betas, joints, valid = [], [], [], [], []
    for a in range(2):
        pose = np.zeros((frames, 72), np.float32)
        pose[:, 3 * 16 + 2] = np.linspace(-0.3, 0.3, frames)
        tr = np.stack([np.full(frames, -0.7 + 1.4 * a), np.zeros(frames),
                       np.linspace(0, 0.3, frames)], -1).astype(np.float32)
        b = rng.normal(0, 0.3, 10).astype(np.float32)
        with torch.no_grad():
            j = body(torch.as_tensor(pose), torch.as_tensor(b[None]).expand(frames, 10),
                     torch.as_tensor(tr)).joints.numpy()
        poses.append(pose)
        trans.append(tr)
        betas.append(b)
        joints.append(j.reshape(frames, 72))
        v = np.ones(frames, int)
        v[3] = 0 if a == 1 else 1                   # actor 1's camera pose invalid at frame 3
        valid.append(v)
    seq = {'sequence': 'tiny_00', 'poses': poses, 'trans': trans, 'betas': betas,
           'jointPositions': joints, 'cam_poses': cam_poses,
           'cam_intrinsics': np.array([[600, 0, 320], [0, 600, 240], [0, 0, 1]], np.float64),
           'img_frame_ids': np.arange(frames), 'campose_valid': valid, 'genders': ['m', 'f'],
           'v_template': np.zeros((2, 10, 3))}
    pkl = root / 'sequenceFiles' / 'test' / 'tiny_00.pkl'
    pkl.parent.mkdir(parents=True)
    with open(pkl, 'wb') as f:
        pickle.dump(seq, f, protocol=2)
    images = root / 'imageFiles' / 'tiny_00'
    images.mkdir(parents=True)
    for t in range(frames):
        cv2.imwrite(str(images / f'image_{t:05d}.jpg'), np.full((480, 640, 3), 90 + t, np.uint8))
    return seq, pkl, images, rot


@pytest.fixture(scope='module')
def pw3d_bag(tmp_path_factory, body):
    from hmr_ros.convert_3dpw import main as convert
    root = tmp_path_factory.mktemp('pw3d')
    seq, pkl, images, rot = write_3dpw(root, body)
    bag = root / 'tiny_bag'
    assert convert([str(pkl), str(images), str(bag)]) == 0
    return seq, bag, rot


def test_3dpw_conversion(pw3d_bag):
    seq, bag, rot = pw3d_bag
    stamps, camera = read_input(bag, '/camera/image_raw')
    assert len(stamps) == FRAMES and camera.fx == 600 and camera.width == 640
    gt = read_people_topic(bag)
    assert sorted(len(f) for f in gt.values()) == [1] + [2] * (FRAMES - 1)   # campose_valid
    frame = gt[int(stamps[5])]
    j_cam = seq['jointPositions'][1][5].reshape(24, 3) @ rot.T + [0.1, 0.3, 5.0]
    np.testing.assert_allclose(frame.joints[1], j_cam, atol=1e-4)
    # The camera-frame SMPL parameters reproduce those joints through the body model.
    import torch
    from hmr_models.body import load_body_model
    out = load_body_model(None)(torch.as_tensor(frame.pose[1:2]), torch.as_tensor(
        frame.betas[1:2]), torch.as_tensor(frame.translation[1:2]))
    np.testing.assert_allclose(out.joints[0].numpy(), j_cam, atol=1e-4)
    assert (frame.keypoint_scores == 1).all() and (frame.joint_confidence == 1).all()


def write_result(bag, folder, edit=lambda stamp, person: None, drop=()):
    """A result bag as eval_record writes it: the ground truth (edited) as ~/persons."""
    store = typestore()
    out = folder / 'sequences' / 'tiny'
    writer = open_writer(out)
    c_p = writer.add_connection('/hmr_node/persons', 'hmr_ros/msg/SMPLPersonArray',
                                typestore=store)
    c_in = writer.add_connection(INPUT_HEADERS_TOPIC, 'std_msgs/msg/Header', typestore=store)
    c_done = writer.add_connection('/hmr_node/frame_done', 'std_msgs/msg/Header',
                                   typestore=store)
    reader = open_reader(bag)
    t0 = 10**18
    for k, (conn, _, raw) in enumerate(iter_messages(reader, {'/ground_truth/persons'})):
        msg = store.deserialize_cdr(bytes(raw), conn.msgtype)
        arrive = t0 + k * 33_000_000
        writer.write(c_in, arrive, store.serialize_cdr(msg.header, 'std_msgs/msg/Header'))
        writer.write(c_done, arrive + 80_000_000,
                     store.serialize_cdr(msg.header, 'std_msgs/msg/Header'))
        if k in drop:
            continue
        for p in msg.persons:
            edit(k, p)
        writer.write(c_p, arrive + 80_000_000, store.serialize_cdr(msg, conn.msgtype))
    reader.close()
    writer.close()
    (out / 'run.json').write_text(json.dumps({'mode': 'lockstep', 'input_bag': str(bag),
                                              'image_topic': '/camera/image_raw'}))
    return folder


def metrics_of(folder):
    assert hmr_eval(['score', str(folder)]) == 0
    return json.loads((folder / 'metrics.json').read_text())


def test_ground_truth_scored_against_itself_gives_zero(pw3d_bag, tmp_path):
    _, bag, _ = pw3d_bag
    m = metrics_of(write_result(bag, tmp_path))
    s = m['summary']
    for key in ('MPJPE', 'PA-MPJPE', 'MPVE', 'CAM-MPJPE', 'ACC-ERR'):
        assert s['persons'][key] == pytest.approx(0.0, abs=1e-3), key
    assert s['tracking']['MOTA'] == 1.0 and s['tracking']['ID switches'] == 0
    assert s['runtime']['latency p50 ms'] == pytest.approx(80.0, abs=1e-3)
    assert (tmp_path / 'people.csv').read_text().count('\n') == 2 * FRAMES - 1 + 1
    assert (tmp_path / 'report.html').stat().st_size > 10_000


def test_constant_offset_and_drops(pw3d_bag, tmp_path):
    _, bag, _ = pw3d_bag

    def offset(k, p):
        j = np.asarray(p.joints_3d, np.float32).reshape(24, 3)
        p.joints_3d = (j + [0.0, 0.0, 0.1]).reshape(-1).astype(np.float32)
    s = metrics_of(write_result(bag, tmp_path, offset, drop=(4,)))['summary']
    assert s['persons']['CAM-MPJPE'] == pytest.approx(100.0, abs=1e-3)
    assert s['persons']['MPJPE'] == pytest.approx(0.0, abs=1e-3)
    assert s['runtime']['dropped'] == 1 and s['runtime']['processed'] == FRAMES - 1
    assert s['tracking']['FN'] == 2                  # both people of the dropped frame


def test_an_id_switch_in_a_bag(pw3d_bag, tmp_path):
    _, bag, _ = pw3d_bag

    def switch(k, p):
        if p.track_id == 0 and k >= 6:
            p.track_id = 5
    s = metrics_of(write_result(bag, tmp_path, switch))['summary']
    assert s['tracking']['ID switches'] == 1


def test_compare_two_runs(pw3d_bag, tmp_path):
    _, bag, _ = pw3d_bag
    a = write_result(bag, tmp_path / 'a')
    metrics_of(a)

    def offset(k, p):
        j = np.array(p.joints_3d, np.float32).reshape(24, 3)
        j[1:] += [0.0, 0.02, 0.0]
        p.joints_3d = j.reshape(-1).astype(np.float32)
    b = write_result(bag, tmp_path / 'b', offset)
    assert hmr_eval(['score', str(b), '--compare', str(a)]) == 0
    table = json.loads((b / 'metrics.json').read_text())['compare']['table']
    row = [r for r in table if r[0] == 'persons' and r[1] == 'MPJPE'][0]
    assert row[4] == pytest.approx(20.0 * 23 / 24, abs=1e-2)      # B - A
    assert 'Comparison with a' in (b / 'report.html').read_text()


def test_report_opens_in_chromium(pw3d_bag, tmp_path):
    """The page renders: a screenshot shows the summary table and the plots."""
    from viewer.browser import browser
    _, bag, _ = pw3d_bag
    folder = write_result(bag, tmp_path)
    metrics_of(folder)
    shot = tmp_path / 'report.png'
    with browser() as b:
        page = b.new_page(viewport={'width': 1200, 'height': 900})
        page.goto((folder / 'report.html').as_uri())
        table = page.locator('table').nth(1).bounding_box()
        plots = [page.locator('img').nth(k).bounding_box()
                 for k in range(page.locator('img').count())]
        page.screenshot(path=str(shot), full_page=True)
    assert len(plots) >= 6                             # plots and thumbnails, inline images
    im = cv2.imread(str(shot))
    assert im is not None and im.shape[0] > 1500
    # The summary table: dark text inside its box.
    x, y, w, h = (int(v) for v in (table['x'], table['y'], table['width'], table['height']))
    assert h > 50 and (im[y:y + h, x:x + w] < 100).all(-1).mean() > 0.01
    # Every plot drew something: axes, ticks and text (dark), and coloured data (C0, C1...).
    for box in plots:
        x, y, w, h = (int(v) for v in (box['x'], box['y'], box['width'], box['height']))
        region = im[y:y + h, x:x + w]
        assert w > 100 and h > 100, box
        assert (region < 128).all(-1).mean() > 0.005, box
    hsv = cv2.cvtColor(im, cv2.COLOR_BGR2HSV)
    assert (hsv[..., 1] > 80).mean() > 0.001


def test_a_bag_set_in_one_run_is_split_again(pw3d_bag, tmp_path):
    """hmr-eval runs a bag set as one input (stamps shifted); scores come back per bag."""
    from hmr_ros.eval_tool import build_combined, HEADER_GAP_NS
    _, bag, _ = pw3d_bag
    combined = tmp_path / 'input_combined'
    segments = build_combined([bag, bag], ['a', 'b'], combined, '/camera/image_raw',
                              '/ground_truth/persons')
    assert [s['offset_ns'] for s in segments] == [HEADER_GAP_NS, 2 * HEADER_GAP_NS]
    stamps, _ = read_input(combined, '/camera/image_raw')
    assert len(stamps) == 2 * FRAMES and stamps[FRAMES] - stamps[0] >= HEADER_GAP_NS

    def offset(k, p):            # the second bag's people 10 cm off (camera frame)
        if k >= FRAMES:
            j = np.asarray(p.joints_3d, np.float32).reshape(24, 3)
            p.joints_3d = (j + [0.0, 0.0, 0.1]).reshape(-1).astype(np.float32)
    folder = write_result(combined, tmp_path / 'eval', offset)
    (folder / 'sequences' / 'tiny' / 'segments.json').write_text(json.dumps(segments))
    m = metrics_of(folder)
    assert set(m['runs']) == {'a', 'b'}
    s = m['summary']
    assert s['runtime']['frames'] == 2 * FRAMES
    assert s['persons']['CAM-MPJPE'] == pytest.approx(50.0, abs=1e-3)
    assert s['tracking']['MOTA'] == 1.0 and s['tracking']['ID switches'] == 0
    per = {q['name']: q for q in m['sequences']}
    assert per['a']['persons: CAM-MPJPE'] == pytest.approx(0.0, abs=1e-3)
    assert per['b']['persons: CAM-MPJPE'] == pytest.approx(100.0, abs=1e-3)
    assert per['a']['frames'] == per['b']['frames'] == FRAMES
