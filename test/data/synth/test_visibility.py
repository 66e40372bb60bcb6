"""Occlusion logic on hand-placed bodies and boxes."""
import numpy as np

from hmr_models.data.mocap.motion import smpl_forward_kinematics
from hmr_models.data.mocap.retarget import default_rest_joints
from hmr_models.geometry.rotations_np import axis_angle_to_matrix, matrix_to_axis_angle
from hmr_models.data.synth import visibility as vis
from hmr_models.skeleton import SMPL24_NAMES

J = {n: i for i, n in enumerate(SMPL24_NAMES)}
REST = default_rest_joints()
# SMPL (y up) into the camera frame (y down): a body facing +z faces away from the camera.
TO_CAMERA = np.diag([-1.0, -1.0, 1.0])


def body_joints(yaw_deg, position, arms_down=True):
    """Camera-frame joints (24, 3) and global rotations of a standing body."""
    pose = np.zeros((1, 72))
    if arms_down:
        pose[0, 3 * J['left_shoulder'] + 2] = -1.2
        pose[0, 3 * J['right_shoulder'] + 2] = 1.2
    g = TO_CAMERA @ axis_angle_to_matrix(np.array([0.0, np.radians(yaw_deg), 0.0]))
    pose[0, :3] = matrix_to_axis_angle(g)
    joints, rot = smpl_forward_kinematics(pose, np.asarray(position)[None] - REST[0], REST)
    return joints[0], rot[0]


def codes_of(bodies, boxes=None, image_size=None, pixels=None):
    joints = np.stack([b[0] for b in bodies])
    caps = vis.body_capsules(joints)
    return vis.occlusion_codes(joints, vis.EXCLUDE_SMPL, caps, boxes, image_size, pixels)


def test_frontal_body_is_fully_visible():
    codes, occluder = codes_of([body_joints(180, [0, 0, 4])])
    assert (codes == 0).all() and (occluder == -1).all()


def test_side_view_hides_the_far_limbs_only():
    codes, _ = codes_of([body_joints(90, [0, 0, 4])])
    hidden = {SMPL24_NAMES[j] for j in np.flatnonzero(codes[0] & vis.SELF)}
    # Turned 90 degrees: the body's left side faces the camera (x points at it).
    assert {'right_elbow', 'right_wrist', 'right_knee'} <= hidden
    assert not any(n.startswith('left_') and n != 'left_collar' for n in hidden)


def test_person_behind_another_is_occluded_by_that_person():
    front = body_joints(180, [0, 0, 3])
    back = body_joints(180, [0.05, 0, 5])
    side = body_joints(180, [1.5, 0, 5])
    codes, occluder = codes_of([front, back, side])
    assert (codes[0] & vis.OTHER == 0).all()
    torso = [J[n] for n in ('spine2', 'spine3', 'left_hip', 'right_hip')]
    assert (codes[1, torso] & vis.OTHER).all()
    assert (occluder[1, torso] == 0).all()
    assert (codes[2] == 0).all()


def test_box_hides_legs_not_head():
    person = body_joints(180, [0, 0, 5])
    box_centre = np.array([[0.0, 0.35, 3.0]])  # camera y down: the box is below the eyes
    boxes = (box_centre, np.eye(3)[None], np.array([[0.8, 0.3, 0.2]]))
    codes, _ = codes_of([person], boxes)
    assert codes[0, J['left_ankle']] & vis.OBJECT
    assert codes[0, J['right_knee']] & vis.OBJECT
    assert codes[0, J['head']] == 0


def test_out_of_frame_and_behind_camera():
    person = body_joints(180, [0, 0, 4])
    pix = np.zeros((1, 24, 2))
    pix[0, :12] = [2000, 10]    # outside a 640x480 image
    pix[0, 12:] = [100, 100]
    codes, _ = codes_of([person], image_size=(640, 480), pixels=pix)
    assert (codes[0, :12] & vis.OUT_OF_FRAME).all() and not (codes[0, 12:]
                                                             & vis.OUT_OF_FRAME).any()
    behind = body_joints(180, [0, 0, -3])
    codes, _ = codes_of([behind])
    assert (codes & vis.OUT_OF_FRAME).all()


def test_face_hidden_when_looking_away():
    for yaw, expect_nose in ((180, False), (0, True)):
        joints, rot = body_joints(yaw, [0, 0, 4])
        face = joints[J['head']] + np.zeros((5, 3))
        hidden = vis.face_hidden(rot[J['head']], joints[J['head']], face)
        assert hidden[0] == expect_nose
    joints, rot = body_joints(90, [0, 0, 4])      # left side towards the camera
    hidden = vis.face_hidden(rot[J['head']], joints[J['head']], np.zeros((5, 3)))
    assert not hidden[3] and hidden[4]            # left ear seen, right ear hidden


def test_ray_capsule_entry_geometry():
    # A capsule across the z axis at depth 5 with radius 0.5: entered at 4.5 from the origin.
    a, b, r = np.array([[-1.0, 0, 5]]), np.array([[1.0, 0, 5]]), np.array([0.5])
    entry = vis.ray_capsule_entry(np.array([[0, 0, 10.0], [0, 2.0, 10.0]]), a, b, r)
    assert abs(entry[0, 0] - 4.5) < 1e-9 and np.isinf(entry[1, 0])
    box = vis.ray_box_entry(np.array([[0, 0, 10.0]]), np.array([[0, 0, 5.0]]),
                            np.eye(3)[None], np.array([[1.0, 1.0, 1.0]]))
    assert abs(box[0, 0] - 4.0) < 1e-9
