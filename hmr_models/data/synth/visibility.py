"""Which keypoints a camera sees.

A keypoint may be out of frame, hidden by the body itself, by another person or by an object.

Bodies are approximated by capsules around SMPL's bones (radii of an average adult, scaled per
person) and a sphere for the head; objects are oriented boxes. A keypoint is occluded when the
camera ray reaches an occluder's surface more than ``margin`` metres before the keypoint.
Capsules that touch the keypoint's own joint are ignored (a joint always lies inside its own
limbs), and face keypoints (nose, eyes, ears) are hidden by a facing test on the head instead.
Everything is vectorised over frames, keypoints and capsules.
"""
import numpy as np

from hmr_models.skeleton import COCO17_NAMES, SMPL24_NAMES, SMPL24_PARENTS

J = {n: i for i, n in enumerate(SMPL24_NAMES)}

OUT_OF_FRAME, SELF, OTHER, OBJECT = 1, 2, 4, 8  # bit flags of the occlusion code
CODE_NAMES = {OUT_OF_FRAME: 'out_of_frame', SELF: 'self', OTHER: 'other_person',
              OBJECT: 'object'}


def occluded_in_frame(codes):
    """Mask of the codes hidden by the body itself, a person or an object, inside the image.

    These are the joints OCC-MPJPE is measured on.
    """
    codes = np.asarray(codes)
    return ((codes & (SELF | OTHER | OBJECT)) != 0) & ((codes & OUT_OF_FRAME) == 0)


def _capsules():
    caps = [('pelvis', 'spine1', 0.12), ('spine1', 'spine2', 0.12), ('spine2', 'spine3', 0.12),
            ('spine3', 'neck', 0.09), ('left_hip', 'right_hip', 0.09),
            ('left_shoulder', 'right_shoulder', 0.06), ('neck', 'head', 0.05)]
    for s in ('left', 'right'):
        caps += [(f'{s}_hip', f'{s}_shoulder', 0.07),  # flank: the torso is wider than deep
                 (f'{s}_hip', f'{s}_knee', 0.08), (f'{s}_knee', f'{s}_ankle', 0.055),
                 (f'{s}_ankle', f'{s}_foot', 0.045), (f'{s}_shoulder', f'{s}_elbow', 0.05),
                 (f'{s}_elbow', f'{s}_wrist', 0.04), (f'{s}_wrist', f'{s}_hand', 0.035)]
    return caps


CAPSULES = _capsules()
CAPSULE_JOINTS = np.array([(J[a], J[b]) for a, b, _ in CAPSULES])  # (C, 2)
CAPSULE_RADII = np.array([r for _, _, r in CAPSULES])
HEAD_RADIUS = 0.10
HEAD_CENTRE_UP = 0.09  # head sphere centre above the head joint, along neck -> head
TORSO_JOINTS = tuple(J[n] for n in ('pelvis', 'spine1', 'spine2', 'spine3', 'neck',
                                    'left_collar', 'right_collar'))
_TORSO_CAPS = np.array([i for i, (a, b, _) in enumerate(CAPSULES)
                        if J[a] in TORSO_JOINTS or J[b] in TORSO_JOINTS or
                        (a, b) in (('left_hip', 'right_hip'),
                                   ('left_shoulder', 'right_shoulder'))
                        or b.endswith('_shoulder') and a.endswith('_hip')])

# SMPL joint each COCO keypoint belongs to (face points: the head).
COCO_JOINT = np.array([J['head']] * 5 + [J[n] for n in COCO17_NAMES[5:]])
FACE = np.arange(5)


def _exclusion(joint_ids):
    """(K, C+1) bool: capsules (and the head sphere, last column) each keypoint ignores.

    A joint lies inside the capsules of its own bones and, near their rounded ends, inside
    those of its parent's and children's bones too: all of them are ignored. Torso joints
    (and the hips, at the pelvis's edge) ignore the whole torso.
    """
    out = np.zeros((len(joint_ids), len(CAPSULES) + 1), bool)
    for k, j in enumerate(joint_ids):
        ring = {j, int(SMPL24_PARENTS[j])} | set(np.flatnonzero(SMPL24_PARENTS == j).tolist())
        out[k, :-1] = np.isin(CAPSULE_JOINTS, list(ring)).any(1)
        if j in TORSO_JOINTS or j in (J['left_hip'], J['right_hip']):
            out[k, _TORSO_CAPS] = True
        if j in (J['head'], J['neck']):
            out[k, -1] = True
    return out


EXCLUDE_COCO = _exclusion(COCO_JOINT)
EXCLUDE_SMPL = _exclusion(np.arange(24))


def body_capsules(joints, scale=None):
    """Capsules of posed bodies.

    Args:
        joints: (..., 24, 3) joint positions (camera frame).
        scale: (...,) size factor of each body (1 = average adult), default 1.
    Returns:
        (a, b, radius): segment ends (..., C+1, 3) and radii (..., C+1); the last capsule is
        the head sphere (a == b).
    """
    joints = np.asarray(joints, np.float64)
    lead = joints.shape[:-2]
    s = np.ones(lead) if scale is None else np.broadcast_to(np.asarray(scale, float), lead)
    a = joints[..., CAPSULE_JOINTS[:, 0], :]
    b = joints[..., CAPSULE_JOINTS[:, 1], :]
    up = joints[..., J['head'], :] - joints[..., J['neck'], :]
    up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    centre = joints[..., J['head'], :] + HEAD_CENTRE_UP * s[..., None] * up
    a = np.concatenate([a, centre[..., None, :]], -2)
    b = np.concatenate([b, centre[..., None, :]], -2)
    r = np.concatenate([np.broadcast_to(CAPSULE_RADII, lead + (len(CAPSULES),)),
                        np.full(lead + (1,), HEAD_RADIUS)], -1) * s[..., None]
    return a, b, r


def ray_capsule_entry(points, a, b, radius):
    """Distance along camera rays (from the origin) at which each ray enters each capsule.

    Args:
        points: (..., K, 3) ray targets (camera frame).
        a, b, radius: (..., C, 3), (..., C, 3), (..., C) capsules.
    Returns:
        (..., K, C) entry distance in metres (inf where the ray misses the capsule).
    """
    q = np.asarray(points, np.float64)[..., :, None, :]        # (..., K, 1, 3)
    a = a[..., None, :, :]
    b = b[..., None, :, :]
    dist_q = np.linalg.norm(q, axis=-1)
    d = q / np.maximum(dist_q[..., None], 1e-9)                # unit ray direction
    e = b - a
    ee = (e * e).sum(-1)
    de = (d * e).sum(-1)
    da = (d * a).sum(-1)
    ea = (e * a).sum(-1)
    # Closest points of the infinite ray s*d and the segment a + u*e (u in [0, 1]).
    denom = ee - de * de
    u = np.where(denom > 1e-12, (de * da - ea) / np.where(denom > 1e-12, denom, 1.0), 0.0)
    u = np.clip(u, 0.0, 1.0)
    s = np.maximum(da + u * de, 0.0)
    # Re-project s onto the segment once more (clamping u may have moved the optimum).
    u = np.clip(np.where(ee > 1e-12, (s * de - ea) / np.where(ee > 1e-12, ee, 1.0), 0.0), 0, 1)
    closest = a + u[..., None] * e
    s = np.maximum((d * closest).sum(-1), 0.0)
    gap = np.linalg.norm(s[..., None] * d - closest, axis=-1)
    r = radius[..., None, :]
    hit = gap < r
    # Half-chord of the crossing; a ray along the axis crosses the rounded cap instead.
    sin = np.sqrt(np.clip(1.0 - (de * de) / np.maximum(ee, 1e-12), 0.0, 1.0))
    half = np.sqrt(np.maximum(r * r - gap * gap, 0.0)) / np.maximum(sin, 0.5)
    return np.where(hit, np.maximum(s - half, 0.0), np.inf)


def ray_box_entry(points, centres, axes, half_sizes):
    """Entry distance of camera rays into oriented boxes (slab method).

    Args:
        points: (K, 3) ray targets (camera frame).
        centres: (B, 3) box centres; axes: (B, 3, 3) box axes as rows; half_sizes: (B, 3).
    Returns:
        (K, B) entry distance in metres (inf where the ray misses the box).
    """
    q = np.asarray(points, np.float64)
    if len(centres) == 0:
        return np.full((len(q), 0), np.inf)
    dist_q = np.linalg.norm(q, axis=-1)
    d = q / np.maximum(dist_q[:, None], 1e-9)
    o = np.einsum('bij,bj->bi', axes, -centres)                # ray origin in box frames
    dl = np.einsum('bij,kj->kbi', axes, d)                     # ray direction in box frames
    inv = 1.0 / np.where(np.abs(dl) < 1e-12, 1e-12, dl)
    t1 = (-half_sizes[None] - o[None]) * inv
    t2 = (half_sizes[None] - o[None]) * inv
    t_near = np.minimum(t1, t2).max(-1)
    t_far = np.maximum(t1, t2).min(-1)
    hit = (t_far >= np.maximum(t_near, 0.0))
    return np.where(hit, np.maximum(t_near, 0.0), np.inf)


def face_hidden(head_rotations, head_points, face_points):
    """(..., 5) True where a face keypoint faces away from the camera.

    Args:
        head_rotations: (..., 3, 3) global rotations of the head (camera frame, SMPL axes:
            x left, y up, z forward).
        head_points: (..., 3) head joint; face_points: (..., 5, 3) nose, eyes, ears.
    """
    to_cam = -np.asarray(head_points, np.float64)
    to_cam = to_cam / np.maximum(np.linalg.norm(to_cam, axis=-1, keepdims=True), 1e-9)
    fwd = head_rotations[..., :, 2]
    left = head_rotations[..., :, 0]
    facing = (fwd * to_cam).sum(-1)
    side = (left * to_cam).sum(-1)
    hidden = np.zeros(np.shape(face_points)[:-1], bool)
    hidden[..., 0] = facing < -0.15        # nose: hidden once the head turns away
    hidden[..., 1] = facing < -0.05        # eyes
    hidden[..., 2] = facing < -0.05
    hidden[..., 3] = side < -0.35          # left ear: hidden when the right side faces us
    hidden[..., 4] = side > 0.35
    return hidden


def occlusion_codes(points, exclude, capsules, boxes=None, image_size=None, pixels=None,
                    margin=0.03, near=0.1):
    """Occlusion code (bit flags OUT_OF_FRAME | SELF | OTHER | OBJECT) of every keypoint.

    Args:
        points: (P, K, 3) keypoints of P people (camera frame) at one frame.
        exclude: (K, C) capsules each keypoint ignores on its own body.
        capsules: (a (P, C, 3), b (P, C, 3), r (P, C)) of the same people.
        boxes: (centres (B, 3), axes (B, 3, 3), half sizes (B, 3)) in the camera frame.
        image_size: (width, height); pixels: (P, K, 2) projections, for OUT_OF_FRAME.
    Returns:
        (codes (P, K) uint8, occluder (P, K) int: index of the nearest occluding person, -1).
    """
    pts = np.asarray(points, np.float64)
    p, k = pts.shape[:2]
    a, b, r = capsules
    dist = np.linalg.norm(pts, axis=-1)                        # (P, K)
    limit = dist - margin
    codes = np.zeros((p, k), np.uint8)
    # Entry into every person's capsules: (P, K, P', C).
    flat = pts.reshape(1, p * k, 3)
    entry = ray_capsule_entry(np.broadcast_to(flat, (p, p * k, 3)), a, b, r)  # (P', PK, C)
    entry = np.moveaxis(entry.reshape(p, p, k, -1), 0, 2)     # (P, K, P', C)
    own = np.eye(p, dtype=bool)[:, None, :, None] & exclude[None, :, None, :]
    entry = np.where(own, np.inf, entry)
    blocked = entry < limit[:, :, None, None]                 # (P, K, P', C)
    by_person = blocked.any(-1)                                # (P, K, P')
    self_mask = np.eye(p, dtype=bool)[:, None, :]
    codes |= np.where((by_person & self_mask).any(-1), SELF, 0).astype(np.uint8)
    other = by_person & ~self_mask
    codes |= np.where(other.any(-1), OTHER, 0).astype(np.uint8)
    first = np.where(other, entry.min(-1), np.inf)             # (P, K, P')
    occluder = np.where(other.any(-1), first.argmin(-1), -1)
    if boxes is not None and len(boxes[0]):
        box_entry = ray_box_entry(pts.reshape(-1, 3), *boxes).reshape(p, k, -1)
        codes |= np.where((box_entry < limit[..., None]).any(-1), OBJECT, 0).astype(np.uint8)
    out = pts[..., 2] < near
    if image_size is not None and pixels is not None:
        w, h = image_size
        out |= ~((pixels[..., 0] >= 0) & (pixels[..., 0] < w) & (pixels[..., 1] >= 0)
                 & (pixels[..., 1] < h))
    codes |= np.where(out, OUT_OF_FRAME, 0).astype(np.uint8)
    return codes, occluder
