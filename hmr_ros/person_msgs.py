"""hmr_models results -> hmr_ros/SMPLPersonArray (and back, for tests and bag tools)."""
import numpy as np

from hmr_ros.msg import SMPLPerson, SMPLPersonArray


def to_person_array(header, people, bodies=None, profile='frontend_only'):
    """SMPLPersonArray for one image: `people` (hmr_models.types.People), optional BodyEstimate.

    `bodies` must be aligned with `people` (same order and count) when given.
    """
    msg = SMPLPersonArray()
    if header is not None:
        msg.header = header
    n = len(people)
    if bodies is not None and len(bodies) != n:
        raise ValueError(f'{len(bodies)} body estimates for {n} people')
    persons = []
    temporal = bodies.temporal_flags() if bodies is not None else None
    for i in range(n):
        p = SMPLPerson()
        p.track_id = int(people.track_ids[i])
        p.score = float(people.scores[i])
        p.bbox = people.boxes[i].astype(np.float32)
        kps = people.keypoints[i].astype(np.float32)
        conf = people.keypoint_scores[i].astype(np.float32)
        conf = np.where(np.isfinite(kps).all(-1), conf, 0.0).astype(np.float32)
        p.keypoints_2d = kps.reshape(-1)
        p.keypoint_scores = conf
        p.model_profile = profile
        if bodies is not None:
            p.has_mesh = True
            p.pose = bodies.pose[i].astype(np.float32)
            p.betas = bodies.betas[i].astype(np.float32)
            t = bodies.translation[i]
            p.translation.x, p.translation.y, p.translation.z = (float(v) for v in t)
            p.joints_3d = bodies.joints[i].astype(np.float32).reshape(-1)
            p.joint_confidence = bodies.joint_confidence[i].astype(np.float32)
            p.temporal = bool(temporal[i])
            p.body_model = bodies.body_model
            p.model_profile = bodies.model_profile or profile
        persons.append(p)
    msg.persons = persons
    return msg


def person_arrays(person):
    """(keypoints (17,2), keypoint_scores, pose (72,), betas, translation (3,), joints (24,3))."""
    t = person.translation
    return (np.asarray(person.keypoints_2d).reshape(17, 2), np.asarray(person.keypoint_scores),
            np.asarray(person.pose), np.asarray(person.betas), np.array([t.x, t.y, t.z]),
            np.asarray(person.joints_3d).reshape(24, 3))


def people_from_array(msg):
    """hmr_models.types.People of an SMPLPersonArray (boxes, scores, keypoints, track ids)."""
    from hmr_models.types import People
    n = len(msg.persons)
    people = People(
        boxes=np.array([p.bbox for p in msg.persons], np.float32).reshape(n, 4),
        scores=np.array([p.score for p in msg.persons], np.float32).reshape(n),
        keypoints=np.array([p.keypoints_2d for p in msg.persons], np.float32).reshape(n, 17, 2),
        keypoint_scores=np.array([p.keypoint_scores for p in msg.persons],
                                 np.float32).reshape(n, 17),
        track_ids=np.array([p.track_id for p in msg.persons], np.int64).reshape(n))
    missing = ~np.isfinite(people.keypoints).all(-1) | ~np.isfinite(people.keypoint_scores)
    people.keypoints[missing] = np.nan
    people.keypoint_scores[missing] = 0.0
    people.scores = np.nan_to_num(people.scores, nan=0.0)
    return people
