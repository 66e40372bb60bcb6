"""Joints without the mesh: the linear rest-joint model + forward kinematics vs smplx."""
import numpy as np
import pytest
import torch

from hmr_models.diffmesh.kinematics import JointModel, synthetic_rest_joints
from hmr_models.geometry.kinematics import forward_kinematics


def test_zero_pose_gives_rest_joints():
    jm = JointModel.from_rest_joints(synthetic_rest_joints())
    joints = jm.from_axis_angle(torch.zeros(3, 72), torch.zeros(3, 10))
    torch.testing.assert_close(joints, jm.rest.expand(3, -1, -1))


def test_root_rotation_turns_the_body_about_the_pelvis():
    rest = torch.from_numpy(synthetic_rest_joints())
    rot = torch.eye(3).repeat(24, 1, 1)
    rot[0] = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 deg about z
    joints, glob = forward_kinematics(rot, rest, return_global=True)
    expected = (rest - rest[0]) @ rot[0].T + rest[0]
    torch.testing.assert_close(joints, expected)
    torch.testing.assert_close(glob, rot[0].expand(24, 3, 3))


def test_matches_the_body_model(test_body):
    """Probing a BodyModel gives a JointModel whose joints equal smplx's for any pose/shape."""
    jm = JointModel.from_body_model(test_body)
    g = torch.Generator().manual_seed(0)
    pose = torch.randn(5, 72, generator=g) * 0.4
    betas = torch.randn(5, 10, generator=g)
    transl = torch.randn(5, 3, generator=g)
    with torch.no_grad():
        ref = test_body(pose, betas, transl).joints
    torch.testing.assert_close(jm.from_axis_angle(pose, betas, transl), ref, atol=1e-5,
                               rtol=1e-5)
    assert jm.shape_dirs.abs().max() > 0  # the test body's betas do move its joints


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match='rest'):
        JointModel(np.zeros((23, 3)), np.zeros((10, 24, 3)))
