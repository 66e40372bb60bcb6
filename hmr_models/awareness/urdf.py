"""A URDF per person from SMPL's kinematic tree and that person's shape (betas).

The robot model has one link per SMPL joint, named ``<joint>_<id>`` like the TF frames the
humans node publishes, under the REP-155 root link ``body_<id>``. Every joint rotation is a
chain of three continuous joints about z, y and x (``<joint>_rz_<id>``, ``_ry_``, ``_rx_``,
with two small intermediate links), so that ``robot_state_publisher`` driven by the body's
``joint_states`` reproduces any SMPL pose. The pelvis rotates about the body frame's origin
(the mid-hip) and sits at its rest offset from it. Bone lengths come from the body model's rest
joints for the person's betas, link thickness from the mesh around each bone.
"""
from xml.etree import ElementTree

import numpy as np
from scipy.spatial.transform import Rotation

from hmr_models.skeleton import SMPL24_NAMES, SMPL24_PARENTS

from .frames import SMPL_TO_BODY, make_transform
from .kinematics import LEFT_HIP, RIGHT_HIP, euler_zyx

AXES = (('rz', (0.0, 0.0, 1.0)), ('ry', (0.0, 1.0, 0.0)), ('rx', (1.0, 0.0, 0.0)))


def body_link(body_id):
    return f'body_{body_id}'


def joint_link(name, body_id):
    return f'{name}_{body_id}'


def urdf_joint_names(body_id, names=SMPL24_NAMES):
    """Names of the revolute (continuous) joints, in the order of :func:`joint_positions`."""
    return [f'{n}_{axis}_{body_id}' for n in names for axis, _ in AXES]


def rest_skeleton(body_model, betas):
    """Rest joints (24, 3) in body axes (x forward, y left, z up) and link radii (24,).

    ``body_model``: an :class:`hmr_models.body.BodyModel`; ``betas`` (10,) or fewer. Radii are
    the median distance of each joint's vertices (its largest skinning weight) from its bone.
    """
    import torch
    with torch.no_grad():
        out = body_model(np.zeros((1, 72)), np.asarray(betas, np.float64).reshape(1, -1))
    vertices, joints = (a[0].astype(np.float64) for a in out.numpy())
    weights = body_model.smpl.lbs_weights.detach().cpu().numpy()
    vertices = vertices @ SMPL_TO_BODY.T
    joints = joints @ SMPL_TO_BODY.T
    return joints, part_radii(vertices, joints, weights.argmax(1))


def part_radii(vertices, joints, vertex_part, parents=SMPL24_PARENTS, lo=0.02, hi=0.2):
    """Median distance of each part's vertices from its bone (joint to its first child)."""
    children = {j: [c for c, p in enumerate(parents) if p == j] for j in range(len(parents))}
    radii = np.full(len(parents), lo)
    for j in range(len(parents)):
        pts = vertices[vertex_part == j]
        if not len(pts):
            continue
        a = joints[j]
        if children[j]:
            b = joints[children[j][0]]
            ab = b - a
            s = np.clip((pts - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)
            d = np.linalg.norm(pts - (a + s[:, None] * ab), axis=1)
        else:
            d = np.linalg.norm(pts - a, axis=1)
        radii[j] = np.clip(np.median(d), lo, hi)
    return radii


def _fmt(values):
    return ' '.join(f'{v:.6g}' for v in values)


def _cylinder_rpy(direction):
    """URDF rpy turning a cylinder's z axis onto `direction`."""
    d = direction / np.linalg.norm(direction)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, d)
    s, c = np.linalg.norm(axis), float(z @ d)
    if s < 1e-9:
        rot = np.eye(3) if c > 0 else Rotation.from_rotvec([np.pi, 0, 0]).as_matrix()
    else:
        rot = Rotation.from_rotvec(axis / s * np.arctan2(s, c)).as_matrix()
    return Rotation.from_matrix(rot).as_euler('xyz')


def build_urdf(body_id, rest_joints, radii=None, names=SMPL24_NAMES, parents=SMPL24_PARENTS):
    """URDF text of one person.

    Args:
        body_id: REP-155 body id (suffix of every link and joint).
        rest_joints: (24, 3) rest joint positions in body axes (see :func:`rest_skeleton`).
        radii: (24,) link radii for the visuals (default 5 cm).
    """
    rest = np.asarray(rest_joints, np.float64)
    radii = np.full(len(names), 0.05) if radii is None else np.asarray(radii, np.float64)
    mid_hip = 0.5 * (rest[LEFT_HIP] + rest[RIGHT_HIP])
    robot = ElementTree.Element('robot', name=f'human_{body_id}')
    ElementTree.SubElement(robot, 'link', name=body_link(body_id))

    def add_rotation_chain(name, parent, offset):
        link = parent
        for k, (axis_name, axis) in enumerate(AXES):
            child = (joint_link(name, body_id) if k == len(AXES) - 1 and name != names[0]
                     else f'{name}_{axis_name}_link_{body_id}')
            ElementTree.SubElement(robot, 'link', name=child)
            joint = ElementTree.SubElement(robot, 'joint', name=f'{name}_{axis_name}_{body_id}',
                                           type='continuous')
            ElementTree.SubElement(joint, 'parent', link=link)
            ElementTree.SubElement(joint, 'child', link=child)
            ElementTree.SubElement(joint, 'origin', xyz=_fmt(offset if k == 0 else (0, 0, 0)),
                                   rpy='0 0 0')
            ElementTree.SubElement(joint, 'axis', xyz=_fmt(axis))
            link = child
        return link

    # Pelvis: rotates about the mid-hip (the body frame's origin), then its rest offset.
    last = add_rotation_chain(names[0], body_link(body_id), (0.0, 0.0, 0.0))
    pelvis = ElementTree.SubElement(robot, 'joint', name=f'{names[0]}_offset_{body_id}',
                                    type='fixed')
    ElementTree.SubElement(pelvis, 'parent', link=last)
    ElementTree.SubElement(pelvis, 'child', link=joint_link(names[0], body_id))
    ElementTree.SubElement(pelvis, 'origin', xyz=_fmt(rest[0] - mid_hip), rpy='0 0 0')
    link_elements = {names[0]: ElementTree.SubElement(robot, 'link',
                                                      name=joint_link(names[0], body_id))}
    for j in range(1, len(names)):
        add_rotation_chain(names[j], joint_link(names[parents[j]], body_id),
                           rest[j] - rest[parents[j]])
        link_elements[names[j]] = robot.find(f"link[@name='{joint_link(names[j], body_id)}']")
    # Visuals: a sphere at every joint and a cylinder along every bone.
    for j, name in enumerate(names):
        link = link_elements[name]
        visual = ElementTree.SubElement(link, 'visual')
        ElementTree.SubElement(visual, 'origin', xyz='0 0 0', rpy='0 0 0')
        geometry = ElementTree.SubElement(visual, 'geometry')
        ElementTree.SubElement(geometry, 'sphere', radius=f'{radii[j]:.4f}')
        for c in (c for c, p in enumerate(parents) if p == j):
            bone = rest[c] - rest[j]
            length = float(np.linalg.norm(bone))
            if length < 1e-3:
                continue
            visual = ElementTree.SubElement(link, 'visual')
            ElementTree.SubElement(visual, 'origin', xyz=_fmt(bone / 2),
                                   rpy=_fmt(_cylinder_rpy(bone)))
            geometry = ElementTree.SubElement(visual, 'geometry')
            ElementTree.SubElement(geometry, 'cylinder', radius=f'{min(radii[j], radii[c]):.4f}',
                                   length=f'{length:.4f}')
    ElementTree.indent(robot)
    return '<?xml version="1.0"?>\n' + ElementTree.tostring(robot, encoding='unicode') + '\n'


def joint_positions(frames, body, parents=SMPL24_PARENTS):
    """Joint angles (72,) for :func:`urdf_joint_names` from posed frames.

    Args:
        frames: (24, 4, 4) joint frames (:func:`hmr_models.awareness.kinematics.joint_frames`)
            in any frame; body: the 4x4 body frame in the same frame.
    """
    out = np.empty(3 * len(parents))
    for j, p in enumerate(parents):
        parent_rot = body[:3, :3] if p < 0 else frames[p, :3, :3]
        out[3 * j:3 * j + 3] = euler_zyx(parent_rot.T @ frames[j, :3, :3])
    return out


def urdf_forward_kinematics(urdf_text, positions):
    """Every link's pose in the root link's frame: {link: T_root_link}.

    ``positions`` maps joint names to angles (missing: 0). Supports what :func:`build_urdf`
    writes (fixed, revolute and continuous joints with origin xyz/rpy and an axis); used to
    check that the URDF and the joint states reproduce the published TF frames.
    """
    root = ElementTree.fromstring(urdf_text)
    joints = {}
    for j in root.findall('joint'):
        origin = j.find('origin')
        xyz = [float(v) for v in origin.get('xyz', '0 0 0').split()] if origin is not None \
            else [0.0] * 3
        rpy = [float(v) for v in origin.get('rpy', '0 0 0').split()] if origin is not None \
            else [0.0] * 3
        axis_el = j.find('axis')
        axis = np.array([float(v) for v in axis_el.get('xyz').split()]) if axis_el is not None \
            else np.array([1.0, 0.0, 0.0])
        joints[j.find('child').get('link')] = (
            j.find('parent').get('link'), j.get('name'), j.get('type'),
            make_transform(Rotation.from_euler('xyz', rpy).as_matrix(), xyz), axis)
    links = [link.get('name') for link in root.findall('link')]
    roots = [name for name in links if name not in joints]
    if len(roots) != 1:
        raise ValueError(f'URDF must have one root link, found {roots}')
    poses = {roots[0]: np.eye(4)}

    def pose(link):
        if link not in poses:
            parent, name, kind, origin, axis = joints[link]
            motion = np.eye(4)
            if kind in ('revolute', 'continuous'):
                motion[:3, :3] = Rotation.from_rotvec(axis * positions.get(name, 0.0)).as_matrix()
            poses[link] = pose(parent) @ origin @ motion
        return poses[link]
    for link in links:
        pose(link)
    return poses
