"""The shipped open body: loads through smplx, is a plausible adult in SMPL's T-pose, and SMPL
pose/shape parameters drive it like SMPL."""
import numpy as np
import pytest
import torch

from hmr_models.body import OPEN_BODY_FILE, load_body_model
from hmr_models.body.model_file import read_body_file
from hmr_models.paths import ASSETS_DIR
from hmr_models.skeleton import COCO17_NAMES, H36M17_NAMES, SMPL24_NAMES

J = {n: i for i, n in enumerate(SMPL24_NAMES)}


@pytest.fixture(scope='module')
def body():
    return load_body_model()


@pytest.fixture(scope='module')
def rest(body):
    with torch.no_grad():
        out = body(np.zeros((1, 72)))
    return out.vertices[0].numpy(), out.joints[0].numpy()


def test_file_is_small_and_complete():
    path = ASSETS_DIR / OPEN_BODY_FILE
    assert path.stat().st_size < 5e6
    data = read_body_file(path)
    assert data['name'] == 'hmr_open_body'
    assert not data['posedirs'].any()          # anny has no pose correctives (documented)
    np.testing.assert_allclose(data['weights'].sum(1), 1.0, atol=1e-5)
    assert (data['weights'] >= 0).all() and (data['J_regressor'] >= 0).all()
    for name in ('LICENSE.md', 'README.md'):
        assert (path.parent / name).is_file()


def test_loads_with_expected_sizes(body):
    assert body.name == 'hmr_open_body'
    assert body.num_vertices == 6896 and body.faces.shape == (13776, 3)
    assert body.num_betas == 10


def test_rest_pose_is_an_adult_t_pose(body, rest):
    verts, joints = rest
    height = np.ptp(verts[:, 1])
    assert 1.55 < height < 1.85
    np.testing.assert_allclose(joints[0], [0.0, -0.223, 0.028], atol=1e-3)
    # Arms horizontal along +-x (SMPL's T-pose), left arm on +x.
    for side, sign in (('left', 1.0), ('right', -1.0)):
        arm = joints[J[f'{side}_wrist']] - joints[J[f'{side}_shoulder']]
        assert sign * arm[0] > 0.4
        assert abs(arm[1]) < 0.02 and abs(arm[2]) < 0.02
    # Head above neck above pelvis; feet at the bottom; roughly left/right symmetric.
    assert joints[J['head'], 1] > joints[J['neck'], 1] > joints[J['spine3'], 1] > joints[0, 1]
    assert joints[J['left_ankle'], 1] < joints[J['left_knee'], 1] < joints[J['left_hip'], 1]
    mirrored = joints * [-1, 1, 1]
    pairs = [(J['left_' + n[6:]], i) for i, n in enumerate(SMPL24_NAMES) if n.startswith('right_')]
    for left, right in pairs:
        np.testing.assert_allclose(mirrored[right], joints[left], atol=0.01)


def test_every_beta_changes_the_body_and_the_first_is_stature(body):
    heights = []
    for k in range(10):
        betas = np.zeros((2, 10), np.float32)
        betas[0, k], betas[1, k] = -2.0, 2.0
        with torch.no_grad():
            v = body(np.zeros((2, 72)), betas).vertices.numpy()
        assert np.abs(v[0] - v[1]).max() > 0.01, f'beta {k} has no visible effect'
        heights.append(np.ptp(v[1][:, 1]) - np.ptp(v[0][:, 1]))
    assert abs(heights[0]) > 0.15                 # +-2 sd of stature: > 15 cm apart


def test_smpl_pose_bends_the_right_limb(body, rest):
    _, joints0 = rest
    pose = np.zeros((1, 24, 3), np.float32)
    pose[0, J['left_knee']] = [np.pi / 2, 0.0, 0.0]     # SMPL: +x bends the shin backwards
    pose[0, J['right_shoulder']] = [0.0, 0.0, np.pi / 2.5]   # right arm down towards the hip
    with torch.no_grad():
        out = body(pose)
    joints = out.joints[0].numpy()
    shin = joints[J['left_ankle']] - joints[J['left_knee']]
    assert shin[2] < -0.3 and abs(shin[1]) < 0.1          # points backwards (-z)
    arm = joints[J['right_wrist']] - joints[J['right_shoulder']]
    assert arm[1] < -0.3                                   # points down
    np.testing.assert_allclose(joints[J['right_ankle']], joints0[J['right_ankle']], atol=1e-5)
    # Skin follows: the left foot's vertices moved back, the right foot's did not move.
    verts = out.vertices[0].numpy()
    moved = np.linalg.norm(verts - rest[0], axis=1)
    near_left_ankle = np.linalg.norm(rest[0] - joints0[J['left_ankle']], axis=1) < 0.08
    near_right_ankle = np.linalg.norm(rest[0] - joints0[J['right_ankle']], axis=1) < 0.08
    assert moved[near_left_ankle].min() > 0.2 and moved[near_right_ankle].max() < 1e-5


def test_keypoint_regressors_land_on_anatomy(body, rest):
    verts, joints = rest
    coco = body.regress(verts[None], 'coco17')[0]
    c = {n: coco[i] for i, n in enumerate(COCO17_NAMES)}
    assert c['nose'][2] > c['left_ear'][2] + 0.05            # nose in front of the ears
    assert c['left_eye'][0] > 0 > c['right_eye'][0]
    assert c['nose'][1] > joints[J['neck'], 1]
    for name in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle'):
        j = joints[J[f'left_{name}']]
        assert np.linalg.norm(c[f'left_{name}'] - j) < 0.07, name
    h36m = body.regress(verts[None], 'h36m17')[0]
    h = {n: h36m[i] for i, n in enumerate(H36M17_NAMES)}
    assert h['head'][1] == pytest.approx(verts[:, 1].max(), abs=0.02)   # crown
    assert h['pelvis'][1] < h['spine'][1] < h['thorax'][1] < h['neck_nose'][1] < h['head'][1]
    dp = body.regress(verts[None], 'dpmesh30')[0]
    np.testing.assert_allclose(dp[:24], body.regress(verts[None], 'dpmesh30')[0, :24])
    np.testing.assert_allclose(dp[24], c['nose'], atol=0.03)


def test_regressors_follow_a_posed_body(body):
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.4, (4, 72)).astype(np.float32)
    with torch.no_grad():
        out = body(pose, transl=rng.normal(0, 1, (4, 3)).astype(np.float32))
    coco = body.regress(out.vertices, 'coco17').numpy()
    joints = out.joints.numpy()
    # COCO limb keypoints stay within a few cm of the SMPL joints of the same name when posed.
    for name in ('elbow', 'wrist', 'knee', 'ankle'):
        for side in ('left', 'right'):
            d = np.linalg.norm(coco[:, COCO17_NAMES.index(f'{side}_{name}')]
                               - joints[:, J[f'{side}_{name}']], axis=1)
            assert d.max() < 0.06, (side, name, d)
