"""Make a body estimate agree with the confident 2D keypoints while it stays a plausible body.

    refiner = KeypointRefiner(body, RefineConfig())
    pose, betas, transl = refiner.refine(pose, betas, transl, keypoints, scores, boxes, camera)

A network's estimate (the keypoint lifter + image corrections, or DiffMesh's smoothed one) is
the anchor; a few batched Levenberg-Marquardt steps (Gauss-Newton with damping) then move the
24 joint rotations, the translation and the shape so that the body's COCO-17 keypoints project
onto the front-end's keypoints, minimising

    sum_k c_k g_k |pi(X_k) - x_k|^2 / (h sigma_kp)^2                (confident keypoints only)
  + sum_i |phi_i|^2 / sigma_i^2                                     (rotation away from the anchor)
  + sum_i |phi_i - psi_i|^2 / (sigma_m^2 dt)          (away from the frame before's fit, tracked)
  + |beta - beta_0|^2 / sigma_beta^2 + (t_z - t_z0)^2 / (sigma_z t_z0)^2
  + joint limits                                                    (knees, elbows, hips, spine)
  + rho(|g x R_root v|) / sigma_up^2                    (upright people, where up g is known)

where x_k are keypoints scored c_k >= refine_min_score (weaker ones do not pull at all), h is the
person's box height, g_k = d^2 / (d^2 + |pi(X_k) - x_k|^2 / h^2) makes the data term
Geman-McClure (a keypoint much further off than d = refine_robust_distance, e.g. grabbed from a
neighbour, stops pulling), R_i = R_i0 exp(phi_i) (phi = 0 is the network's estimate, so the prior
is the geodesic distance to it; the root's turn about its own up axis, which way the body faces,
has a looser sigma of its own), and the camera is fixed (calibrated, or the CLIFF focal length
from the image diagonal). Where the camera's up direction g is known (CameraIntrinsics.up, from
the robot's TF), v is the estimate's torso (hips -> shoulders) in its pelvis frame and rho is
Geman-McClure with scale refine_upright_robust: a person whose estimate leans less than
refine_upright_max from vertical is pulled upright, as people mostly stand, walk and sit
upright and one view's keypoints do not show a lean towards or away from the camera; leaning
further (bending, lying), the estimate keeps its lean.

Before the steps, an estimate whose torso (both shoulders and both hips) is the wrong way round
against the keypoints faces the wrong way (the depth ambiguity: a body facing away projects
nearly as its mirror image facing the camera) and is mirrored in depth, as the keypoints' left
and right are the more reliable of the two on real footage (docs/RESULTS.md); then left/right
groups of keypoints that the estimate says are swapped are swapped back. A tracked person whose
estimate turned more than 60 degrees since the frame before (the depth ambiguity again: a torso
seen end-on flips between lying towards and away from the camera) is also fitted from that
frame's orientation, which is kept unless its cost is refine_continuity times the turned fit's
or more: a torso can flip in one frame's estimate, a body cannot. The same tracked person's
fitted pose of the frame before, dt seconds ago, is a second prior (psi_i: the phi that gives
it; sigma_m = refine_motion_sigma, a random walk): what one view leaves open, a limb towards or
away from the camera, holds from frame to frame instead of following the network's guess,
which changes from frame to frame. Keypoints follow the
body's own COCO regressor exactly through forward kinematics (hmr_models.fitting.skeleton),
with closed-form Jacobians, so one iteration is a few small numpy operations batched over
every person of the frame.

The defaults are a compromise measured on two benchmarks (README): fitting the keypoints
closely (small sigma_kp) brings the mesh onto real people's keypoints, but on SynthOcc, whose
simulated detector is as noisy as MoveNet measured against a multi-view reference, it fits the
noise and loses 3D accuracy that the network had.
"""
from dataclasses import dataclass, field
import logging

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs

from hmr_models.config import Config
from hmr_models.geometry.rotations_np import rotation_angle
from hmr_models.skeleton import flip_permutation, SMPL24_NAMES

from . import so3
from .floor import FloorContact, scale_shape_direction
from .skeleton import KeypointSkeleton

log = logging.getLogger(__name__)

_J = {n: i for i, n in enumerate(SMPL24_NAMES)}
_SMPL24_FLIP = flip_permutation(SMPL24_NAMES)
# hands and feet: no COCO-17 keypoint sees them, so they stay as the network estimated them
_UNSEEN = [_J[j] for j in ('left_foot', 'right_foot', 'left_hand', 'right_hand')]
_TURN_ABOUT_Y = np.diag([-1.0, 1.0, -1.0])    # half a turn about the camera's vertical axis


def mirror_in_depth(pose):
    """(N, 72) axis-angle poses turned to face the other way with the same silhouette.

    One view's depth ambiguity: a body facing away, left shoulder at image left, projects
    almost as one facing the camera with its left shoulder at image right. The result is the
    body mirrored through the image plane at the root (depth offsets reversed) and relabelled,
    so its left joints project where the right ones did: the left/right mirror (x -> -x: left
    and right joints swapped, each rotation's y and z negated) turned half a turn about the
    camera's vertical axis. The root joint stays, so the translation is unchanged.
    """
    p = np.asarray(pose, np.float64).reshape(-1, 24, 3)[:, _SMPL24_FLIP] * [1.0, -1.0, -1.0]
    p[:, 0] = so3.log(_TURN_ABOUT_Y @ so3.exp(p[:, 0]))
    return p.reshape(-1, 72)


# Soft limits on the local axis-angle (x, y, z) of SMPL joints, radians (SMPL's rest T-pose:
# knee flexion is +x, left elbow flexion -y, right elbow +y, hip flexion -x). Outside the range
# a quadratic penalty applies (sigma refine_limit_sigma): hinges keep to their hinge, nothing
# bends backwards. Knees and elbows must bend a little (0.08 rad): a straight hinge is then
# pushed towards flexion, which breaks the front/back symmetry of a foreshortened limb seen
# from the front the way real joints do (they do not hyperextend).
JOINT_LIMITS = {
    'left_knee': ((0.08, 2.7), (-0.35, 0.35), (-0.2, 0.2)),
    'right_knee': ((0.08, 2.7), (-0.35, 0.35), (-0.2, 0.2)),
    'left_elbow': ((-1.6, 1.6), (-2.7, -0.08), (-0.3, 0.3)),
    'right_elbow': ((-1.6, 1.6), (0.08, 2.7), (-0.3, 0.3)),
    'left_hip': ((-2.7, 0.5), (-1.0, 1.0), (-0.5, 1.3)),
    'right_hip': ((-2.7, 0.5), (-1.0, 1.0), (-1.3, 0.5)),
    'spine1': ((-0.4, 1.0), (-0.6, 0.6), (-0.4, 0.4)),
    'spine2': ((-0.3, 0.6), (-0.4, 0.4), (-0.3, 0.3)),
    'spine3': ((-0.3, 0.6), (-0.4, 0.4), (-0.3, 0.3)),
}


# Where a knee, hip or elbow of the estimate is nearly straight but its limb looks shorter in
# the keypoints than in the estimate, the fit starts from this bend (local axis-angle) instead.
# A straight limb lying in the image plane is a saddle of the keypoint error: bending it towards
# or away from the camera changes its 2D length only to second order, so Gauss-Newton cannot
# see that a short 2D thigh (a seated person seen from the front) needs the hip flexed. From
# the bent start the first-order change is there; where the keypoints say straight, the fit
# and the prior (still anchored at the estimate) straighten it.
START_BEND = {
    'left_hip': (-0.35, 0.0, 0.0), 'right_hip': (-0.35, 0.0, 0.0),
    'left_knee': (0.45, 0.0, 0.0), 'right_knee': (0.45, 0.0, 0.0),
    'left_elbow': (0.0, -0.45, 0.0), 'right_elbow': (0.0, 0.45, 0.0),
}
# The COCO-17 keypoints at both ends of the limb each bend moves, and the ratio of their 2D
# distance to the estimate's below which the limb counts as foreshortened.
# A knee bends for a short thigh too (seated, seen from the front: the shank stays upright).
LIMB_KEYPOINTS = {'left_hip': ((11, 13),), 'right_hip': ((12, 14),),
                  'left_knee': ((13, 15), (11, 13)), 'right_knee': ((14, 16), (12, 14)),
                  'left_elbow': ((7, 9),), 'right_elbow': ((8, 10),)}
FORESHORTENED = 0.75


# Left/right keypoint groups (COCO-17) whose swap is undone when the estimate contradicts it,
# and how much closer the swapped keypoints must be.
SWAP_GROUPS = (((5, 7, 9), (6, 8, 10)), ((11, 13, 15), (12, 14, 16)), ((1, 3), (2, 4)))
SWAP_RATIO = 0.6
SWAP_MIN = 0.05      # ... and the reported ones at least this far off (fraction of box height)
# COCO shoulders and hips, and the same with left and right swapped: the whole body's left/right
# (the same two thresholds decide whether the estimate faces the wrong way).
TORSO, TORSO_SWAPPED = [5, 6, 11, 12], [6, 5, 12, 11]
TURN_JUMP = np.radians(60.0)   # a torso turned this much in one frame: refitted (continuity)
# The motion prior (refine_motion_sigma) holds for a frame before at most this old (seconds);
# a shorter gap than the shortest counts as the shortest (a burst of stamps close together).
MOTION_MAX_GAP, MOTION_MIN_GAP = 0.5, 1.0 / 120.0
FLOOR_EDGE = 0.02   # keypoints this close to the image's bottom (fraction) do not touch a floor
UPRIGHT_FADE = 0.25  # radians past refine_upright_max over which the upright prior fades out


@dataclass
class RefineConfig(Config):
    """Keypoint refinement of the meshes. Same names as the hmr_node ROS parameters."""

    # 2: real footage (eval_real.py) and SynthOcc by class (eval_synthocc_sequences.py) the
    # same as with 4 to within 0.5 mm (1.2 mm on lying people), at half the cost (2026-12-04)
    refine_iterations: int = field(default=2, metadata={
        'help': 'Levenberg-Marquardt steps that fit each mesh to its confident 2D keypoints '
                '(0 = off: the networks alone)'})
    refine_smoothed: bool = field(default=True, metadata={
        'help': "also fit DiffMesh's newest frame to the current keypoints (~/persons_smoothed "
                'stays on the body)'})
    # 2: real footage's smoothed stream the same as with 4 (PA-MPJPE 112.3 / 72.5 / 108.7 mm
    # against 112.5 / 72.5 / 108.9, 2D error equal; eval_real.py --variant, 2026-12-04), 1 worse
    refine_smoothed_iterations: int = field(default=2, metadata={
        'help': "refine_iterations for DiffMesh's newest frame (it starts from the smoothed "
                'per-frame fits, so fewer steps may do; 0 = refine_smoothed false)'})
    # 0.4 and a root sigma of 0.3 (were 0.5 and 0.15): real footage better on every figure
    # (eval_real.py: PA-MPJPE 87.6 / 104.3 mm against 89.1 / 106.7 per frame, smoothed 87.0 /
    # 100.5 against 88.2 / 103.8, less jitter), SynthOcc by class within 1 mm (docs/RESULTS.md)
    refine_min_score: float = field(default=0.4, metadata={
        'help': 'keypoints scored below this do not pull the mesh'})
    # 0.04 (0.1 -> 0.06 -> 0.04): on real footage every figure is better (eval_real.py,
    # 2026-12-05: PA-MPJPE 85.0 / 90.0 mm against 86.5 / 93.4 per frame, 2D error 1.2-1.7 %
    # against 1.4-2.1 %; the mesh is still further from the 4-view reference than MoveNet's
    # keypoints are); SynthOcc's simulated detections lose 3.5 mm (docs/RESULTS.md)
    refine_keypoint_sigma: float = field(default=0.04, metadata={
        'help': 'keypoint distance (fraction of the box height) that costs as much as turning '
                'a joint by refine_pose_sigma: smaller = closer to the keypoints'})
    # 0.05 (0.1 -> 0.08 -> 0.05, with the per-frame 0.04): the smoothed stream stays within
    # 1.12x of the per-frame one's 2D error on every clip (0.06: 1.19 on vtest) and is closer to
    # the real body (PA-MPJPE 81.2 / 85.7 against 82.8 / 88.8 mm); its jitter grows (ACC-ERR
    # +5 % on real footage, +35 % on SynthOcc's simulated detections; docs/RESULTS.md)
    refine_smoothed_keypoint_sigma: float = field(default=0.05, metadata={
        'help': "refine_keypoint_sigma for DiffMesh's newest frame (larger: the smoothed "
                "stream follows the person but takes less of each frame's keypoint noise)"})
    refine_robust_distance: float = field(default=0.1, metadata={
        'help': 'keypoints much further off than this (fraction of the box height) stop '
                'pulling (a swapped or grabbed keypoint)'})
    refine_pose_sigma: float = field(default=0.35, metadata={
        'help': "radians a joint may turn away from the network's estimate at prior cost 1"})
    refine_root_sigma: float = field(default=0.3, metadata={
        'help': "same for the global orientation's lean (about the pelvis's left-right and "
                "front-back axes), radians"})
    refine_heading_sigma: float = field(default=1.0, metadata={
        'help': "same for the global orientation's turn about the pelvis's own up axis (which "
                "way the body faces), radians: one view's keypoints settle it better than the "
                "network on real footage (docs/RESULTS.md)"})
    # Used only where the camera's up direction is known (CameraIntrinsics.up; the node's
    # up_frame on /tf_static). Torsos of the motion corpus lean 5.8 deg from vertical (median)
    # standing, 6.5 sitting, 5.7 crouching; lying and bending people are past
    # refine_upright_max. 0.2 with refine_upright_robust 0.2 (2026-12-05, the camera's up
    # given): SynthOcc per-frame MPJPE 80.2 -> 77.3 mm (PA-MPJPE 56.2 -> 56.1), every motion
    # class 0.5-4 mm better; real footage MPJPE -0.7..-3.2 mm, PA-MPJPE within 0.6 mm; 0.12
    # without the robust cap cost 2-13 mm on jumping, sitting and Pose2Sim (docs/RESULTS.md)
    refine_upright_sigma: float = field(default=0.2, metadata={
        'help': "radians an upright person's torso (hips to shoulders) may lean from gravity's "
                "vertical at prior cost 1, where the camera's tilt is known (hmr_node: "
                'up_frame on /tf_static; 0 = off)'})
    refine_upright_max: float = field(default=0.6, metadata={
        'help': "the upright prior holds for estimates whose torso leans less than this from "
                'vertical (radians) and fades out over the next 0.25 (bending, lying people '
                'keep their lean)'})
    refine_upright_robust: float = field(default=0.2, metadata={
        'help': "leans from vertical much beyond this (radians; the sine of the angle) are "
                'pulled upright less and less (Geman-McClure; 0 = quadratic)'})
    # Used only where the floor is known (CameraIntrinsics.floor; the node's floor_frame on
    # /tf_static). The clearance is the lowest COCO keypoint's height over the floor: the open
    # body's ankle keypoint is 9.4 cm up on the corpus's generated standing, sitting, kneeling
    # and lying people (median; 9.0 for the lowest of any body keypoint lying).
    refine_floor_sigma: float = field(default=0.05, metadata={
        'help': "metres a person's lowest keypoint may be off its usual height over a known "
                'floor at prior cost 1 (hmr_node: floor_frame on /tf_static; 0 = off): sets '
                "each person's size and distance"})
    refine_floor_clearance: float = field(default=0.09, metadata={
        'help': "the lowest body keypoint's usual height over the floor, metres (the ankles "
                'standing, the hips sitting on the ground)'})
    refine_floor_robust: float = field(default=0.15, metadata={
        'help': 'a lowest keypoint much higher than this over the floor (metres: on a box, '
                'stairs, in the air) stops pulling the person towards the floor'})
    refine_size_sigma: float = field(default=0.08, metadata={
        'help': "people's size spread around the body model's mean shape (a fraction), "
                'against which the floor is weighed'})
    refine_shape_sigma: float = field(default=0.0, metadata={
        'help': "betas away from the network's, at prior cost 1 (0 = keep the network's shape)"})
    refine_depth_sigma: float = field(default=0.1, metadata={
        'help': "depth change at prior cost 1, fraction of the network's depth"})
    refine_limit_sigma: float = field(default=0.05, metadata={
        'help': 'radians beyond a joint limit at penalty 1'})
    refine_fix_swaps: bool = field(default=True, metadata={
        'help': 'undo left/right swaps of keypoint groups that the estimate contradicts'})
    refine_fix_facing: bool = field(default=True, metadata={
        'help': "an estimate whose torso faces the other way than the keypoints' left and right "
                'say (shoulders and hips confident) is mirrored in depth before the fit'})
    refine_continuity: float = field(default=1.5, metadata={
        'help': "a tracked person whose estimate turned more than 60 degrees since the frame "
                "before is also fitted from that frame's orientation, which is kept when its "
                'cost is under this multiple of the turned fit\'s (0 = off): one view\'s depth '
                'ambiguity flips a torso for a frame, a body cannot'})
    # 1.0 (was off): Pose2Sim PA-MPJPE per frame 83.4 -> 76.7 (multi), 87.5 -> 84.5 (single),
    # and at a quarter of its 60 fps 83.4 -> 75.9, 88.2 -> 82.6; 0.8 and 1.0 alike on real
    # footage, 1.0 better on SynthOcc with MoveNet's errors (docs/RESULTS.md)
    refine_motion_sigma: float = field(default=1.0, metadata={
        'help': "radians a tracked person's joint may turn in the second after the frame "
                'before, at prior cost 1 (0 = off); over a time t, this x sqrt(t) (a random '
                "walk): the fit is also drawn to that frame's fitted pose, which holds what "
                "one view leaves open (a limb towards or away from the camera) where the "
                "network's guess changes from frame to frame"})
    refine_min_keypoints: int = field(default=4, metadata={
        'help': 'people with fewer confident keypoints keep the network estimate'})

    def validate(self):
        for name in ('refine_iterations', 'refine_smoothed_iterations'):
            value = getattr(self, name)
            if isinstance(value, bool) or value < 0:
                raise ValueError(f'{name} must be >= 0, got {value}')
        if not 0.0 <= self.refine_min_score <= 1.0:
            raise ValueError(f'refine_min_score must be in [0, 1], got {self.refine_min_score}')
        for name in ('refine_keypoint_sigma', 'refine_smoothed_keypoint_sigma',
                     'refine_robust_distance', 'refine_pose_sigma',
                     'refine_root_sigma', 'refine_heading_sigma', 'refine_depth_sigma',
                     'refine_limit_sigma', 'refine_size_sigma'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if self.refine_upright_sigma < 0 or self.refine_upright_robust < 0 or \
                not 0 < self.refine_upright_max < np.pi:
            raise ValueError('refine_upright_sigma and refine_upright_robust must be >= 0 and '
                             f'refine_upright_max in (0, pi), got {self.refine_upright_sigma}, '
                             f'{self.refine_upright_robust}, {self.refine_upright_max}')
        for name in ('refine_floor_sigma', 'refine_floor_clearance', 'refine_floor_robust',
                     'refine_motion_sigma'):
            if not getattr(self, name) >= 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        if not self.refine_continuity >= 0:
            raise ValueError(f'refine_continuity must be >= 0, got {self.refine_continuity}')
        if self.refine_shape_sigma < 0:
            raise ValueError(f'refine_shape_sigma must be >= 0, got {self.refine_shape_sigma}')

    @property
    def enabled(self):
        return self.refine_iterations > 0


@dataclass
class RefineResult:
    """Refined parameters (float32) and the keypoint fit before and after.

    error_before / error_after: median error / box height over the confident keypoints of each
    person, NaN for people not refined. The result, not the refiner, carries everything a call
    found: the mesh and temporal stages fit on two threads with one refiner.
    """

    pose: np.ndarray
    betas: np.ndarray
    translation: np.ndarray
    error_before: np.ndarray
    error_after: np.ndarray
    refined: np.ndarray        # (N,) bool: people the refinement changed
    scale: np.ndarray          # (N,) log size factor each person was fitted with (NaN: none)
    mirrored: int = 0          # estimates turned to face the way their keypoints say
    kept_turn: int = 0         # estimates turned back to their previous frame's orientation


def _limit_table():
    joints, lo, hi = [], [], []
    for name, ranges in JOINT_LIMITS.items():
        joints.append(_J[name])
        lo.append([r[0] for r in ranges])
        hi.append([r[1] for r in ranges])
    return np.array(joints), np.array(lo, np.float64), np.array(hi, np.float64)


class KeypointRefiner:
    """Batched keypoint fitting of SMPL estimates (see module docstring)."""

    def __init__(self, body, config=None):
        self.config = config or RefineConfig()
        self.skeleton = KeypointSkeleton.from_body(body, 'coco17')
        self.num_betas = self.skeleton.num_betas
        smpl = body.smpl
        t = lambda x: x.detach().cpu().numpy()  # noqa: E731
        self.floor = FloorContact(self.skeleton, scale_shape_direction(
            t(smpl.v_template), t(smpl.shapedirs), t(smpl.J_regressor)[0]), self.config)
        self.limit_joints, self.limit_lo, self.limit_hi = _limit_table()

    # ------------------------------------------------------------------ public
    def refine(self, pose, betas, translation, keypoints, scores, boxes, camera,
               iterations=None, keypoint_sigma=None, size=None, previous_pose=None,
               elapsed=None):
        """Fit N estimates to their keypoints; see RefineResult.

        Args:
            pose (N, 72) axis-angle, betas (N, B'), translation (N, 3): the anchor (camera frame).
            keypoints (N, 17, 2) COCO-17 pixels (NaN where missing), scores (N, 17).
            boxes (N, 4) xyxy pixels (their height sets the keypoint scale).
            camera: CameraIntrinsics of the image.
            iterations, keypoint_sigma: override refine_iterations / refine_keypoint_sigma.
            size (N,), optional: known log size factors (e.g. a track's; NaN: from the floor,
                where camera.floor is known). The result's `scale` then holds each person's,
                NaN where neither says anything.
            previous_pose (N, 24, 3, 3), optional: each person's fitted joint rotations in the
                frame before (the global orientation in the camera frame; NaN: none); see
                refine_continuity and refine_motion_sigma.
            elapsed (N,), optional: seconds since that frame (NaN: not known, and the motion
                prior does not hold).
        """
        cfg = self.config
        iterations = cfg.refine_iterations if iterations is None else int(iterations)
        pose = np.asarray(pose, np.float64).reshape(-1, 24, 3)
        n = pose.shape[0]
        betas_in = np.asarray(betas, np.float64).reshape(n, np.shape(betas)[-1])
        nb = min(self.num_betas, betas_in.shape[1])
        beta0 = np.zeros((n, self.num_betas))
        beta0[:, :nb] = betas_in[:, :nb]
        t_0 = np.asarray(translation, np.float64).reshape(n, 3)
        if previous_pose is not None:
            previous_pose = np.asarray(previous_pose, np.float64)
        obs, weight, scale = self._observations(keypoints, scores, boxes)
        mirrored = 0
        floor = bool(n) and self.floor.enabled(camera)
        if (cfg.refine_fix_facing or cfg.refine_fix_swaps or floor) and n:
            # the estimate's keypoints, posed once for both checks and the floor
            kp3 = self.skeleton.pose(so3.exp(pose), beta0, t_0).keypoints
            proj = _project(kp3, camera)[0]
        if cfg.refine_fix_facing and n:
            turn = self._facing_wrong(proj, obs, weight, scale)
            if turn.any():
                pose = pose.copy()
                pose[turn] = mirror_in_depth(pose[turn]).reshape(-1, 24, 3)
                kp3[turn] = self.skeleton.pose(so3.exp(pose[turn]), beta0[turn],
                                               t_0[turn]).keypoints
                proj[turn] = _project(kp3[turn], camera)[0]
            mirrored = int(turn.sum())
        if cfg.refine_fix_swaps and n:
            obs, weight = self._unswap(proj, obs, weight, scale)
        # sized first (by the floor or as given), so that the steps fit the keypoints with it
        ell = np.full(n, np.nan) if size is None else np.asarray(size, np.float64).reshape(n)
        ask = np.isnan(ell) & (t_0[:, 2] > 0.1)         # (people behind the camera: never)
        if floor and ask.any():
            # a keypoint on the image's bottom edge may be a foot cut off below it
            inside = obs[ask, :, 1] < (1.0 - FLOOR_EDGE) * camera.height
            found, used = self.floor.log_scale(kp3[ask], (weight[ask] > 0) & inside, camera)
            ell[ask] = np.where(used, found, np.nan)
        if np.isfinite(ell).any():
            beta0, t_0 = self.floor.rescale(beta0, t_0, np.nan_to_num(ell))
        enough = (weight > 0).sum(1) >= cfg.refine_min_keypoints
        enough &= t_0[:, 2] > 0.1
        out_pose = pose.reshape(n, 72).copy()
        out_betas, out_t = beta0.copy(), t_0.copy()
        before, after = np.full(n, np.nan), np.full(n, np.nan)
        kept_turn = 0
        if n and enough.any() and iterations > 0:
            idx = np.flatnonzero(enough)
            sigma = cfg.refine_keypoint_sigma if keypoint_sigma is None else keypoint_sigma
            # people turned far since the frame before are also fitted from that orientation
            turned = self._turned(pose[idx], previous_pose, idx)
            alt = idx[turned]
            rows = np.concatenate([idx, alt])
            start = pose[rows].copy()
            if alt.size:
                start[idx.size:, 0] = so3.log(previous_pose[alt, 0])
            motion = self._motion(previous_pose, elapsed, rows)
            state = self._solve(start, beta0[rows], t_0[rows], obs[rows], weight[rows],
                                scale[rows], camera, iterations, float(sigma), motion)
            pick = np.arange(idx.size)
            if alt.size:
                back = state['cost'][idx.size:] < cfg.refine_continuity * \
                    state['cost'][:idx.size][turned]
                pick[np.flatnonzero(turned)[back]] = idx.size + np.flatnonzero(back)
                kept_turn = int(back.sum())
            out_pose[idx] = state['pose'][pick].reshape(-1, 72)
            out_betas[idx], out_t[idx] = state['betas'][pick], state['transl'][pick]
            before[idx] = state['error_before'][:idx.size]
            after[idx] = state['error_after'][pick]
        out_b = np.zeros_like(betas_in)
        out_b[:, :nb] = out_betas[:, :nb]
        if betas_in.shape[1] > nb:
            out_b[:, nb:] = betas_in[:, nb:]
        f32 = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
        return RefineResult(f32(out_pose), f32(out_b), f32(out_t), before, after,
                            enough & (iterations > 0), ell, mirrored, kept_turn)

    def _turned(self, pose, previous_pose, idx):
        """(M,) bool: which estimates turned more than TURN_JUMP since the frame before.

        pose (M, 24, 3): the estimates of the people `idx`; previous_pose (N, 24, 3, 3):
        every person's fitted pose in the frame before (NaN: none). All False when
        refine_continuity is off.
        """
        if previous_pose is None or self.config.refine_continuity == 0:
            return np.zeros(len(idx), bool)
        prev = previous_pose[idx, 0]
        has = np.isfinite(prev).all((1, 2))
        turn = np.zeros(len(idx), bool)
        if has.any():
            rel = np.swapaxes(prev[has], 1, 2) @ so3.exp(pose[has, 0])
            turn[has] = rotation_angle(rel) > TURN_JUMP
        return turn

    def _motion(self, previous_pose, elapsed, rows):
        """The motion prior's pose (M, 24, 3, 3) and inverse variances (M,) for `rows`, or None.

        A person's prior holds where their frame before is known and at most MOTION_MAX_GAP
        old: sigma = refine_motion_sigma x sqrt(the seconds since, at least MOTION_MIN_GAP).
        """
        rate = self.config.refine_motion_sigma
        if previous_pose is None or elapsed is None or rate == 0:
            return None
        prev = previous_pose[rows]
        dt = np.asarray(elapsed, np.float64).reshape(-1)[rows]
        ok = np.isfinite(prev).all((1, 2, 3)) & (dt >= 0) & (dt <= MOTION_MAX_GAP)  # NaN: no
        if not ok.any():
            return None
        inv = np.where(ok, 1.0 / (rate ** 2 * np.maximum(np.nan_to_num(dt), MOTION_MIN_GAP)),
                       0.0)
        return np.where(ok[:, None, None, None], prev, np.eye(3)), inv

    def project(self, pose, betas, translation, camera):
        """(N, 17, 2) pixels of the body's COCO-17 keypoints (the fast skeleton)."""
        pose = np.asarray(pose, np.float64).reshape(-1, 24, 3)
        b = np.zeros((pose.shape[0], self.num_betas))
        bi = np.asarray(betas, np.float64).reshape(pose.shape[0], -1)
        b[:, :min(bi.shape[1], self.num_betas)] = bi[:, :self.num_betas]
        posed = self.skeleton.pose(so3.exp(pose), b, np.asarray(translation, np.float64))
        return _project(posed.keypoints, camera)[0]

    def keypoint_error(self, pose, betas, translation, keypoints, scores, boxes, camera):
        """(N,) median distance / box height between projected and confident keypoints."""
        obs, weight, scale = self._observations(keypoints, scores, boxes)
        proj = self.project(pose, betas, translation, camera)
        return _masked_median(np.linalg.norm(proj - obs, axis=-1) / scale[:, None], weight > 0)

    # ------------------------------------------------------------------ internals
    def _observations(self, keypoints, scores, boxes):
        kp = np.asarray(keypoints, np.float64)
        sc = np.nan_to_num(np.asarray(scores, np.float64))
        ok = np.isfinite(kp).all(-1) & (sc >= self.config.refine_min_score)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scale = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        return np.nan_to_num(kp), np.where(ok, sc, 0.0), scale

    @staticmethod
    def _facing_wrong(proj, obs, weight, scale):
        """(N,) bool: estimates whose torso faces the other way than the keypoints say.

        Against Pose2Sim's multi-view reference (where shoulders and hips were confident and
        the torso clearly faced towards or away from the camera), MoveNet's torso left/right
        was wrong in 3 of 1,032 person-frames and the per-frame mesh's facing in 58, the
        keypoints right in 55 of those: so where they disagree, the keypoints win (the estimate
        is mirrored in depth).
        """
        a, b = TORSO, TORSO_SWAPPED
        seen = (weight[:, a] > 0).all(1)
        keep = np.linalg.norm(proj[:, a] - obs[:, a], axis=-1).mean(1) / scale
        swap = np.linalg.norm(proj[:, a] - obs[:, b], axis=-1).mean(1) / scale
        return seen & (swap < SWAP_RATIO * keep) & (keep > SWAP_MIN)

    @staticmethod
    def _unswap(proj, obs, weight, scale):
        """Undo left/right swaps of the keypoints that the estimate contradicts.

        A detector often swaps left and right (a person seen from behind, one limb crossing
        another). Fitting swapped keypoints twists the body; so for each left/right group
        (arms with shoulders, legs with hips, face) whose swapped keypoints lie much closer to
        the estimate's projection (`proj`, (N, 17, 2)) than the reported ones, the swap is
        undone first.
        """
        obs, weight = obs.copy(), weight.copy()
        for left, right in SWAP_GROUPS:
            a, b = list(left) + list(right), list(right) + list(left)
            both = (weight[:, a] > 0) & (weight[:, b] > 0)
            keep = np.linalg.norm(proj[:, a] - obs[:, a], axis=-1) / scale[:, None]
            swap = np.linalg.norm(proj[:, a] - obs[:, b], axis=-1) / scale[:, None]
            count = np.maximum(both.sum(1), 1)
            keep_m = np.where(both, keep, 0.0).sum(1) / count
            swap_m = np.where(both, swap, 0.0).sum(1) / count
            flip = (both.sum(1) >= 2) & (swap_m < SWAP_RATIO * keep_m) & (keep_m > SWAP_MIN)
            if flip.any():
                obs[np.ix_(flip, a)] = obs[np.ix_(flip, b)]
                weight[np.ix_(flip, a)] = weight[np.ix_(flip, b)]
        return obs, weight

    def _priors(self, n, rot0=None, motion=None):
        """Inverse variances of phi (N, 72) and betas (N, B), and the motion prior or None.

        The motion prior (`motion` from _motion, for estimates `rot0` (N, 24, 3, 3)) is
        (inverse variances (N, 72), the phi (N, 72) that gives the frame before's pose).
        """
        cfg = self.config
        inv_phi = np.full((n, 24, 3), 1.0 / cfg.refine_pose_sigma ** 2)
        # phi of the root is in the pelvis's frame (x left, y up the spine, z forward)
        inv_phi[:, 0] = 1.0 / cfg.refine_root_sigma ** 2
        inv_phi[:, 0, 1] = 1.0 / cfg.refine_heading_sigma ** 2
        inv_phi[:, _UNSEEN] = 1e4
        shape = 1e8 if cfg.refine_shape_sigma == 0 else 1.0 / cfg.refine_shape_sigma ** 2
        moved = None
        if motion is not None:
            prev, inv = motion
            inv_m = np.repeat(inv, 72).reshape(n, 24, 3)
            inv_m[:, _UNSEEN] = 0.0
            moved = (inv_m.reshape(n, 72),
                     so3.log(np.swapaxes(rot0, -1, -2) @ prev).reshape(n, 72))
        return inv_phi.reshape(n, 72), np.full((n, self.num_betas), shape), moved

    def _start(self, rot0, proj, obs, weight):
        """Initial phi: straight joints of foreshortened limbs bent towards flexion.

        See START_BEND; a limb is foreshortened when its keypoints are less than
        FORESHORTENED of the estimate's projected limb length apart.
        """
        n = rot0.shape[0]
        phi = np.zeros((n, 24, 3))
        for name, bend in START_BEND.items():
            j = _J[name]
            short = np.zeros(n, bool)
            for a, b in LIMB_KEYPOINTS[name]:
                seen = (weight[:, a] > 0) & (weight[:, b] > 0)
                observed = np.linalg.norm(obs[:, a] - obs[:, b], axis=-1)
                expected = np.linalg.norm(proj[:, a] - proj[:, b], axis=-1)
                short |= seen & (observed < FORESHORTENED * expected)
            if not short.any():
                continue
            axis = int(np.flatnonzero(bend)[0])
            straight = short.copy()
            straight[short] = np.abs(so3.log(rot0[short, j])[:, axis]) < abs(bend[axis])
            if straight.any():         # the others start at the estimate (phi 0)
                target = so3.exp(np.array(bend, np.float64))
                phi[straight, j] = so3.log(np.swapaxes(rot0[straight, j], -1, -2) @ target)
        return phi

    def _cost(self, rot0, phi, betas, transl, anchor, obs, weight, scale, camera, priors,
              sigma, upright=None):
        """Total cost per person and what the linearisation needs."""
        cfg = self.config
        rot = rot0 @ so3.exp(phi)
        posed = self.skeleton.pose(rot, betas, transl)
        proj, jproj = _project(posed.keypoints, camera, with_jacobian=True)
        res = (proj - obs) / (scale * sigma)[:, None, None]
        dist = np.linalg.norm(res, axis=-1) * sigma                         # box heights
        e2 = (res ** 2).sum(-1)
        # Geman-McClure on the distance: keypoints much further off than the robust distance
        # (a swapped or grabbed keypoint) stop pulling
        c2 = cfg.refine_robust_distance ** 2
        gm = c2 / (c2 + dist ** 2)
        robust = weight * gm * e2
        irls = weight * gm
        inv_phi, inv_beta, moved = priors
        beta0, t0 = anchor
        inv_z = 1.0 / (cfg.refine_depth_sigma * t0[:, 2]) ** 2
        aa = so3.log(rot[:, self.limit_joints])                          # (N, L, 3)
        over = aa - np.clip(aa, self.limit_lo, self.limit_hi)
        cost = (robust.sum(1) + (inv_phi * phi.reshape(len(phi), -1) ** 2).sum(1)
                + (inv_beta * (betas - beta0) ** 2).sum(1)
                + inv_z * (transl[:, 2] - t0[:, 2]) ** 2
                + (over ** 2).sum((1, 2)) / cfg.refine_limit_sigma ** 2)
        if moved is not None:
            cost = cost + (moved[0] * (phi.reshape(len(phi), -1) - moved[1]) ** 2).sum(1)
        jres = jproj / (scale * sigma)[:, None, None, None]               # d res / d X
        lin = dict(rot=rot, posed=posed, jres=jres, res=res, irls=irls, aa=aa, over=over,
                   inv_z=inv_z, dist=dist)
        if upright is not None:     # g x u: the sine of the torso's lean from vertical
            lin['up_res'] = np.cross(upright['g'], np.einsum('nij,nj->ni', rot[:, 0],
                                                             upright['v']))
            r2 = (lin['up_res'] ** 2).sum(1)
            c2 = cfg.refine_upright_robust ** 2
            lin['up_irls'] = upright['w'] * (c2 / (c2 + r2) if c2 > 0 else 1.0)
            cost = cost + lin['up_irls'] * r2
        return cost, lin

    def _upright(self, rot0, keypoints, up):
        """The upright prior's terms for the anchor's posed COCO-17 `keypoints`, or None.

        g: gravity's up (camera frame); v: the anchor's torso direction (hips -> shoulders) in
        its pelvis frame, so that R_root v is the torso's direction as the root turns; w: the
        prior's weight per person, 1 / refine_upright_sigma^2 for an estimate leaning less
        than refine_upright_max from vertical, fading to 0 over UPRIGHT_FADE beyond it.
        """
        cfg = self.config
        if up is None or cfg.refine_upright_sigma == 0:
            return None
        g = np.asarray(up, np.float64)
        torso = keypoints[:, [5, 6]].mean(1) - keypoints[:, [11, 12]].mean(1)
        torso /= np.maximum(np.linalg.norm(torso, axis=-1, keepdims=True), 1e-9)
        tilt = np.arccos(np.clip(torso @ g, -1.0, 1.0))
        fade = np.clip((cfg.refine_upright_max + UPRIGHT_FADE - tilt) / UPRIGHT_FADE, 0.0, 1.0)
        return dict(g=g, v=np.einsum('nji,nj->ni', rot0[:, 0], torso),
                    w=fade / cfg.refine_upright_sigma ** 2)

    def _solve(self, pose, beta0, t0, obs, weight, scale, camera, iterations, sigma,
               motion=None):
        cfg = self.config
        n = pose.shape[0]
        rot0 = so3.exp(pose)
        start = self.skeleton.pose(rot0, beta0, t0).keypoints
        start_proj = _project(start, camera)[0]
        upright = self._upright(rot0, start, getattr(camera, 'up', None))
        phi = self._start(rot0, start_proj, obs, weight)
        betas, transl = beta0.copy(), t0.copy()
        priors = self._priors(n, rot0, motion)
        inv_phi, inv_beta, moved = priors
        nb = self.num_betas
        npar = 72 + 3 + nb
        damping = np.full(n, 1e-3)
        cost, lin = self._cost(rot0, np.zeros_like(phi), betas, transl, (beta0, t0), obs,
                               weight, scale, camera, priors, sigma, upright)
        error_before = _masked_median(lin['dist'], weight > 0)
        if np.any(phi):          # the bent start (see START_BEND) is where the steps begin
            cost, lin = self._cost(rot0, phi, betas, transl, (beta0, t0), obs, weight, scale,
                                   camera, priors, sigma, upright)
        for _ in range(iterations):
            sk = self.skeleton
            posed = lin['posed']
            jr = so3.right_jacobian(phi)                                   # (N, 24, 3, 3)
            d_rot = sk.rotation_jacobian(posed, jr)                        # (N, K, 24, 3, 3)
            k = d_rot.shape[1]
            jx = np.concatenate([d_rot.transpose(0, 1, 3, 2, 4).reshape(n, k, 3, 72),
                                 np.broadcast_to(np.eye(3), (n, k, 3, 3)),
                                 sk.shape_jacobian(posed)], -1)            # (N, K, 3, P)
            jk = (lin['jres'] @ jx).reshape(n, 2 * k, npar)
            w = np.repeat(lin['irls'], 2, axis=1)[..., None]               # (N, 2K, 1)
            wjt = np.swapaxes(w * jk, 1, 2)
            hess = wjt @ jk
            grad = (wjt @ lin['res'].reshape(n, 2 * k, 1))[..., 0]
            # priors (quadratic: exact)
            diag = np.concatenate([inv_phi, np.zeros((n, 3)), inv_beta], 1)
            diag[:, 74] += lin['inv_z']
            grad[:, :72] += inv_phi * phi.reshape(n, 72)
            grad[:, 75:] += inv_beta * (betas - beta0)
            grad[:, 74] += lin['inv_z'] * (transl[:, 2] - t0[:, 2])
            if moved is not None:
                diag[:, :72] += moved[0]
                grad[:, :72] += moved[0] * (phi.reshape(n, 72) - moved[1])
            hess[:, np.arange(npar), np.arange(npar)] += diag
            # joint limits: d aa / d phi = J_r^-1(aa) J_r(phi)
            active = lin['over'] != 0
            if active.any():
                ja = np.einsum('nlab,nlbc->nlac', so3.right_jacobian_inv(lin['aa']),
                               jr[:, self.limit_joints]) * active[..., None]
                inv_l = 1.0 / cfg.refine_limit_sigma ** 2
                for li, j in enumerate(self.limit_joints):
                    sl = slice(3 * j, 3 * j + 3)
                    hess[:, sl, sl] += inv_l * np.einsum('nab,nac->nbc', ja[:, li], ja[:, li])
                    grad[:, sl] += inv_l * np.einsum('nab,na->nb', ja[:, li],
                                                     lin['over'][:, li])
            if upright is not None:
                # d(g x u)/d phi_root = [g]x (-R [v]x J_r(phi_root)), u = R v
                jg = so3.skew(upright['g']) @ (
                    -lin['rot'][:, 0] @ so3.skew(upright['v']) @ jr[:, 0])
                wg = lin['up_irls']
                hess[:, :3, :3] += wg[:, None, None] * np.swapaxes(jg, 1, 2) @ jg
                grad[:, :3] += wg[:, None] * np.einsum('nab,na->nb', jg, lin['up_res'])
            hess += damping[:, None, None] * (np.eye(npar) * np.diagonal(
                hess, axis1=1, axis2=2)[:, None, :] + 1e-6 * np.eye(npar))
            step = _solve_spd(hess, -grad)
            phi_new = phi + step[:, :72].reshape(n, 24, 3)
            t_new, b_new = transl + step[:, 72:75], betas + step[:, 75:]
            t_new[:, 2] = np.maximum(t_new[:, 2], 0.1)
            new_cost, new_lin = self._cost(rot0, phi_new, b_new, t_new, (beta0, t0), obs,
                                           weight, scale, camera, priors, sigma, upright)
            better = new_cost < cost
            damping = np.where(better, np.maximum(damping / 3.0, 1e-7), damping * 10.0)
            phi = np.where(better[:, None, None], phi_new, phi)
            transl = np.where(better[:, None], t_new, transl)
            betas = np.where(better[:, None], b_new, betas)
            cost = np.where(better, new_cost, cost)
            lin = {k: _select(better, new_lin[k], v) for k, v in lin.items()}
        return {'pose': so3.log(lin['rot']), 'betas': betas, 'transl': transl,
                'cost': cost, 'error_before': error_before,
                'error_after': _masked_median(lin['dist'], weight > 0)}


def _solve_spd(a, b):
    """Solve N symmetric positive definite systems a (N, P, P) x = b (N, P).

    LAPACK's potrf + potrs one system at a time: for these small matrices that never starts BLAS
    threads, which np.linalg.solve / cholesky do (10-50x slower on a busy 2-core CPU).
    """
    out = np.empty_like(b)
    for i in range(len(a)):
        low, info = dpotrf(a[i], lower=1)
        if info != 0:                      # not positive definite (should not happen): no step
            out[i] = 0.0
            continue
        out[i] = dpotrs(low, b[i], lower=1)[0]
    return out


def _masked_median(values, mask):
    """(N,) median of each row's masked entries (NaN for rows without any)."""
    return np.array([np.median(v[m]) if m.any() else np.nan for v, m in zip(values, mask)])


def _select(mask, new, old):
    """Per-person choice between two linearisations (arrays, or Posed dataclasses)."""
    if isinstance(new, np.ndarray):
        if new.ndim == 0 or new.shape[0] != mask.shape[0]:
            return new
        return np.where(mask.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
    from dataclasses import fields, replace
    return replace(new, **{f.name: _select(mask, getattr(new, f.name), getattr(old, f.name))
                           for f in fields(new)})


def _project(points, camera, with_jacobian=False):
    """Pinhole projection of (N, K, 3) camera-frame points; optionally d uv / d xyz (N,K,2,3)."""
    z = np.maximum(points[..., 2], 1e-2)
    x, y = points[..., 0] / z, points[..., 1] / z
    uv = np.stack([camera.fx * x + camera.cx, camera.fy * y + camera.cy], -1)
    if not with_jacobian:
        return uv, None
    zero = np.zeros_like(z)
    jac = np.stack([np.stack([camera.fx / z, zero, -camera.fx * x / z], -1),
                    np.stack([zero, camera.fy / z, -camera.fy * y / z], -1)], -2)
    return uv, jac
