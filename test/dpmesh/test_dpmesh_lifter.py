"""The keypoint lifter and DPMesh's lifted pose head (compact profile)."""
import numpy as np
import pytest
import torch

from dpmesh_helpers import make_model, random_inputs
from hmr_models.dpmesh import load_config
from hmr_models.dpmesh.checkpoint import adopt_weights
from hmr_models.dpmesh.parts.keypoint_lifter import KeypointLifter, KeypointLifterConfig
from hmr_models.dpmesh.model import CropCameras, lifter_output
from hmr_models.paths import MissingModelFile

LIFTED = {'pose_head': {'type': 'lifted'}, 'keypoint_lifter': {'enabled': True, 'hidden': 64}}


def _cameras(b):
    return CropCameras(focal=torch.full((b, 2), 500.0), principal=torch.full((b, 2), 320.0),
                       box_center=torch.tensor([[300.0, 200.0]] * b),
                       box_size=torch.full((b,), 180.0),
                       image_to_crop=torch.tensor([[[0.3, 0, -40.0], [0, 0.3, -10.0]]] * b))


def test_fresh_lifter_starts_at_identity_pose():
    lifter = KeypointLifter(17, KeypointLifterConfig(hidden=32, blocks=1))
    out = lifter_output(lifter(torch.rand(3, 17, 2), torch.ones(3, 17, dtype=torch.bool),
                               torch.zeros(3, 3)))
    assert torch.allclose(out.rotmats, torch.eye(3).expand(3, 24, 3, 3), atol=1e-6)
    assert torch.equal(out.betas, torch.zeros(3, 10))


def test_dpmesh_with_lifter_starts_from_the_lifter_estimate():
    model = make_model(LIFTED).eval()
    torch.nn.init.normal_(model.keypoint_lifter.out.weight, std=0.05)   # a 'trained' lifter
    images, kp, valid = random_inputs(model.config, 2)
    cams = _cameras(2)
    with torch.no_grad():
        out = model(images, kp, valid, cameras=cams)
        box = torch.tensor([[-20 / 500, -120 / 500, 180 / 500]] * 2)
        alone = lifter_output(model.keypoint_lifter(kp, valid, box), model.config.camera_mode)
    # zero correction heads: DPMesh's answer is the lifter's until joint training
    assert torch.allclose(out.rotmats, alone.rotmats, atol=1e-5)
    assert torch.allclose(out.camera, alone.camera, atol=1e-6)
    assert out.pose_logits is None and out.lifter_features.shape == (2, 64)
    # the box matters: the same crop elsewhere in the image gives another orientation
    with torch.no_grad():
        moved = model(images, kp, valid, cameras=CropCameras(
            **{**cams.__dict__, 'box_center': torch.tensor([[600.0, 200.0]] * 2)}))
    assert not torch.allclose(moved.rotmats[:, 0], out.rotmats[:, 0], atol=1e-4)


def test_lifted_head_needs_the_lifter():
    with pytest.raises(ValueError, match='keypoint_lifter.enabled'):
        load_config('tiny', {'pose_head': {'type': 'lifted'}})


def test_missing_lifter_weights_name_the_trainer(tmp_path):
    with pytest.raises(MissingModelFile, match='train_lifter'):
        make_model({**LIFTED, 'keypoint_lifter': {'enabled': True, 'weights':
                                                  str(tmp_path / 'none')}})


def test_adopt_weights_keeps_what_fits(tmp_path):
    source = make_model({}, seed=1)                       # VQ-VAE head, no lifter
    source.save_pretrained(tmp_path / 'src')
    target = make_model(LIFTED, seed=2)
    taken, skipped = adopt_weights(target, tmp_path / 'src')
    state = source.state_dict()
    k = 'backbone.vae.encoder.conv_in.weight'
    assert k in taken and torch.equal(target.state_dict()[k], state[k])
    q = target.regressor.param_queries
    assert torch.equal(q[:2], state['regressor.param_queries'][:2])
    assert torch.equal(q[2:], state['regressor.param_queries'][-2:])
    # heads are corrections of the lifter now: not the source's absolute heads
    assert any(s.startswith('heads.') for s in skipped)
    assert all(float(p.detach().abs().max()) == 0 for p in target.heads.parameters())


def test_lifter_learns_poses_from_keypoints(test_body):
    """A few people, lifted from their projected keypoints: the 3D error must fall a lot."""
    from fixtures.datasets import make_test_people
    torch.manual_seed(0)
    people = make_test_people(test_body, n=4, seed=3, pose_scale=0.5)
    cam = people['camera']
    kp = torch.as_tensor(people['keypoints2d'], dtype=torch.float32)
    lo, hi = kp.min(1).values, kp.max(1).values
    centre, size = (lo + hi) / 2, (hi - lo).max(-1).values * 1.25
    kp_crop = (kp - (centre - size[:, None] / 2)[:, None]) / size[:, None, None]
    box = torch.cat([(centre - torch.tensor([cam.cx, cam.cy])) / cam.fx,
                     size[:, None] / cam.fx], -1).float()
    gt = torch.as_tensor(people['pose'], dtype=torch.float32)
    gt_joints = test_body(gt, torch.as_tensor(people['betas'], dtype=torch.float32)).joints
    lifter = KeypointLifter(17, KeypointLifterConfig(hidden=128, blocks=1, dropout=0.0))
    opt = torch.optim.Adam(lifter.parameters(), 3e-3)
    valid = torch.ones(4, 17, dtype=torch.bool)

    def error():
        out = lifter_output(lifter(kp_crop, valid, box))
        joints = test_body(out.pose, out.betas).joints
        rel = lambda j: j - j[:, :1]  # noqa: E731
        return (rel(joints) - rel(gt_joints)).norm(dim=-1).mean()

    start = float(error().detach())
    for _ in range(150):
        opt.zero_grad()
        loss = error()
        loss.backward()
        opt.step()
    end = float(error().detach())
    assert end < 0.3 * start, (start, end)


def test_synthetic_keypoints_match_the_crop_samples(tmp_path, test_body):
    from hmr_models.data.datasets import SyntheticKeypoints, SyntheticSamples
    from fixtures.datasets import write_test_shard
    shard = write_test_shard(tmp_path / 's.npz', test_body, n=5, crop_size=64)
    crops = SyntheticSamples(shard, input_keypoints='detected')
    points = SyntheticKeypoints(shard, input_keypoints='detected')
    assert len(points) == 5
    for i in range(5):
        a, b = crops[i], points[i]
        assert np.array_equal(a['keypoints_valid'], b['keypoints_valid'])
        ok = a['keypoints_valid']
        np.testing.assert_allclose(b['keypoints'][ok], a['keypoints'][ok], atol=1e-4)
        np.testing.assert_allclose(b['box_center'], a['box_center'], atol=1e-3)
        assert not b['keypoints_valid'][15] and b['gt_keypoints_valid'][15]
        # both carry the detector's scores, 0 where a keypoint is not used
        np.testing.assert_allclose(b['keypoints_score'], a['keypoints_score'], atol=1e-6)
        assert b['keypoints_score'][15] == 0 and (b['keypoints_score'][ok] >= 0.2).all()
    truth = SyntheticKeypoints(shard, input_keypoints='gt')[0]
    assert np.array_equal(truth['keypoints_score'], truth['keypoints_valid'].astype(np.float32))
    fewer = SyntheticKeypoints(shard, input_keypoints='detected', min_keypoints=17)
    assert len(fewer) == 0 and fewer.dropped == 5


def test_checkpoint_carries_the_lifter(tmp_path):
    """A saved lifted model loads without the lifter folder it was built from."""
    import shutil
    from hmr_models.dpmesh import DPMesh
    from hmr_models.train.train_lifter import save_lifter
    lifter = KeypointLifter(17, KeypointLifterConfig(hidden=64))
    torch.nn.init.normal_(lifter.out.weight, std=0.05)
    save_lifter(lifter, tmp_path / 'lifter')
    model = make_model({**LIFTED, 'keypoint_lifter': {'enabled': True, 'hidden': 64,
                                                      'weights': str(tmp_path / 'lifter')}})
    assert torch.equal(model.keypoint_lifter.out.weight, lifter.out.weight)
    model.save_pretrained(tmp_path / 'ckpt')
    shutil.rmtree(tmp_path / 'lifter')
    loaded = DPMesh.from_pretrained(tmp_path / 'ckpt')
    assert torch.equal(loaded.keypoint_lifter.out.weight, lifter.out.weight)


def test_score_lifter_reads_confidences_and_binary_lifter_ignores_them():
    kp, ok, box = torch.rand(2, 17, 2), torch.ones(2, 17, dtype=torch.bool), torch.zeros(2, 3)
    low = torch.full((2, 17), 0.3)
    for scores in (False, True):
        torch.manual_seed(0)
        lifter = KeypointLifter(17, KeypointLifterConfig(hidden=32, blocks=1, scores=scores))
        lifter.eval()
        with torch.no_grad():
            a = lifter.encode(kp, ok, box)
            b = lifter.encode(kp, ok, box, low)
            c = lifter.encode(kp, ok, box, torch.ones(2, 17))
        assert torch.equal(a, c)                      # no scores = score 1 for valid keypoints
        assert torch.equal(a, b) != scores            # only a score lifter sees them


def test_the_trained_input_convention_travels_with_the_weights(tmp_path):
    """A lifter trained on scores switches DPMesh's lifter to scores, and the checkpoint
    keeps it; the predictor then feeds the front-end's keypoint scores."""
    from hmr_models.dpmesh import DPMesh
    from hmr_models.train.train_lifter import load_lifter, save_lifter
    save_lifter(KeypointLifter(17, KeypointLifterConfig(hidden=64, scores=True)),
                tmp_path / 'lifter')
    assert load_lifter(tmp_path / 'lifter').config.scores
    model = make_model({**LIFTED, 'keypoint_lifter': {'enabled': True, 'hidden': 64,
                                                      'weights': str(tmp_path / 'lifter')}})
    assert model.config.keypoint_lifter.scores
    model.save_pretrained(tmp_path / 'ckpt')
    assert DPMesh.from_pretrained(tmp_path / 'ckpt').config.keypoint_lifter.scores


def test_scores_in_other_keypoint_sets():
    from hmr_models.dpmesh.parts.keypoints import KEYPOINT_SET_NAMES, scores_from_coco17
    from hmr_models.skeleton import COCO17_NAMES
    s = np.random.default_rng(0).uniform(size=(3, 17)).astype(np.float32)
    np.testing.assert_array_equal(scores_from_coco17(s, 'coco17'), s)
    d30 = scores_from_coco17(s, 'dpmesh30')
    names = KEYPOINT_SET_NAMES['dpmesh30']
    hips = [COCO17_NAMES.index('left_hip'), COCO17_NAMES.index('right_hip')]
    np.testing.assert_allclose(d30[:, names.index('pelvis')], s[:, hips].min(1))
    assert (d30[:, names.index('head_top')] == 0).all()       # COCO-17 has no head top
    np.testing.assert_allclose(scores_from_coco17(torch.as_tensor(s), 'dpmesh30').numpy(), d30)


def test_flip_test_is_mirror_equivariant():
    """With flip_test, lifting the mirrored person gives exactly the mirrored answer."""
    from hmr_models.dpmesh.parts.keypoint_lifter import MIRROR_6D
    from hmr_models.skeleton import COCO17_NAMES, SMPL24_FLIP, flip_permutation
    torch.manual_seed(0)
    lifter = KeypointLifter(17, KeypointLifterConfig(hidden=32, blocks=1, scores=True,
                                                     flip_test=True)).eval()
    torch.nn.init.normal_(lifter.out.weight, std=0.1)
    kp, ok = torch.rand(2, 17, 2), torch.rand(2, 17) > 0.2
    box, scores = torch.randn(2, 3) * 0.2, torch.rand(2, 17)
    perm = torch.as_tensor(flip_permutation(COCO17_NAMES))
    mkp = kp[:, perm].clone()
    mkp[..., 0] = 1 - mkp[..., 0]
    with torch.no_grad():
        a = lifter(kp, ok, box, scores)
        b = lifter(mkp, ok[:, perm], box * torch.tensor([-1.0, 1, 1]), scores[:, perm])
    s6 = torch.tensor(MIRROR_6D)
    assert torch.allclose(b['root6d'], a['root6d'] * s6, atol=1e-5)
    assert torch.allclose(b['body6d'], a['body6d'][:, SMPL24_FLIP[1:] - 1] * s6, atol=1e-5)
    assert torch.allclose(b['camera'], a['camera'] * torch.tensor([1.0, -1, 1]), atol=1e-5)
    assert torch.allclose(b['betas'], a['betas'], atol=1e-5)
    lifter.config.flip_test = False                 # a plain lifter is not equivariant
    with torch.no_grad():
        a, b = lifter(kp, ok, box, scores), lifter(mkp, ok[:, perm], box * torch.tensor(
            [-1.0, 1, 1]), scores[:, perm])
    assert not torch.allclose(b['root6d'], a['root6d'] * s6, atol=1e-3)
