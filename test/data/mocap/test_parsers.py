"""BVH and DeepMimic parsers on small files the tests write in the real layouts."""
import json

import numpy as np
import pytest

from hmr_models.data.mocap.bvh import read_bvh, write_bvh
from hmr_models.data.mocap.deepmimic import FRAME_SIZE, read_deepmimic, read_urdf_skeleton
from hmr_models.geometry.rotations_np import euler_to_matrix, rotation_angle
from hmr_models.data.mocap.source import MocapFormatError
from hmr_models.geometry.kinematics import forward_kinematics_np

# CMU-style: 6 channels on the root, 3 rotation channels (ZYX) on joints, an End Site.
CMU_LIKE = """HIERARCHY
ROOT Hips
{
    OFFSET 0.00000 0.00000 0.00000
    CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
    JOINT LeftArm
    {
        OFFSET 1.00000 2.00000 0.00000
        CHANNELS 3 Zrotation Yrotation Xrotation
        JOINT LeftForeArm
        {
            OFFSET 3.00000 0.00000 0.00000
            CHANNELS 3 Zrotation Yrotation Xrotation
            End Site
            {
                OFFSET 2.00000 0.00000 0.00000
            }
        }
    }
}
MOTION
Frames: 3
Frame Time: .0083333
0 10 0 0 0 0 0 0 0 0 0 0
1 10 0 0 0 0 0 0 0 90 0 0
2 10 0 90 0 0 0 0 0 0 0 0
"""
CMU_LIKE = CMU_LIKE.replace('    ', '\t')  # CMU files indent with tabs

# Bandai-style: 6 channels (positions too) on every joint, ZXY rotation order, cm.
BANDAI_LIKE = """HIERARCHY
ROOT joint_Root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Hips
  {
    OFFSET 0 90 0
    CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 0 0
    }
  }
}
MOTION
Frames:	2
Frame Time:	0.0333333
0 0 0 0 0 0 5 91 -3 10 20 30
0 0 0 0 0 0 6 92 -4 10 20 30
"""


def test_bvh_hierarchy_and_motion(tmp_path):
    path = tmp_path / 'cmu_like.bvh'
    path.write_text(CMU_LIKE)
    m = read_bvh(path, units_to_m=0.05)
    assert m.names == ('Hips', 'LeftArm', 'LeftForeArm', 'LeftForeArm_end')
    assert m.parents.tolist() == [-1, 0, 1, 2]
    assert m.num_frames == 3
    assert m.fps == pytest.approx(120.0, rel=1e-4)
    np.testing.assert_allclose(m.offsets[2], [3, 0, 0])
    _, pos = forward_kinematics_np(m.parents, m.rotations, m.translations)
    # Frame 0: rest pose; the end site is 1 + 3 + 2 along x, 10 + 2 up.
    np.testing.assert_allclose(pos[0, 3], [6, 12, 0], atol=1e-9)
    # Frame 1: the forearm turned 90 degrees about z: the end site points up (+y).
    np.testing.assert_allclose(pos[1, 3] - pos[1, 2], [0, 2, 0], atol=1e-9)
    np.testing.assert_allclose(pos[1, 0], [1, 10, 0])
    # Frame 2: the whole body turned 90 degrees about z (root channel order ZYX).
    np.testing.assert_allclose(pos[2, 1] - pos[2, 0], [-2, 1, 0], atol=1e-9)


def test_bvh_position_channels_on_joints_and_euler_order(tmp_path):
    path = tmp_path / 'bandai_like.bvh'
    path.write_text(BANDAI_LIKE)
    m = read_bvh(path)
    # Position channels replace the offset of a non-root joint.
    np.testing.assert_allclose(m.translations[:, 1], [[5, 91, -3], [6, 92, -4]])
    # Rotation channels Z X Y compose as Rz @ Rx @ Ry.
    rz, rx, ry = (euler_to_matrix([[a]], ax)[0] for a, ax in ((10, 'Z'), (20, 'X'), (30, 'Y')))
    np.testing.assert_allclose(m.rotations[0, 1], rz @ rx @ ry, atol=1e-12)
    assert m.fps == pytest.approx(30.0, rel=1e-4)


def test_bvh_write_read_round_trip(tmp_path):
    path = tmp_path / 'a.bvh'
    path.write_text(CMU_LIKE)
    m = read_bvh(path)
    rng = np.random.default_rng(0)
    m.rotations[:, :3] = euler_to_matrix(rng.uniform(-80, 80, (3, 3, 3)), 'XYZ')
    write_bvh(tmp_path / 'b.bvh', m, order='ZXY')
    back = read_bvh(tmp_path / 'b.bvh')
    assert back.names == m.names
    err = rotation_angle(np.swapaxes(back.rotations, -1, -2) @ m.rotations)
    assert err.max() < 1e-5
    np.testing.assert_allclose(back.translations[:, 0], m.translations[:, 0], atol=1e-5)


@pytest.mark.parametrize('text, message', [
    ('nothing here', 'not a BVH file'),
    (CMU_LIKE.replace('Frames: 3', 'Frames: 5'), 'MOTION holds'),
    (CMU_LIKE.replace('Xrotation\n\t\tJOINT', 'Wrotation\n\t\tJOINT'), 'unknown channels'),
    (CMU_LIKE.replace('Frame Time: .0083333', 'Frame Time: 0'), 'frame time'),
])
def test_bvh_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / 'bad.bvh'
    path.write_text(text)
    with pytest.raises(MocapFormatError, match=message) as info:
        read_bvh(path)
    assert 'bad.bvh' in str(info.value)


URDF = """<robot name="dumpUrdf">
  <link name="base"/><link name="root"/><link name="chest"/><link name="neck"/>
  <joint name="root" type="fixed"><parent link="base"/><child link="root"/>
    <origin rpy="0 0 0" xyz="0 0 0"/></joint>
  <joint name="chest" type="spherical"><parent link="root"/><child link="chest"/>
    <origin rpy="0 0 0" xyz="0 0.9 0"/></joint>
  <joint name="neck" type="spherical"><parent link="chest"/><child link="neck"/>
    <origin rpy="0 0 0" xyz="0 0.9 0"/></joint>
{legs}
</robot>
"""
LEG = """  <link name="{s}_hip"/><link name="{s}_knee"/><link name="{s}_ankle"/>
  <link name="{s}_shoulder"/><link name="{s}_elbow"/>
  <joint name="{s}_hip" type="spherical"><parent link="root"/><child link="{s}_hip"/>
    <origin rpy="0 0 0" xyz="0 0 {z}"/></joint>
  <joint name="{s}_knee" type="revolute"><parent link="{s}_hip"/><child link="{s}_knee"/>
    <origin rpy="0 0 0" xyz="0 -1.6 0"/><axis xyz="0 0 1"/></joint>
  <joint name="{s}_ankle" type="spherical"><parent link="{s}_knee"/><child link="{s}_ankle"/>
    <origin rpy="0 0 0" xyz="0 -1.6 0"/></joint>
  <joint name="{s}_shoulder" type="spherical"><parent link="chest"/>
    <child link="{s}_shoulder"/><origin rpy="0 0 0" xyz="0 0.9 {z2}"/></joint>
  <joint name="{s}_elbow" type="revolute"><parent link="{s}_shoulder"/>
    <child link="{s}_elbow"/><origin rpy="0 0 0" xyz="0 -1.1 0"/><axis xyz="0 0 1"/></joint>
"""


def _write_urdf(path):
    legs = LEG.format(s='right', z=0.34, z2=0.7) + LEG.format(s='left', z=-0.34, z2=-0.7)
    # The shipped humanoid.urdf ends in a NUL byte: the reader must cope.
    path.write_bytes(URDF.format(legs=legs).encode() + b'\x00')


def _frame(dt, root_y=0.85, knee=0.0, root_x=0.0):
    ident = [1.0, 0.0, 0.0, 0.0]
    return ([dt, root_x, root_y, 0.0] + ident + ident + ident + ident + [knee] + ident + ident
            + [0.0] + ident + [0.0] + ident + ident + [0.0])


def test_deepmimic_frames_and_revolute_joints(tmp_path):
    _write_urdf(tmp_path / 'humanoid.urdf')
    frames = [_frame(0.05), _frame(0.05, knee=-np.pi / 2), _frame(0.05, root_x=0.1)]
    assert len(frames[0]) == FRAME_SIZE
    (tmp_path / 'clip.txt').write_text(json.dumps({'Loop': 'none', 'Frames': frames}))
    m = read_deepmimic(tmp_path / 'clip.txt', tmp_path / 'humanoid.urdf')
    assert m.num_frames == 3
    np.testing.assert_allclose(m.times, [0.0, 0.05, 0.1])
    _, pos = forward_kinematics_np(m.parents, m.rotations, m.translations)
    knee, ankle = m.index('right_knee'), m.index('right_ankle')
    # URDF lengths are scaled by 0.25 (pybullet's globalScaling): shin 1.6 -> 0.4 m.
    np.testing.assert_allclose(pos[0, ankle] - pos[0, knee], [0, -0.4, 0], atol=1e-9)
    # Knee at -90 degrees about z: the shin points backwards (-x, the humanoid faces +x).
    np.testing.assert_allclose(pos[1, ankle] - pos[1, knee], [-0.4, 0, 0], atol=1e-9)
    assert 'neck_end' in m.names  # the head's direction comes from an added end site


def test_deepmimic_cycles_are_continuous(tmp_path):
    _write_urdf(tmp_path / 'humanoid.urdf')
    n = 20
    frames = [_frame(1 / 30, root_x=0.05 * i, knee=-0.5 * np.sin(np.pi * i / (n - 1)))
              for i in range(n)]
    (tmp_path / 'walk.txt').write_text(json.dumps({'Loop': 'wrap', 'Frames': frames}))
    m = read_deepmimic(tmp_path / 'walk.txt', tmp_path / 'humanoid.urdf', cycles=3)
    assert m.num_frames == 3 * n - 2
    root = m.translations[:, 0, 0]
    assert np.all(np.diff(root) > 0)            # keeps walking forward across the seams
    assert root[-1] == pytest.approx(3 * 0.05 * (n - 1))
    assert np.all(np.diff(m.times) > 0)


def test_deepmimic_errors(tmp_path):
    _write_urdf(tmp_path / 'humanoid.urdf')
    (tmp_path / 'short.txt').write_text(json.dumps({'Frames': [[0.1, 1, 2]] * 3}))
    with pytest.raises(MocapFormatError, match='short.txt'):
        read_deepmimic(tmp_path / 'short.txt', tmp_path / 'humanoid.urdf')
    (tmp_path / 'broken.urdf').write_text('<robot><joint name="x"')
    with pytest.raises(MocapFormatError, match='broken.urdf'):
        read_urdf_skeleton(tmp_path / 'broken.urdf')
