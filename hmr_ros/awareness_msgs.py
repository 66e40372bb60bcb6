"""hmr_ros/SMPLPerson <-> hmr_models.awareness.PersonInput (the humans node's input)."""
import numpy as np

from hmr_models.awareness import PersonInput
from hmr_models.types import BodyEstimate, People
from hmr_ros.person_msgs import to_person_array
from hmr_ros.tf_conversion import to_time


def person_input(person):
    """hmr_ros/SMPLPerson -> PersonInput."""
    p = PersonInput(
        track_id=int(person.track_id), bbox=np.asarray(person.bbox, np.float64),
        keypoints=np.asarray(person.keypoints_2d, np.float64).reshape(17, 2),
        keypoint_scores=np.asarray(person.keypoint_scores, np.float64),
        score=float(person.score), has_mesh=bool(person.has_mesh),
        body_model=person.body_model)
    if p.has_mesh:
        p.pose = np.asarray(person.pose, np.float64)
        p.betas = np.asarray(person.betas, np.float64)
        p.joints = np.asarray(person.joints_3d, np.float64).reshape(24, 3)
    return p


def person_array(persons, stamp, frame_id, body_model='hmr_open_body', temporal=True):
    """SMPLPersonArray of PersonInputs with meshes (synthetic clips), as hmr_node writes it."""
    n = len(persons)
    people = People(
        boxes=np.array([p.bbox for p in persons], np.float32).reshape(n, 4),
        scores=np.array([p.score for p in persons], np.float32),
        keypoints=np.array([p.keypoints for p in persons], np.float32).reshape(n, 17, 2),
        keypoint_scores=np.array([p.keypoint_scores for p in persons],
                                 np.float32).reshape(n, 17),
        track_ids=np.array([p.track_id for p in persons], np.int64))
    joints = np.array([p.joints for p in persons], np.float32).reshape(n, 24, 3)
    bodies = BodyEstimate(
        pose=np.array([p.pose for p in persons], np.float32).reshape(n, 72),
        betas=np.array([p.betas for p in persons], np.float32).reshape(n, 10),
        translation=np.array([p.translation for p in persons], np.float32).reshape(n, 3),
        joints=joints,
        joint_confidence=np.ones((n, 24), np.float32), temporal=temporal,
        body_model=body_model, model_profile='compact')
    msg = to_person_array(None, people, bodies, 'compact')
    msg.header.frame_id = frame_id
    msg.header.stamp = to_time(stamp)
    return msg
