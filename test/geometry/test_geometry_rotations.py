"""The geometry layer: rotation round trips, edge angles, gradients, torch vs numpy agreement."""
import math

import torch

from hmr_models.geometry import rotations as R


def _random_aa(n, seed=0, max_angle=math.pi):
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    angle = torch.rand(n, 1, generator=g) * max_angle
    return axis * angle


def test_axis_angle_matrix_round_trip():
    aa = _random_aa(500, max_angle=math.pi - 1e-3)
    back = R.matrix_to_axis_angle(R.axis_angle_to_matrix(aa))
    torch.testing.assert_close(back, aa, atol=1e-4, rtol=1e-4)


def test_near_zero_and_near_pi():
    small = torch.tensor([[1e-8, 0.0, 0.0], [0.0, 0.0, 0.0], [1e-5, -2e-5, 3e-6]])
    torch.testing.assert_close(R.matrix_to_axis_angle(R.axis_angle_to_matrix(small)), small,
                               atol=1e-6, rtol=0)
    # At pi, v and -v are the same rotation: compare the matrices.
    near_pi = torch.tensor([[math.pi - 1e-6, 0.0, 0.0], [0.0, 0.0, math.pi],
                            [math.pi / math.sqrt(2), math.pi / math.sqrt(2), 0.0]])
    m = R.axis_angle_to_matrix(near_pi)
    torch.testing.assert_close(R.axis_angle_to_matrix(R.matrix_to_axis_angle(m)), m,
                               atol=1e-5, rtol=0)


def test_matrices_are_rotations():
    m = R.axis_angle_to_matrix(_random_aa(100, 1))
    eye = torch.eye(3).expand_as(m)
    torch.testing.assert_close(m @ m.transpose(-1, -2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(m), torch.ones(100), atol=1e-5, rtol=0)


def test_rot6d_round_trip_and_any_input_is_valid():
    aa = _random_aa(200, 2)
    torch.testing.assert_close(R.rot6d_to_axis_angle(R.axis_angle_to_rot6d(aa)), aa,
                               atol=1e-4, rtol=1e-4)
    m = R.rot6d_to_matrix(torch.randn(50, 6))
    torch.testing.assert_close(torch.linalg.det(m), torch.ones(50), atol=1e-5, rtol=0)


def test_quaternion_round_trip_and_nlerp_endpoints():
    aa = _random_aa(100, 3, max_angle=3.0)
    q = R.axis_angle_to_quaternion(aa)
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(100), atol=1e-6, rtol=0)
    torch.testing.assert_close(R.quaternion_to_axis_angle(q), aa, atol=1e-5, rtol=1e-5)
    q2 = R.axis_angle_to_quaternion(_random_aa(100, 4, max_angle=3.0))
    torch.testing.assert_close(R.quaternion_nlerp(q, q2, torch.zeros(100)), q)
    same = R.quaternion_nlerp(q, q2, torch.ones(100))
    # q2 or -q2 (short way): the same rotation.
    torch.testing.assert_close(R.quaternion_to_axis_angle(same), R.quaternion_to_axis_angle(q2),
                               atol=1e-5, rtol=1e-5)
    # Halfway between rotations about one axis is the mean angle.
    a = torch.tensor([[0.0, 0.0, 0.2]])
    b = torch.tensor([[0.0, 0.0, 0.6]])
    mid = R.quaternion_nlerp(R.axis_angle_to_quaternion(a), R.axis_angle_to_quaternion(b),
                             torch.tensor([0.5]))
    torch.testing.assert_close(R.quaternion_to_axis_angle(mid), torch.tensor([[0.0, 0.0, 0.4]]),
                               atol=1e-6, rtol=0)


def test_gradients_are_finite_at_zero():
    aa = torch.zeros(4, 3, requires_grad=True)
    R.axis_angle_to_matrix(aa).sum().backward()
    assert torch.isfinite(aa.grad).all()


def test_torch_and_numpy_conversions_agree():
    """The torch (models) and numpy (motion data) homes give the same rotations."""
    import numpy as np

    from hmr_models.geometry import rotations_np as N
    aa = _random_aa(64, seed=3, max_angle=math.pi - 1e-3).double()
    np.testing.assert_allclose(R.axis_angle_to_matrix(aa).numpy(),
                               N.axis_angle_to_matrix(aa.numpy()), atol=1e-9)
    mats = N.axis_angle_to_matrix(aa.numpy())
    np.testing.assert_allclose(R.matrix_to_axis_angle(torch.from_numpy(mats)).numpy(),
                               N.matrix_to_axis_angle(mats), atol=1e-6)
    q_torch = R.matrix_to_quaternion(torch.from_numpy(mats)).numpy()
    q_np = N.matrix_to_quaternion(mats)
    # q and -q are one rotation; the torch side keeps w >= 0.
    np.testing.assert_allclose(q_torch, q_np * np.sign(q_np[:, :1]), atol=1e-6)


def test_forward_kinematics_torch_and_numpy_agree():
    import numpy as np

    from hmr_models.geometry.kinematics import forward_kinematics, forward_kinematics_np
    from hmr_models.skeleton import SMPL24_PARENTS
    rot = R.axis_angle_to_matrix(_random_aa(2 * 24, seed=5).double().reshape(2, 24, 3))
    rest = torch.randn(24, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    joints, glob = forward_kinematics(rot, rest, return_global=True)
    offsets = rest.numpy() - np.where(SMPL24_PARENTS[:, None] >= 0, rest.numpy()[SMPL24_PARENTS], 0)
    g_rot, g_pos = forward_kinematics_np(SMPL24_PARENTS, rot.numpy(),
                                         np.broadcast_to(offsets, (2, 24, 3)))
    np.testing.assert_allclose(joints.numpy(), g_pos, atol=1e-9)
    np.testing.assert_allclose(glob.numpy(), g_rot, atol=1e-9)


def test_apply_affine_numpy_and_torch_agree():
    import numpy as np

    from hmr_models.geometry.affine import apply_affine
    rng = np.random.default_rng(0)
    affine = rng.normal(size=(3, 2, 3)).astype(np.float32)
    points = rng.normal(size=(3, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(apply_affine(torch.from_numpy(affine), torch.from_numpy(points)),
                               apply_affine(affine, points), atol=1e-6)
