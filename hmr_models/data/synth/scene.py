"""Synthetic scenes: 1-4 people moving per real mocap in front of a camera, with occluders.

A scene is a camera (random intrinsics, height, tilt), a few boxes and pillars standing on
the floor, and people whose motion comes from the pose corpus (mirrored, sped up or slowed,
turned to any heading), placed 2-10 m away, often next to each other so that they overlap in
the image. For every person and frame it holds SMPL parameters in the world and in the camera
frame, 3D joints and COCO-17 keypoints (the body model's regressor), their pixels, amodal
boxes and per-keypoint occlusion codes (:mod:`.visibility`).

    gen = SceneGenerator(body, MotionPool.from_corpus(corpus, 'train'), SceneConfig())
    scene = gen.generate(seed=123)
"""
from dataclasses import dataclass, field, replace
import logging
import math

import numpy as np
import torch

from hmr_models.config import Config
from hmr_models.data.mocap.augment import augment
from hmr_models.data.mocap.classes import clip_sampling_weights, motion_class_of
from hmr_models.data.mocap.motion import SMPLMotion, smpl_forward_kinematics
from hmr_models.geometry.rotations_np import axis_angle_to_matrix, axis_rotation, \
    matrix_to_axis_angle

from . import visibility as vis
from .camera import Camera, CameraConfig, sample_camera

log = logging.getLogger(__name__)


@dataclass
class SceneConfig(Config):
    """Knobs of the scene generator (ranges are uniform unless said otherwise)."""

    num_frames: int = 60
    people: tuple = field(default=(1, 2, 3, 4), metadata={'help': 'possible counts'})
    people_weights: tuple = (0.2, 0.3, 0.3, 0.2)
    distance: tuple = field(default=(2.0, 10.0), metadata={
        'help': 'metres from the camera (first person of a group)'})
    fov_fraction: float = field(default=0.8, metadata={
        'help': 'anchors within this fraction of the half FOV'})
    cluster_prob: float = field(default=0.6, metadata={
        'help': 'a person stands next to an earlier one'})
    cluster_lateral: tuple = field(default=(0.3, 1.2), metadata={
        'help': 'metres sideways from that person'})
    cluster_depth: tuple = field(default=(-2.0, 2.5), metadata={
        'help': 'metres further away (+) or nearer (-)'})
    occluders: tuple = (0, 1, 2, 3)
    occluder_weights: tuple = (0.45, 0.35, 0.15, 0.05)
    pillar_prob: float = 0.35
    box_size: tuple = field(default=((0.4, 1.5), (0.5, 1.3), (0.3, 1.0)), metadata={
        'help': 'width, height, depth ranges'})
    pillar_size: tuple = field(default=((0.25, 0.6), (2.4, 3.5)), metadata={
        'help': 'side, height ranges'})
    betas_std: float = 1.0
    betas_clip: float = 2.5
    mirror_prob: float = 0.5
    speed: tuple = (0.8, 1.25)
    margin: float = field(default=0.03, metadata={
        'help': 'metres an occluder must be in front of a point'})
    camera: CameraConfig = field(default_factory=CameraConfig)


@dataclass
class Occluder:
    """An object standing on the floor: a box (or a tall pillar) turned by `yaw` about y."""

    kind: str
    centre: np.ndarray   # (3,) world, metres (box centre)
    half_size: np.ndarray  # (3,) metres
    yaw: float

    @property
    def axes(self):
        """(3, 3) the box's local axes as rows, in world coordinates."""
        return axis_rotation([0.0, 1.0, 0.0], self.yaw).T


@dataclass
class PersonTrack:
    """One person over the scene's frames (T). Camera frame unless named ``*_world``.

    Pose/translation follow smplx: camera-frame vertices = body(pose, betas) + transl.
    Occlusion codes are bit flags of :mod:`.visibility` (0 = visible).
    """

    track_id: int
    clip_id: str
    collection: str
    free: bool
    betas: np.ndarray            # (B,)
    pose_world: np.ndarray       # (T, 72)
    trans_world: np.ndarray      # (T, 3)
    pose: np.ndarray             # (T, 72)
    transl: np.ndarray           # (T, 3)
    joints: np.ndarray           # (T, 24, 3)
    keypoints3d: np.ndarray      # (T, 17, 3) COCO-17
    joints2d: np.ndarray         # (T, 24, 2) pixels
    keypoints2d: np.ndarray      # (T, 17, 2) pixels
    joint_codes: np.ndarray      # (T, 24) uint8
    keypoint_codes: np.ndarray   # (T, 17) uint8
    keypoint_occluder: np.ndarray  # (T, 17) int8: track id of the occluding person, -1
    boxes: np.ndarray            # (T, 4) amodal xyxy from the mesh (pixels, unclipped)
    scale: float                 # body size relative to an average adult
    vertices: np.ndarray = None  # (T, V, 3) float32, kept only when asked for

    @property
    def keypoint_visible(self):
        return self.keypoint_codes == 0

    @property
    def visible_fraction(self):
        """(T,) fraction of the 17 keypoints that are visible."""
        return self.keypoint_visible.mean(-1)


@dataclass
class Scene:
    camera: Camera
    occluders: list
    people: list
    fps: float
    seed: int
    body_name: str

    @property
    def num_frames(self):
        return int(self.people[0].pose.shape[0]) if self.people else 0


class MotionPool:
    """Where the people's motions come from: SMPL motions to draw windows from."""

    def __init__(self, motions, rest_joints=None, names=None, provenance=None,
                 class_weights=None):
        if not motions:
            raise ValueError('MotionPool needs at least one motion')
        self.motions = list(motions)
        self.rest_joints = rest_joints
        self.names = names or [m.name for m in self.motions]
        self.provenance = provenance or [(m.meta.get('collection', ''),
                                          bool(m.meta.get('free', False)))
                                         for m in self.motions]
        self.classes = [motion_class_of(m.meta) for m in self.motions]
        # Long clips, not too often (square root of the length); classes in the given shares.
        self.weights = clip_sampling_weights([len(m) for m in self.motions], self.classes,
                                             class_weights)

    @classmethod
    def from_corpus(cls, corpus, split='train', free_only=False, max_clips=None, seed=0,
                    class_weights=None):
        """All (or `max_clips` random) clips of a corpus split, loaded into memory.

        class_weights: {motion class: share} of the people drawn (None: by clip length only;
        see :func:`hmr_models.data.mocap.classes.parse_class_weights`).
        """
        clips = corpus.clips(split, free_only)
        if not clips:
            raise ValueError(f'corpus {corpus.root} has no {split!r} clips'
                             f'{" with a free licence" if free_only else ""}')
        if max_clips and len(clips) > max_clips:
            pick = np.random.default_rng(seed).choice(len(clips), max_clips, replace=False)
            clips = [clips[i] for i in sorted(pick)]
        return cls([corpus.load(c) for c in clips], corpus.rest_joints,
                   names=[c.clip_id for c in clips],
                   provenance=[(c.collection, c.free) for c in clips],
                   class_weights=class_weights)

    def sample(self, rng, num_frames, config=None):
        """(index, SMPLMotion of `num_frames` frames): augmented window, heading random."""
        cfg = config or SceneConfig()
        i = int(rng.choice(len(self.motions), p=self.weights))
        m = augment(self.motions[i], rng, self.rest_joints, p_mirror=cfg.mirror_prob,
                    speed=cfg.speed, yaw=True)
        if len(m) >= num_frames:
            start = int(rng.integers(0, len(m) - num_frames + 1))
            return i, m.window(start, num_frames)
        pad = num_frames - len(m)  # short clip: hold its last pose
        return i, replace(m, pose=np.concatenate([m.pose, np.repeat(m.pose[-1:], pad, 0)]),
                          trans=np.concatenate([m.trans, np.repeat(m.trans[-1:], pad, 0)]),
                          meta=dict(m.meta, padded=pad))


def world_to_camera_params(pose, trans, rest_pelvis, camera):
    """SMPL parameters of a world-frame body in the camera frame.

    Args:
        pose: (T, 72) world axis-angle; trans: (T, 3) smplx translation (world).
        rest_pelvis: (3,) the body's rest pelvis for its betas (smplx rotates about it).
        camera: Camera.
    Returns:
        (pose (T, 72), transl (T, 3)) such that body(pose, betas, transl) gives camera-frame
        vertices.
    """
    pose = np.array(pose, np.float64)
    g = axis_angle_to_matrix(pose[:, :3])
    pose[:, :3] = matrix_to_axis_angle(camera.rotation @ g)
    pelvis_c = camera.to_camera(np.asarray(trans, np.float64) + rest_pelvis)
    return pose, pelvis_c - rest_pelvis


class SceneGenerator:
    """Builds random scenes (see module doc).

    Args:
        body: BodyModel (hmr_models.body) used for meshes, joints and the COCO regressor.
        motions: MotionPool.
        config: SceneConfig.
        keep_vertices: keep camera-frame vertices on each PersonTrack (for rendering).
    """

    def __init__(self, body, motions, config=None, keep_vertices=False):
        self.body = body
        self.pool = motions
        self.config = config or SceneConfig()
        self.keep_vertices = keep_vertices
        with torch.no_grad():
            rest = body(np.zeros((1, 72), np.float32)).joints[0].numpy()
        self._rest_height = float(rest[15, 1] - 0.5 * (rest[7, 1] + rest[8, 1]))
        self._exclude = np.concatenate([vis.EXCLUDE_COCO, vis.EXCLUDE_SMPL])

    # ---- placement ------------------------------------------------------------------------

    def _anchor(self, rng, camera, anchors):
        cfg = self.config
        k = camera.intrinsics
        half_fov = math.atan2(0.5 * k.width, k.fx) * cfg.fov_fraction
        if anchors and rng.random() < cfg.cluster_prob:
            base = anchors[rng.integers(len(anchors))]
            view = base - camera.centre * [1, 0, 1]
            view = view / max(np.linalg.norm(view), 1e-9)
            side = np.array([view[2], 0.0, -view[0]])
            lat = rng.uniform(*cfg.cluster_lateral) * rng.choice([-1.0, 1.0])
            p = base + lat * side + rng.uniform(*cfg.cluster_depth) * view
            dist = np.linalg.norm((p - camera.centre)[[0, 2]])
            if dist >= cfg.distance[0]:
                return p
        dist = rng.uniform(*cfg.distance)
        ang = rng.uniform(-half_fov, half_fov)
        # Horizontal heading of the camera's optical axis.
        fwd = camera.forward
        yaw = math.atan2(fwd[0], fwd[2]) + ang
        return np.array([camera.centre[0] + dist * math.sin(yaw), 0.0,
                         camera.centre[2] + dist * math.cos(yaw)])

    def _occluders(self, rng, camera, people_xz):
        cfg = self.config
        n = int(rng.choice(cfg.occluders, p=cfg.occluder_weights))
        out = []
        for _ in range(n):
            for _attempt in range(6):
                target = people_xz[rng.integers(len(people_xz))].mean(0)
                cam = camera.centre[[0, 2]]
                frac = rng.uniform(0.45, 0.9)
                xz = cam + frac * (target - cam)
                view = (target - cam) / max(np.linalg.norm(target - cam), 1e-9)
                xz = xz + rng.uniform(-1.0, 1.0) * np.array([view[1], -view[0]])
                if rng.random() < cfg.pillar_prob:
                    side = rng.uniform(*cfg.pillar_size[0])
                    size = np.array([side, rng.uniform(*cfg.pillar_size[1]), side])
                    kind = 'pillar'
                else:
                    size = np.array([rng.uniform(*r) for r in cfg.box_size])
                    kind = 'box'
                # Keep people from walking through it, and objects apart.
                clearance = 0.5 * math.hypot(size[0], size[2]) + 0.35
                gaps = [np.linalg.norm(p - xz, axis=-1).min() for p in people_xz]
                apart = all(np.linalg.norm(o.centre[[0, 2]] - xz) >
                            clearance + np.linalg.norm(o.half_size[[0, 2]]) for o in out)
                if min(gaps) > clearance and apart and np.linalg.norm(xz - cam) > 1.0:
                    out.append(Occluder(kind, np.array([xz[0], size[1] / 2, xz[1]]),
                                        size / 2, float(rng.uniform(0, np.pi))))
                    break
        return out

    def _body(self, pose, betas, transl):
        with torch.no_grad():
            out = self.body(pose.astype(np.float32),
                            np.repeat(betas[None].astype(np.float32), len(pose), 0),
                            transl.astype(np.float32))
        return out.vertices.numpy(), out.joints.numpy()

    # ---- generation -----------------------------------------------------------------------

    def generate(self, seed=None, rng=None):
        """A random Scene (deterministic for a given seed)."""
        cfg = self.config
        rng = rng if rng is not None else np.random.default_rng(seed)
        camera = sample_camera(rng, cfg.camera)
        t = cfg.num_frames
        nb = self.body.num_betas
        num_people = int(rng.choice(cfg.people, p=cfg.people_weights))
        anchors, people = [], []
        for pid in range(num_people):
            idx, motion = self.pool.sample(rng, t, cfg)
            anchor = self._anchor(rng, camera, anchors)
            anchors.append(anchor)
            rest = self.pool.rest_joints
            pelvis = motion.trans.astype(np.float64) + (rest[0] if rest is not None else 0.0)
            trans_w = motion.trans + (anchor - pelvis.mean(0) * [1, 0, 1])
            betas = np.clip(rng.normal(0.0, cfg.betas_std, nb), -cfg.betas_clip,
                            cfg.betas_clip)
            people.append(self._track(pid, camera, idx, motion, betas, trans_w))
        people_xz = [p.joints[:, 0] @ camera.rotation + camera.centre for p in people]
        occluders = self._occluders(rng, camera, [x[:, [0, 2]] for x in people_xz]) \
            if people else []
        self._visibility(camera, occluders, people)
        if not self.keep_vertices:
            for p in people:
                p.vertices = None
        return Scene(camera, occluders, people, fps=float(self.pool.motions[0].fps),
                     seed=-1 if seed is None else int(seed), body_name=self.body.name)

    def _track(self, pid, camera, idx, motion, betas, trans_w):
        """Pose one person in the camera frame, feet on the floor, and project it."""
        with torch.no_grad():
            rest = self.body(np.zeros((1, 72), np.float32), betas[None].astype(np.float32))
        rest_j = rest.joints[0].numpy().astype(np.float64)
        trans_w = np.array(trans_w, np.float64)
        pose_c, transl_c = world_to_camera_params(motion.pose, trans_w, rest_j[0], camera)
        verts, joints = self._body(pose_c, betas, transl_c)
        # Feet on the floor: the lowest vertex touches y = 0 in the lowest 2 % of frames.
        # A vertical world shift is a rigid shift in the camera frame: no second forward.
        world_y = verts @ camera.rotation[:, 1] + camera.centre[1]
        lift = -np.percentile(world_y.min(-1), 2)
        trans_w[:, 1] += lift
        step = (camera.rotation[:, 1] * lift).astype(np.float32)
        transl_c = transl_c + step
        verts = verts + step
        joints = joints + step
        coco = self.body.regress(verts, 'coco17')
        j2d, _ = camera.project(joints)
        k2d, _ = camera.project(coco)
        v2d, vz = camera.project(verts)
        front = vz > 0.1
        big = np.where(front[..., None], v2d, np.nan)
        with np.errstate(all='ignore'):
            boxes = np.concatenate([np.nanmin(big, 1), np.nanmax(big, 1)], -1)
        height = float(rest_j[15, 1] - 0.5 * (rest_j[7, 1] + rest_j[8, 1]))
        collection, free = self.pool.provenance[idx]
        tt = len(pose_c)
        return PersonTrack(
            track_id=pid, clip_id=self.pool.names[idx], collection=collection, free=free,
            betas=betas.astype(np.float32), pose_world=motion.pose.copy(),
            trans_world=trans_w.astype(np.float32), pose=pose_c.astype(np.float32),
            transl=transl_c.astype(np.float32), joints=joints, keypoints3d=coco,
            joints2d=j2d.astype(np.float32), keypoints2d=k2d.astype(np.float32),
            joint_codes=np.zeros((tt, 24), np.uint8),
            keypoint_codes=np.zeros((tt, 17), np.uint8),
            keypoint_occluder=np.full((tt, 17), -1, np.int8), boxes=boxes.astype(np.float32),
            scale=height / self._rest_height, vertices=verts)

    def _visibility(self, camera, occluders, people):
        if not people:
            return
        k = camera.intrinsics
        boxes = None
        if occluders:
            boxes = (np.stack([camera.to_camera(o.centre) for o in occluders]),
                     np.stack([o.axes @ camera.rotation.T for o in occluders]),
                     np.stack([o.half_size for o in occluders]))
        scale = np.array([p.scale for p in people])
        for f in range(people[0].pose.shape[0]):
            joints = np.stack([p.joints[f] for p in people])                   # (P, 24, 3)
            pts = np.concatenate([np.stack([p.keypoints3d[f] for p in people]), joints], 1)
            pix = np.concatenate([np.stack([p.keypoints2d[f] for p in people]),
                                  np.stack([p.joints2d[f] for p in people])], 1)
            caps = vis.body_capsules(joints, scale)
            codes, occluder = vis.occlusion_codes(
                pts, self._exclude, caps, boxes, (k.width, k.height), pix,
                margin=self.config.margin)
            _, g_rot = smpl_forward_kinematics(np.stack([p.pose[f] for p in people]),
                                               np.zeros((len(people), 3)),
                                               np.zeros((24, 3)))
            hidden = vis.face_hidden(g_rot[:, 15], joints[:, 15], pts[:, :5])
            codes[:, :5] |= np.where(hidden, vis.SELF, 0).astype(np.uint8)
            for i, p in enumerate(people):
                p.keypoint_codes[f] = codes[i, :17]
                p.joint_codes[f] = codes[i, 17:]
                p.keypoint_occluder[f] = occluder[i, :17]


def motion_from_arrays(pose, trans, fps=30.0, name='motion', collection='', free=True):
    """Wrap arrays as an SMPLMotion with provenance (handy for tests and custom pools)."""
    return SMPLMotion(pose=pose, trans=trans, fps=fps, name=name,
                      meta={'collection': collection, 'free': free})
