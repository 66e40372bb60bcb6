"""BodyModel over smplx: shapes, batches, rest pose, shape directions, errors."""
import numpy as np
import pytest
import torch

from hmr_models.body import BodyModelFormatError, load_body_model
from hmr_models.body.model_file import read_body_file
from fixtures.bodies import TEST_REST_JOINTS, make_test_body_file
from hmr_models.paths import MissingModelFile


@pytest.fixture(scope='module')
def body_file(tmp_path_factory):
    return make_test_body_file(tmp_path_factory.mktemp('body') / 'test_body.npz')


@pytest.fixture(scope='module')
def body(body_file):
    torch.manual_seed(0)
    return load_body_model(body_file)


def random_pose(batch, seed=0, scale=0.4):
    return np.random.default_rng(seed).normal(0.0, scale, (batch, 72)).astype(np.float32)


@pytest.mark.parametrize('batch', [1, 3, 8])
def test_forward_shapes(body, batch):
    out = body(random_pose(batch), np.zeros((batch, 10)), np.zeros((batch, 3)))
    assert out.vertices.shape == (batch, body.num_vertices, 3)
    assert out.joints.shape == (batch, 24, 3)
    assert out.vertices.dtype == torch.float32
    assert body.faces.shape[1] == 3 and body.faces.dtype == np.int64
    assert body.num_betas == 10
    assert body.name == 'test_body'


def test_zero_pose_returns_template(body):
    out = body(np.zeros((2, 72)))
    np.testing.assert_allclose(out.vertices[1].numpy(), body.v_template.numpy(), atol=1e-6)
    np.testing.assert_allclose(out.joints[0].numpy(), TEST_REST_JOINTS, atol=1e-6)


def test_translation_moves_everything(body):
    pose = random_pose(2)
    shift = np.array([[0.5, -1.0, 3.0], [0.0, 0.0, 2.0]], np.float32)
    a = body(pose)
    b = body(pose, transl=shift)
    np.testing.assert_allclose((b.vertices - a.vertices).numpy(),
                               np.broadcast_to(shift[:, None], a.vertices.shape), atol=1e-5)
    np.testing.assert_allclose((b.joints - a.joints).numpy(),
                               np.broadcast_to(shift[:, None], a.joints.shape), atol=1e-5)


def test_each_shape_direction_changes_the_body(body):
    base = body(np.zeros((1, 72))).vertices
    for k in range(body.num_betas):
        betas = np.zeros((1, 10), np.float32)
        betas[0, k] = 2.0
        moved = body(np.zeros((1, 72)), betas).vertices
        assert (moved - base).abs().max() > 1e-3, f'beta {k} does not change the body'


def test_short_betas_are_padded_and_broadcast(body):
    pose = random_pose(3)
    betas = np.array([[1.0, -1.0]], np.float32)
    full = np.zeros((3, 10), np.float32)
    full[:, :2] = betas
    np.testing.assert_allclose(body(pose, betas).vertices.numpy(),
                               body(pose, full).vertices.numpy(), atol=1e-6)


def test_pose_rotates_child_joints_about_parent(body):
    # Bending the left elbow 90 degrees moves the wrist but keeps the elbow and shoulder.
    pose = np.zeros((1, 24, 3), np.float32)
    pose[0, 18] = [0.0, 0.0, np.pi / 2]
    rest, bent = body(np.zeros((1, 72))).joints[0].numpy(), body(pose).joints[0].numpy()
    np.testing.assert_allclose(bent[:19], rest[:19], atol=1e-6)
    forearm_rest = rest[20] - rest[18]
    forearm_bent = bent[20] - bent[18]
    rot_z90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(forearm_bent, rot_z90 @ forearm_rest, atol=1e-5)


def test_regress_shapes_and_consistency(body):
    out = body(random_pose(4))
    for name in ('coco17', 'h36m17'):
        kp = body.regress(out.vertices, name)
        assert kp.shape == (4, 17, 3) and torch.is_tensor(kp)
        np.testing.assert_allclose(body.regress(out.vertices.numpy(), name), kp.numpy(),
                                   atol=1e-5)
        np.testing.assert_allclose(body.regressor(name).sum(1), 1.0, atol=1e-5)
    coco = body.regress(out.vertices, 'coco17').numpy()
    # COCO limb keypoints come from SMPL's joint regressor: on the rest mesh they are the joints.
    rest = body.regress(body.v_template[None], 'coco17')[0].numpy()
    np.testing.assert_allclose(rest[5], TEST_REST_JOINTS[16], atol=1e-5)   # left shoulder
    np.testing.assert_allclose(rest[16], TEST_REST_JOINTS[8], atol=1e-5)   # right ankle
    assert np.isfinite(coco).all()
    with pytest.raises(ValueError, match='coco17'):
        body.regress(out.vertices, 'mpii')


def test_regress_is_differentiable(body):
    pose = torch.zeros((1, 72), requires_grad=True)
    kp = body.regress(body(pose).vertices, 'h36m17')
    kp.sum().backward()
    assert pose.grad is not None


def test_bad_inputs_raise_clear_errors(body):
    with pytest.raises(ValueError, match='pose'):
        body(np.zeros((2, 69)))
    with pytest.raises(ValueError, match='betas'):
        body(np.zeros((2, 72)), np.zeros((3, 10)))
    with pytest.raises(ValueError, match='transl'):
        body(np.zeros((2, 72)), transl=np.zeros((2, 2)))
    with pytest.raises(ValueError, match='NaN'):
        body(np.full((1, 72), np.nan))


def test_missing_file_message_names_file_parameter_and_source(tmp_path):
    missing = tmp_path / 'SMPL_NEUTRAL.npz'
    with pytest.raises(MissingModelFile) as err:
        load_body_model(missing)
    msg = str(err.value)
    assert str(missing) in msg and 'body_model_path' in msg and 'smpl.is.tue.mpg.de' in msg


def test_pkl_points_at_converter(tmp_path):
    pkl = tmp_path / 'basicModel_neutral_lbs_10_207_0_v1.0.0.pkl'
    pkl.write_bytes(b'\x80\x02}q\x00.')
    with pytest.raises(BodyModelFormatError, match='hmr-convert-smpl'):
        load_body_model(pkl)
    with pytest.raises(MissingModelFile, match='hmr-convert-smpl'):
        load_body_model(tmp_path)     # a folder with only .pkl files


def test_folder_with_gendered_file(tmp_path):
    make_test_body_file(tmp_path / 'SMPL_FEMALE.npz', name='smpl_female')
    body = load_body_model(tmp_path, gender='female')
    assert body.name == 'smpl_female'
    with pytest.raises(MissingModelFile, match='SMPL_MALE'):
        load_body_model(tmp_path, gender='male')
    with pytest.raises(ValueError, match='gender'):
        load_body_model(tmp_path, gender='other')


def test_broken_files_are_refused(tmp_path, body_file):
    data = dict(np.load(body_file))
    bad = dict(data)
    del bad['weights']
    np.savez(tmp_path / 'no_weights.npz', **bad)
    with pytest.raises(BodyModelFormatError, match='weights'):
        load_body_model(tmp_path / 'no_weights.npz')
    bad = dict(data, f=data['f'] + 10_000)
    np.savez(tmp_path / 'bad_faces.npz', **bad)
    with pytest.raises(BodyModelFormatError, match='faces'):
        load_body_model(tmp_path / 'bad_faces.npz')
    (tmp_path / 'junk.npz').write_bytes(b'not a zip')
    with pytest.raises(BodyModelFormatError, match='junk.npz'):
        load_body_model(tmp_path / 'junk.npz')


def test_test_body_is_valid(body_file):
    data = read_body_file(body_file)
    np.testing.assert_allclose(data['weights'].sum(1), 1.0, atol=1e-6)
    assert (data['weights'] >= 0).all()
    np.testing.assert_allclose(data['J_regressor'].sum(1), 1.0, atol=1e-6)
    assert set(np.unique(data['f'])) == set(range(data['v_template'].shape[0]))


def test_open_body_skips_zero_pose_correctives_with_smplx_results():
    """The bundled open body has no pose correctives: its shortcut must equal smplx exactly."""
    open_body = load_body_model(None)
    assert not open_body.pose_correctives
    pose = torch.as_tensor(random_pose(4, seed=3))
    betas = torch.as_tensor(np.random.default_rng(4).normal(0, 1, (4, 10)), dtype=torch.float32)
    transl = torch.tensor([[0.1, -0.2, 3.0]] * 4)
    with torch.inference_mode():
        fast = open_body(pose, betas, transl)
        ref = open_body.smpl(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:],
                             transl=transl)
    torch.testing.assert_close(fast.vertices, ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast.joints, ref.joints[:, :24], atol=1e-5, rtol=0)
    fast = open_body(pose, betas)                  # no translation
    assert fast.vertices.shape == (4, open_body.num_vertices, 3)


def test_a_body_with_pose_correctives_keeps_them(tmp_path):
    path = make_test_body_file(tmp_path / 'with_correctives.npz', pose_correctives=True)
    body = load_body_model(path)
    assert body.pose_correctives
    pose = torch.as_tensor(random_pose(2, seed=5))
    with torch.inference_mode():
        out = body(pose)
        skinned = body._skin(pose, body._betas(None, 2), None)
    # The correctives move the vertices; the joints come from the unposed skeleton alike.
    assert (out.vertices - skinned.vertices).abs().max() > 1e-5
    torch.testing.assert_close(out.joints, skinned.joints, atol=1e-5, rtol=0)
