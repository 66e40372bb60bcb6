"""SynthOcc over time (hmr_models.eval.synthocc): the real predictor and smoothers over a scene,
and metrics that measure what they claim."""
import numpy as np
import pytest
import torch

from hmr_models.body import load_body_model
from hmr_models.data.synth.writers import detect_scene
from hmr_models.diffmesh.factory import TemporalConfig, create_smoother
from hmr_models.diffmesh.streaming import StreamingConfig
from hmr_models.dpmesh.factory import create_mesh_predictor
from hmr_models.eval.synthocc import error_anatomy, run_scene, score_person_frames, torso_turn
from hmr_models.fitting import so3
from fixtures.scenes import small_scene


def _rows(pred, gt, ok, nv=4):
    t = len(gt)
    verts = np.zeros((t, nv, 3), np.float32)
    sampled = np.zeros(t, bool)
    sampled[::10] = True
    return [{'pred_j': pred, 'pred_v': verts, 'gt_j': gt, 'gt_v': verts,
             'occ': np.zeros((t, 24), bool), 'ok': ok, 'all': ok, 'sampled': ok & sampled}]


def test_scores_are_zero_for_the_truth_and_see_offsets_and_shakes():
    rng = np.random.default_rng(0)
    t = 30
    gt = np.cumsum(rng.normal(0, 0.01, (t, 24, 3)), 0).astype(np.float32)
    ok = np.ones(t, bool)
    perfect = score_person_frames(_rows(gt.copy(), gt, ok), 'all')
    assert perfect['MPJPE'] == pytest.approx(0, abs=1e-6)
    assert perfect['ACC-ERR'] == pytest.approx(0, abs=1e-6)
    hand = gt.copy()
    hand[:, 5] += [0.1, 0, 0]                        # one joint 100 mm off, steadily
    off = score_person_frames(_rows(hand, gt, ok), 'all')
    assert off['MPJPE'] == pytest.approx(100 / 24, rel=1e-4) and off['ACC-ERR'] < 1e-3
    shaky = gt.copy()
    shaky[::2, 5] += [0.01, 0, 0]                     # 10 mm every other frame: accelerations
    # second difference of +-10 mm: 20 mm on one joint of 24, every frame
    shaky_acc = score_person_frames(_rows(shaky, gt, ok), 'all')['ACC-ERR']
    assert shaky_acc == pytest.approx(20 / 24, rel=1e-4)
    missed = ok.copy()
    missed[3:] = False                                # only three frames seen: one acceleration
    assert score_person_frames(_rows(gt, gt, missed), 'all')['person-frames'] == 3


def test_run_scene_with_the_shipped_models(test_body):
    scene = small_scene(test_body, frames=12, size=(320, 240), seed=3)
    detections = detect_scene(scene, np.random.default_rng(0))
    body = load_body_model(None)
    predictor = create_mesh_predictor('compact', body=body)
    smoothers = {'DiffMesh': create_smoother(TemporalConfig(), StreamingConfig(
        temporal_delay_frames=4), body=body),
        'One-Euro': create_smoother(TemporalConfig(temporal_method='one_euro'), body=body)}
    image = np.full((240, 320, 3), 90, np.uint8)
    out = run_scene(scene, detections, lambda f: image, predictor, smoothers)
    assert set(out) == {'per-frame', 'DiffMesh', 'One-Euro', 'DiffMesh, delayed'}
    for p in scene.people:
        seen = np.array([p.track_id in d[0].track_ids for d in detections])
        for m in ('per-frame', 'DiffMesh', 'One-Euro'):
            done = np.isfinite(out[m][p.track_id].joints).all(axis=(1, 2))
            np.testing.assert_array_equal(done, seen)
        delayed = np.isfinite(out['DiffMesh, delayed'][p.track_id].joints).all(axis=(1, 2))
        assert delayed[:8].sum() > 0 and not delayed[-4:].any()   # 4 frames behind


def test_the_anatomy_finds_a_turned_torso_and_a_limb_error():
    """error_anatomy: a body turned half round is counted as turned and is all torso error;
    one limb off is limb error (the torso-aligned MPJPE keeps it) and turns nothing."""
    body = load_body_model()
    pose = torch.zeros(1, 72)
    gt = body(pose, torch.zeros(1, 10)).joints.numpy().astype(np.float64)
    gt = np.repeat(gt, 10, 0)
    turned = gt.copy()
    turned[:4] = (gt[:4] - gt[:4, :1]) @ so3.exp(np.array([0.0, np.pi, 0.0])).T + gt[:4, :1]
    assert torso_turn(turned, gt)[:4] == pytest.approx(180.0, abs=1e-3)
    assert torso_turn(turned, gt)[4:] == pytest.approx(0.0, abs=1e-3)
    a = error_anatomy(_rows(turned, gt, np.ones(10, bool)))
    assert a['turned %'] == pytest.approx(40.0) and a['turned share %'] == pytest.approx(100.0)
    assert a['torso-aligned'] == pytest.approx(0.0, abs=1e-6) and a['MPJPE'] > 50
    arm = gt.copy()
    arm[:, 20] += [0.0, 0.3, 0.0]                      # the left wrist 300 mm up
    a = error_anatomy(_rows(arm, gt, np.ones(10, bool)))
    assert a['turned %'] == 0.0
    assert a['torso-aligned'] == pytest.approx(a['MPJPE'], rel=1e-6) == pytest.approx(300 / 24)
    assert a['median'] == pytest.approx(300 / 24) and a['large %'] == 0.0
