"""Replay evaluation scoring (hmr_models.eval, no ROS): known errors give known metrics."""
import json

import numpy as np
import pytest

from hmr_models.eval.metrics import cluster_bootstrap_difference, keypoint_agreement_2d
from hmr_models.eval.report import write_report
from hmr_models.eval.scoring import EvalConfig, score
from hmr_models.eval.sequence import PeopleFrame, Sequence
from hmr_models.eval.tracking import TrackingFrame, clear_mot, idf1
from hmr_models.types import CameraIntrinsics

CAM = CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
FRAMES = 20
STAMPS = 10**18 + np.arange(FRAMES, dtype=np.int64) * 33_333_333


@pytest.fixture(scope='module')
def body():
    from hmr_models.body import load_body_model
    return load_body_model(None)


def make_people(body, t, ids, offset=(0.0, 0.0, 0.0), joint_offset=None, received=None):
    """Two people walking in front of the camera; optional errors on the joints."""
    import torch
    n = len(ids)
    pose = np.zeros((n, 72), np.float32)
    pose[:, 3 * 16 + 2] = 0.3 * np.sin(t / 5)
    pose[:, 3 * 1] = 0.4 * np.sin(t / 4)
    betas = np.zeros((n, 10), np.float32)
    transl = np.array([[-0.6 + 1.2 * k, 0.2, 4.0 + 0.02 * t] for k in range(n)], np.float32)
    with torch.no_grad():
        out = body(torch.as_tensor(pose), torch.as_tensor(betas), torch.as_tensor(transl))
        kp = CAM.project(body.regress(out.vertices, 'coco17').numpy())
    verts = CAM.project(out.vertices.numpy())
    boxes = np.concatenate([verts.min(1), verts.max(1)], 1)
    joints = out.joints.numpy() + np.asarray(offset, np.float32)
    if joint_offset is not None:
        joints = joints + joint_offset
    return PeopleFrame.from_people(
        STAMPS[t], ids, joints=joints, boxes=boxes, keypoints=kp,
        keypoint_scores=np.ones((n, 17)), pose=pose, betas=betas,
        translation=transl + np.asarray(offset, np.float32), body_model=body.name,
        received=t / 30.0 if received is None else received)


def sequence(body, pred_fn, gt_fn=None, name='s'):
    gt_fn = gt_fn or (lambda t: make_people(body, t, [0, 1]))
    gt = {int(STAMPS[t]): gt_fn(t) for t in range(FRAMES)}
    pred = {int(STAMPS[t]): pred_fn(t) for t in range(FRAMES)}
    return Sequence(name, STAMPS, {'persons': pred}, ground_truth=gt, camera=CAM,
                    image_received={int(s): t / 30.0 for t, s in enumerate(STAMPS)},
                    acknowledged=set(int(s) for s in STAMPS))


def test_ground_truth_against_itself_is_zero(body):
    seq = sequence(body, lambda t: make_people(body, t, [0, 1]))
    s = score([seq], EvalConfig(), body).summary
    m = s['persons']
    assert m['person-frames'] == 2 * FRAMES
    for key in ('MPJPE', 'PA-MPJPE', 'MPVE', 'CAM-MPJPE', 'ACC-ERR'):
        assert m[key] == pytest.approx(0.0, abs=1e-3), key
    t = s['tracking']
    assert (t['MOTA'], t['IDF1'], t['ID switches'], t['recall'], t['precision']) == \
        (1.0, 1.0, 0, 1.0, 1.0)
    assert m['2D agreement %']['mean'] == pytest.approx(0.0, abs=1e-3)


def test_constant_offset_of_10cm(body):
    """Every joint 10 cm off: 100 mm in the camera frame, nothing after pelvis alignment."""
    seq = sequence(body, lambda t: make_people(body, t, [0, 1], offset=(0.1, 0.0, 0.0)))
    m = score([seq], EvalConfig(), body).summary['persons']
    assert m['CAM-MPJPE'] == pytest.approx(100.0, abs=1e-3)
    assert m['MPJPE'] == pytest.approx(0.0, abs=1e-3)
    assert m['ACC-ERR'] == pytest.approx(0.0, abs=1e-3)
    # Every joint but the pelvis 10 cm off: root-aligned error 100 mm on 23 of 24 joints.
    off = np.zeros((24, 3), np.float32)
    off[1:, 2] = 0.1
    seq = sequence(body, lambda t: make_people(body, t, [0, 1], joint_offset=off))
    m = score([seq], EvalConfig(), body).summary['persons']
    assert m['MPJPE'] == pytest.approx(100.0 * 23 / 24, abs=1e-3)


def test_occluded_joints_and_ignored_people(body):
    def gt(t):
        f = make_people(body, t, [0, 1])
        f.joint_confidence[0, 1:12] = 0.0           # person 0: 11 of 24 joints hidden
        f.keypoint_scores[1] = 0.0                  # person 1: nothing visible: 'ignore'
        return f
    off = np.zeros((24, 3), np.float32)
    off[1:12] = [0.0, 0.05, 0.0]                    # the hidden joints 5 cm off

    def pred(t):                                    # person 0 only: person 1 is not found
        f = make_people(body, t, [0, 1], joint_offset=off)
        return PeopleFrame.from_people(
            STAMPS[t], [0], joints=f.joints[:1], boxes=f.boxes[:1], keypoints=f.keypoints[:1],
            keypoint_scores=f.keypoint_scores[:1], pose=f.pose[:1], betas=f.betas[:1],
            translation=f.translation[:1], body_model=f.body_model)
    r = score([sequence(body, pred, gt)], EvalConfig(), body)
    m = r.summary['persons']
    assert m['OCC-MPJPE'] == pytest.approx(50.0, abs=1e-3)
    assert m['MPJPE'] == pytest.approx(50.0 * 11 / 24, abs=1e-3)
    t = r.summary['tracking']
    # Person 1 (nothing visible) is ignored: missing it is no false negative.
    assert t['GT people'] == FRAMES and t['FN'] == 0 and t['FP'] == 0
    occ = r.plots['occlusion']['persons']
    assert occ['count'] == [0, 0, FRAMES, 0]        # 11/24 = 46 %: the 25-50 % bin


def test_an_id_switch_is_one_id_switch(body):
    def pred(t):
        f = make_people(body, t, [7, 8])
        if t >= 12:              # the tracker gives person 0 a new id from frame 12 on
            f.track_ids = np.array([9, 8])
        return f
    r = score([sequence(body, pred)], EvalConfig(), body)
    t = r.summary['tracking']
    assert t['ID switches'] == 1
    assert t['MOTA'] == pytest.approx(1.0 - 1 / (2 * FRAMES))
    assert t['IDF1'] == pytest.approx((2 * FRAMES - (FRAMES - 12)) / (2 * FRAMES))
    assert r.plots['switches']['s'] == [(12, 0, 7, 9)]


def test_clear_mot_and_idf1_by_hand():
    # Two ground-truth people over 4 frames; one is missed once, one false positive.
    sim = np.array([[0.9, 0.0], [0.0, 0.8]])
    frames = [TrackingFrame(np.array([1, 2]), np.array([10, 20]), sim),
              TrackingFrame(np.array([1, 2]), np.array([10]), sim[:, :1]),
              TrackingFrame(np.array([1, 2]), np.array([10, 20, 30]),
                            np.array([[0.9, 0.0, 0.1], [0.0, 0.8, 0.0]])),
              TrackingFrame(np.array([1, 2]), np.array([20, 10]), sim[:, ::-1])]
    m = clear_mot(frames, 0.5)
    assert (m['gt'], m['matches'], m['fn'], m['fp'], m['id_switches']) == (8, 7, 1, 1, 0)
    assert m['MOTA'] == pytest.approx(1 - 2 / 8)
    assert m['fragmentations'] == 1
    i = idf1(frames, 0.5)
    assert i['IDTP'] == 7 and i['IDF1'] == pytest.approx(2 * 7 / (8 + 8))


def test_keypoint_agreement_and_bootstrap():
    kp = np.zeros((1, 17, 2))
    mesh = kp + [3.0, 4.0]                          # 5 px off, box 100 px tall
    val = keypoint_agreement_2d(mesh, kp, np.ones((1, 17)), [[0, 0, 50, 100]])
    assert val[0] == pytest.approx(5.0)
    d, lo, hi = cluster_bootstrap_difference([10, 20, 30], [1, 1, 1], [12, 22, 32], [1, 1, 1])
    assert d == pytest.approx(2.0) and lo == pytest.approx(2.0) and hi == pytest.approx(2.0)


def test_without_ground_truth_and_the_report(body, tmp_path):
    seq = sequence(body, lambda t: make_people(body, t, [3, 4], received=t / 30.0 + 0.05))
    seq.ground_truth = None
    r = score([seq], EvalConfig(), body)
    rt = r.summary['runtime']
    assert rt['latency p50 ms'] == pytest.approx(50.0, abs=1e-6)
    assert rt['FPS in'] == pytest.approx(30.0, rel=1e-6)
    assert rt['dropped'] == 0 and r.summary['people']['tracks'] == 2
    assert 'tracking' not in r.summary
    json.dumps(r.to_json())                         # JSON-able (NaN as null)
    write_report(tmp_path / 'r.html', r, [seq], {})
    assert 'Latency' in (tmp_path / 'r.html').read_text()
