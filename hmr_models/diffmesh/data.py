"""Training and evaluation data for DiffMesh.

Real motion seen by a camera, with per-frame estimates simulated like a per-frame model's
errors.

A motion (SMPL pose (T, 72) + smplx translation (T, 3) in a y-up world, at `fps`; e.g. the
data engine's ``SMPLMotion``) is placed in front of a random camera, its COCO-17 keypoints are
projected to pixels, and a per-frame estimator is simulated: a slowly varying bias, frame-to-
frame jitter, occlusion spikes, missed frames, identity switches with a neighbour and noisy
2D keypoints. Windows are then built by the very functions the streaming smoother uses at run
time (`resample_index` + `gather_windows`), so training sees what inference sees.
"""
from dataclasses import dataclass, field
import logging

import numpy as np
import torch

from hmr_models.skeleton import SMPL24_FLIP
from hmr_models.types import NUM_JOINTS, NUM_KEYPOINTS
from hmr_models.diffmesh.features import normalise_keypoints
from hmr_models.geometry.kinematics import forward_kinematics
from hmr_models.diffmesh.model import WindowBatch
from hmr_models.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hmr_models.diffmesh.streaming import fit_betas, gather_windows, resample_index

log = logging.getLogger(__name__)

# COCO-17 body keypoints that are SMPL joints (COCO index -> SMPL index).
COCO_FROM_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 11: 1, 12: 2, 13: 4, 14: 5,
                  15: 7, 16: 8}
# Face keypoints as offsets in the head joint's frame (metres; SMPL axes: x left, y up,
# z forward): nose, left/right eye, left/right ear.
FACE_OFFSETS = np.array([[0.0, 0.02, 0.11], [0.035, 0.05, 0.09], [-0.035, 0.05, 0.09],
                         [0.075, 0.02, 0.0], [-0.075, 0.02, 0.0]], np.float32)
HEAD = 15
# Camera optical frame (x right, y down, z forward) from a y-up world looking along +z.
WORLD_TO_OPTICAL = np.diag([-1.0, -1.0, 1.0]).astype(np.float32)


@dataclass
class CameraModel:
    """Random camera placement around a person (ranges are uniform)."""

    distance: tuple = (2.0, 10.0)      # metres from the camera to the window's mean pelvis
    lateral: tuple = (-0.3, 0.3)       # fraction of the distance, sideways
    height: tuple = (0.6, 2.2)         # camera height above the floor (metres)
    pitch_deg: tuple = (-20.0, 10.0)   # camera tilt (negative: looking down)
    focal: tuple = (500.0, 1600.0)     # pixels
    image_size: tuple = (1280, 720)    # pixels (cx, cy at the centre)


@dataclass
class ErrorModel:
    """What a per-frame estimator gets wrong (radians, metres, fractions of box size).

    The defaults give per-frame inputs of about 90 mm MPJPE and 30-35 mm/frame^2 ACC-ERR at
    30 fps (measured on smooth synthetic motion; mostly bias, plus jitter and spikes), the
    range image-based models show on 3DPW.
    """

    bias_rot: float = 0.08         # per-window constant error per joint
    drift_rot: float = 0.04        # slowly varying error per joint (amplitude)
    drift_hz: tuple = (0.2, 1.5)   # its frequency
    jitter_rot: float = 0.008      # independent per frame and joint
    root_jitter_rot: float = 0.006  # extra jitter of the global orientation
    spike_prob: float = 0.03       # per frame: an occlusion-like failure starts
    spike_len: tuple = (1, 4)      # frames
    spike_rot: float = 0.6         # on the affected joints
    spike_joints: float = 0.3      # fraction of joints affected (limbs first)
    betas_bias: float = 0.4
    betas_jitter: float = 0.15
    trans_jitter: float = 0.01     # metres, x/y
    depth_jitter: float = 0.025    # fraction of depth
    depth_bias: float = 0.06       # fraction of depth, per window
    kp_jitter: float = 0.012       # fraction of box size
    kp_miss_prob: float = 0.05
    drop_prob: float = 0.03        # per frame: no detection
    drop_len: tuple = (1, 5)
    id_switch_prob: float = 0.04   # per window: frames taken from another person
    id_switch_len: tuple = (1, 4)
    short_track_prob: float = 0.2  # per window: the track starts inside the window


@dataclass
class TrainBatch:
    """Model inputs and ground truth.

    inputs WindowBatch (B, T, ...); target_pose (B, T, 72) and target_translation (B, T, 3)
    in the camera frame; target_betas (B, nb); mask (B, T) 1 where the frame has ground truth
    (0 for padding before the track started).
    """

    inputs: WindowBatch
    target_pose: np.ndarray
    target_betas: np.ndarray
    target_translation: np.ndarray
    mask: np.ndarray

    def torch(self, device='cpu'):
        t = (lambda a: torch.as_tensor(a, dtype=torch.float32, device=device))
        return TrainBatch(self.inputs.to(device) if torch.is_tensor(self.inputs.pose) else
                          WindowBatch(*(t(getattr(self.inputs, k)) for k in
                                        ('pose', 'betas', 'translation', 'keypoints',
                                         'keypoint_scores', 'valid'))),
                          t(self.target_pose), t(self.target_betas),
                          t(self.target_translation), t(self.mask))


# ---- geometry ---------------------------------------------------------------------------


def mirror_motion(pose, trans):
    """Left/right mirror of SMPL poses (..., 72) and translations (..., 3) (world x -> -x)."""
    aa = pose.reshape(pose.shape[:-1] + (NUM_JOINTS, 3))[..., SMPL24_FLIP, :]
    aa = aa * np.array([1.0, -1.0, -1.0], np.float32)
    return aa.reshape(pose.shape), trans * np.array([-1.0, 1.0, 1.0], np.float32)


def place_in_camera(pose, trans, rest_root, rotation, centre):
    """Express world-frame SMPL parameters in a camera frame.

    Args:
        pose: (B, T, 72) world axis-angle; trans: (B, T, 3) smplx translation (world).
        rest_root: (B, 3) rest pelvis position (it depends on betas).
        rotation: (B, 3, 3) world -> camera rotation; centre: (B, 3) camera centre (world).
    Returns:
        (pose (B, T, 72), trans (B, T, 3)) in the camera frame. Only the global orientation
        changes in the pose; the pelvis (rest_root + trans) moves rigidly.
    """
    b, t = pose.shape[:2]
    pose = pose.copy()
    g = axis_angle_to_matrix(torch.from_numpy(pose[..., :3]).float()).numpy()
    g = np.einsum('bij,btjk->btik', rotation, g)
    pose[..., :3] = matrix_to_axis_angle(torch.from_numpy(g)).numpy()
    pelvis = trans + rest_root[:, None]
    pelvis_c = np.einsum('bij,btj->bti', rotation, pelvis - centre[:, None])
    return pose, (pelvis_c - rest_root[:, None]).astype(np.float32)


def random_cameras(mean_pelvis, rng, cam):
    """World -> camera rotations (B, 3, 3), centres (B, 3) and focal lengths (B,).

    The person (window mean pelvis, world (B, 3)) ends up at a random distance, sideways
    offset and heading in front of a camera at a random height and tilt.
    """
    b = len(mean_pelvis)
    yaw = rng.uniform(-np.pi, np.pi, b)
    pitch = np.deg2rad(rng.uniform(*cam.pitch_deg, b))
    dist = rng.uniform(*cam.distance, b)
    lat = rng.uniform(*cam.lateral, b) * dist
    height = rng.uniform(*cam.height, b)
    # Camera looks along world direction d(yaw) (horizontal); tilt about its own x axis.
    fwd = np.stack([np.sin(yaw), np.zeros(b), np.cos(yaw)], -1)
    right = np.stack([np.cos(yaw), np.zeros(b), -np.sin(yaw)], -1)  # world dir seen as +x
    centre = mean_pelvis - dist[:, None] * fwd - lat[:, None] * right
    centre[:, 1] = height
    # Rows: camera x, y, z axes expressed in world coordinates (level camera first).
    down = np.tile(np.array([0.0, -1.0, 0.0]), (b, 1))
    level = np.stack([np.cross(down, fwd), down, fwd], 1)  # x = y cross z, right-handed
    c, s = np.cos(pitch), np.sin(pitch)
    tilt = np.zeros((b, 3, 3))
    tilt[:, 0, 0] = 1.0
    tilt[:, 1, 1], tilt[:, 1, 2] = c, s
    tilt[:, 2, 1], tilt[:, 2, 2] = -s, c
    rotation = np.einsum('bij,bjk->bik', tilt, level).astype(np.float32)
    focal = rng.uniform(*cam.focal, b).astype(np.float32)
    return rotation, centre.astype(np.float32), focal


def coco_keypoints_3d(joints, head_rot):
    """COCO-17 3D points (..., 17, 3) from SMPL joints and the head's global rotation.

    joints (..., 24, 3), head_rot (..., 3, 3); face points are fixed offsets from the head
    joint.
    """
    out = np.zeros(joints.shape[:-2] + (NUM_KEYPOINTS, 3), np.float32)
    for c, s in COCO_FROM_SMPL.items():
        out[..., c, :] = joints[..., s, :]
    face = np.einsum('...ij,kj->...ki', head_rot, FACE_OFFSETS)
    out[..., :5, :] = joints[..., HEAD:HEAD + 1, :] + face
    return out


def project(points, focal, image_size):
    """Pinhole projection of camera-frame points (B, T, K, 3) -> pixels (B, T, K, 2)."""
    z = np.maximum(points[..., 2:3], 1e-3)
    cx, cy = image_size[0] / 2.0, image_size[1] / 2.0
    uv = points[..., :2] / z * focal[:, None, None, None]
    return (uv + np.array([cx, cy], np.float32)).astype(np.float32)


# ---- per-frame estimator errors -----------------------------------------------------------

# Joints an occlusion most often corrupts (limbs), in order of preference.
_LIMBS = np.array([18, 19, 20, 21, 4, 5, 7, 8, 16, 17, 22, 23, 10, 11])


def _segments(rng, shape, prob, length):
    """Boolean (B, T) mask of random segments: each frame starts one with `prob`."""
    b, t = shape
    starts = rng.random((b, t)) < prob
    lens = rng.integers(length[0], length[1] + 1, (b, t))
    # Frame j is covered if some start s <= j has s + len > j: a running max of the ends.
    ends = np.where(starts, np.arange(t)[None] + lens, 0)
    return np.maximum.accumulate(ends, axis=1) > np.arange(t)[None]


def simulate_estimates(pose, betas, trans, keypoints_px, boxes, fps, rng, err):
    """Per-frame estimates of a per-frame model from ground truth.

    Args:
        pose (B, T, 72), betas (B, nb), trans (B, T, 3): camera-frame ground truth.
        keypoints_px (B, T, 17, 2), boxes (B, T, 4): true keypoints and person boxes (px).
        fps: frame rate of the T frames (for the drift frequency).
    Returns:
        dict of noisy pose (B, T, 72), betas (B, T, nb), translation (B, T, 3),
        keypoints (B, T, 17, 2) px (NaN where missed), keypoint_scores (B, T, 17),
        boxes (B, T, 4), and observed (B, T) bool (False: the frame was dropped).
    """
    b, t = pose.shape[:2]
    nb = betas.shape[-1]
    time = np.arange(t) / float(fps)
    # Rotation error per joint: bias + slow drift + jitter (+ spikes), composed locally.
    bias = rng.normal(0, err.bias_rot, (b, 1, NUM_JOINTS, 3))
    hz = rng.uniform(*err.drift_hz, (b, 1, NUM_JOINTS, 1))
    phase = rng.uniform(0, 2 * np.pi, (b, 1, NUM_JOINTS, 3))
    wave = np.sin(2 * np.pi * hz * time[None, :, None, None] + phase)
    drift = err.drift_rot * rng.normal(0, 1, (b, 1, NUM_JOINTS, 3)) * wave
    jitter = rng.normal(0, err.jitter_rot, (b, t, NUM_JOINTS, 3))
    jitter[:, :, 0] += rng.normal(0, err.root_jitter_rot, (b, t, 3))
    spikes = _segments(rng, (b, t), err.spike_prob, err.spike_len)
    n_spiked = max(1, int(round(err.spike_joints * len(_LIMBS))))
    # A random subset of limb joints per spiked frame (argsort of uniforms = a permutation).
    pick = _LIMBS[rng.random((b, t, len(_LIMBS))).argsort(-1)[..., :n_spiked]]
    hit = np.zeros((b, t, NUM_JOINTS), bool)
    np.put_along_axis(hit, pick, True, axis=-1)
    hit &= spikes[..., None]
    spike_err = np.where(hit[..., None], rng.normal(0, err.spike_rot, (b, t, NUM_JOINTS, 3)),
                         0.0)
    noise = (bias + drift + jitter + spike_err).astype(np.float32)
    gt_rot = axis_angle_to_matrix(torch.from_numpy(pose.reshape(b, t, NUM_JOINTS, 3)).float())
    noisy_rot = gt_rot @ axis_angle_to_matrix(torch.from_numpy(noise))
    noisy_pose = matrix_to_axis_angle(noisy_rot).reshape(b, t, -1).numpy()

    noisy_betas = (betas[:, None] + rng.normal(0, err.betas_bias, (b, 1, nb))
                   + rng.normal(0, err.betas_jitter, (b, t, nb))).astype(np.float32)
    depth = trans[..., 2:3]
    tn = np.concatenate([rng.normal(0, err.trans_jitter, (b, t, 2)),
                         depth * (rng.normal(0, err.depth_bias, (b, 1, 1))
                                  + rng.normal(0, err.depth_jitter, (b, t, 1)))], -1)
    noisy_trans = (trans + tn).astype(np.float32)

    size = np.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    kp_sigma = (err.kp_jitter * size)[..., None, None]
    kp = keypoints_px + rng.normal(0, 1, keypoints_px.shape) * kp_sigma
    # Spiked frames: the 2D detector struggles too (occlusion): lose half the keypoints.
    miss = rng.random(kp.shape[:3]) < err.kp_miss_prob
    miss |= spikes[..., None] & (rng.random(kp.shape[:3]) < 0.5)
    kp = np.where(miss[..., None], np.nan, kp).astype(np.float32)
    scores = np.where(miss, 0.0, rng.uniform(0.4, 1.0, kp.shape[:3])).astype(np.float32)

    out = {'pose': noisy_pose, 'betas': noisy_betas, 'translation': noisy_trans,
           'keypoints': kp, 'keypoint_scores': scores, 'boxes': boxes.astype(np.float32)}
    # Identity switches: a few frames come from another window's person (and its position).
    if b > 1:
        for i in np.flatnonzero(rng.random(b) < err.id_switch_prob):
            j = (i + rng.integers(1, b)) % b
            n = int(rng.integers(err.id_switch_len[0], err.id_switch_len[1] + 1))
            s = int(rng.integers(0, max(1, t - n)))
            for v in out.values():
                v[i, s:s + n] = v[j, s:s + n]
    observed = ~_segments(rng, (b, t), err.drop_prob, err.drop_len)
    out['observed'] = observed
    return out


# ---- scenes and windows -------------------------------------------------------------------


def simulate_sequences(pose_w, trans_w, betas, joint_model, fps, rng, camera=None, errors=None):
    """Place B world motions of T frames in front of random cameras and simulate estimates.

    Returns (ground truth dict: pose, trans (camera frame), betas, joints (B, T, 24, 3)),
    and the simulate_estimates dict.
    """
    camera = camera or CameraModel()
    errors = errors or ErrorModel()
    b, t = pose_w.shape[:2]
    with torch.no_grad():
        rest = joint_model.rest_joints(torch.from_numpy(betas).float()).numpy()  # (B, 24, 3)
    rest_root = rest[:, 0]
    mean_pelvis = (trans_w + rest_root[:, None]).mean(1)
    rotation, centre, focal = random_cameras(mean_pelvis, rng, camera)
    pose_c, trans_c = place_in_camera(pose_w, trans_w, rest_root, rotation, centre)
    with torch.no_grad():
        rot = axis_angle_to_matrix(torch.from_numpy(pose_c.reshape(b, t, NUM_JOINTS, 3)))
        joints, glob = forward_kinematics(rot, torch.from_numpy(rest)[:, None],
                                          return_global=True)
    joints = joints.numpy() + trans_c[..., None, :]
    kp3d = coco_keypoints_3d(joints, glob[..., HEAD, :, :].numpy())
    kp = project(kp3d, focal, camera.image_size)
    # Boxes: the projected skeleton plus a margin, as a person detector would draw them.
    allpts = np.concatenate([kp, project(joints, focal, camera.image_size)], 2)
    lo, hi = allpts.min(2), allpts.max(2)
    margin = (hi - lo) * rng.uniform(0.05, 0.2, (b, 1, 1))
    boxes = np.concatenate([lo - margin, hi + margin], -1).astype(np.float32)
    est = simulate_estimates(pose_c, betas, trans_c, kp, boxes, fps, rng, errors)
    gt = {'pose': pose_c, 'trans': trans_c, 'betas': betas, 'joints': joints.astype(np.float32),
          'keypoints': kp, 'boxes': boxes}
    return gt, est


class WindowSampler:
    """Random training windows from a list of motions.

    Args:
        motions: objects with pose (T, 72), trans (T, 3) world arrays and fps (e.g.
            hmr_models.data.mocap.SMPLMotion); they are used at `fps` (nearest-frame
            resampling if a clip's rate differs).
        joint_model: JointModel of the training body.
        num_frames: window length (the model's f).
        strides: frame strides sampled per window: 1, 2, 3 at 30 fps = cameras at 30/15/10 fps.
        max_gap_frames: as StreamingConfig.temporal_max_gap_frames at run time.
    """

    def __init__(self, motions, joint_model, num_frames=16, fps=30.0, strides=(1, 2, 3),
                 mirror=True, betas_std=1.0, camera=None, errors=None, max_gap_frames=3.0):
        self.joint_model = joint_model
        self.num_frames = int(num_frames)
        self.fps = float(fps)
        self.strides = tuple(int(s) for s in strides)
        self.mirror = mirror
        self.betas_std = betas_std
        self.camera = camera or CameraModel()
        self.errors = errors or ErrorModel()
        self.max_gap_frames = max_gap_frames
        need = (self.num_frames - 1) * min(self.strides) + 1
        self.clips = []
        for m in motions:
            pose, trans = _at_fps(m, self.fps)
            if len(pose) >= need:
                self.clips.append((pose, trans))
        if not self.clips:
            raise ValueError(f'no motion has the {need} frames a window needs at {self.fps} fps')
        lengths = np.array([len(p) for p, _ in self.clips], np.float64)
        self.weights = lengths / lengths.sum()
        log.info('WindowSampler: %d clips, %.1f min at %g fps', len(self.clips),
                 lengths.sum() / self.fps / 60.0, self.fps)

    def sample(self, batch_size, rng):
        """One TrainBatch of `batch_size` windows (numpy)."""
        f = self.num_frames
        nb = self.joint_model.num_betas
        strides = rng.choice(self.strides, batch_size)
        pose_w = np.zeros((batch_size, f, 72), np.float32)
        trans_w = np.zeros((batch_size, f, 3), np.float32)
        for i, s in enumerate(strides):
            s = int(s)
            for _ in range(100):
                pose, trans = self.clips[rng.choice(len(self.clips), p=self.weights)]
                span = (f - 1) * s + 1
                if len(pose) >= span:
                    break
            else:
                s, span = min(self.strides), (f - 1) * min(self.strides) + 1
                strides[i] = s
            start = int(rng.integers(0, len(pose) - span + 1))
            pose_w[i] = pose[start:start + span:s]
            trans_w[i] = trans[start:start + span:s]
        if self.mirror:
            flip = rng.random(batch_size) < 0.5
            pose_w[flip], trans_w[flip] = mirror_motion(pose_w[flip], trans_w[flip])
        betas = np.clip(rng.normal(0, self.betas_std, (batch_size, nb)), -2.5, 2.5)
        betas = betas.astype(np.float32)
        # Drift frequencies are per second: the window's own rate is fps / stride; one rate
        # per batch is close enough for the error model.
        gt, est = simulate_sequences(pose_w, trans_w, betas, self.joint_model,
                                     self.fps / float(np.mean(strides)), rng, self.camera,
                                     self.errors)
        return self._windows(gt, est, strides, rng)

    def _windows(self, gt, est, strides, rng):
        return make_windows(gt, est, np.asarray(strides, np.float64) / self.fps, rng,
                            self.errors.short_track_prob, self.max_gap_frames)


def make_windows(gt, est, periods, rng, short_track_prob=0.2, max_gap_frames=3.0):
    """A TrainBatch of B windows of f frames, built as the streaming smoother builds them.

    gt: pose (B, f, 72), betas (B, nb), trans (B, f, 3) camera-frame ground truth. est:
    observed (B, f) bool, pose (B, f, 72), betas (B, f, nb), translation (B, f, 3), keypoints
    (B, f, 17, 2) pixels (NaN missing), keypoint_scores (B, f, 17), boxes (B, f, 4): the
    per-frame estimates and detections (values of unobserved frames are ignored). periods:
    (B,) seconds between frames. With probability short_track_prob a window's track starts
    inside it (earlier frames unobserved and without ground truth).
    """
    b, f = gt['pose'].shape[:2]
    observed = est['observed'].copy()
    observed[:, -1] = True  # the window ends at the frame being smoothed: always seen
    mask = np.ones((b, f), np.float32)
    short = rng.random(b) < short_track_prob
    for i in np.flatnonzero(short):
        first = int(rng.integers(1, f))  # the track starts at frame `first`
        observed[i, :first] = False
        mask[i, :first] = 0.0
    kp, kps = normalise_keypoints(est['keypoints'].reshape(-1, NUM_KEYPOINTS, 2),
                                  est['keypoint_scores'].reshape(-1, NUM_KEYPOINTS),
                                  est['boxes'].reshape(-1, 4))
    kp = kp.reshape(b, f, NUM_KEYPOINTS, 2)
    kps = kps.reshape(b, f, NUM_KEYPOINTS)
    sources, windows = [], []
    for i in range(b):
        obs = np.flatnonzero(observed[i])
        period = float(periods[i])
        sources.append({'pose': est['pose'][i, obs], 'betas': est['betas'][i, obs],
                        'translation': est['translation'][i, obs],
                        'keypoints': kp[i, obs], 'keypoint_scores': kps[i, obs]})
        windows.append(resample_index(obs * period, f, period, max_gap_frames))
    inputs = gather_windows(sources, windows)
    return TrainBatch(inputs, gt['pose'].astype(np.float32), gt['betas'].astype(np.float32),
                      gt['trans'].astype(np.float32), mask)


class TrackWindowSampler:
    """Training windows cut from the per-frame model's real estimates over synthetic scenes.

    Args:
        tracks: dict of arrays from hmr_models.data.synth.estimates.load_tracks.
        num_betas: the model's betas (estimates and ground truth are cut or zero-padded).
        num_frames, strides, max_gap_frames: as WindowSampler.
        short_track_prob: as ErrorModel.short_track_prob.
    Windows end at a frame where the person was detected (the frame the stream publishes);
    frames the detector missed are gaps, exactly as at run time.
    """

    def __init__(self, tracks, num_betas, num_frames=16, strides=(1, 2, 3),
                 short_track_prob=0.2, max_gap_frames=3.0):
        self.tracks = tracks
        self.num_betas = int(num_betas)
        self.num_frames = int(num_frames)
        self.strides = tuple(int(s) for s in strides)
        self.short_track_prob = short_track_prob
        self.max_gap_frames = max_gap_frames
        t = tracks['observed'].shape[1]
        need = (self.num_frames - 1) * min(self.strides) + 1
        if t < need:
            raise ValueError(f'tracks of {t} frames are shorter than a window ({need} frames)')
        # Possible window ends per track: observed frames with a full window before them.
        ends = tracks['observed'].copy()
        ends[:, :need - 1] = False
        counts = ends.sum(1).astype(np.float64)
        if counts.sum() == 0:
            raise ValueError('no track is observed late enough for one window')
        self.weights = counts / counts.sum()
        log.info('TrackWindowSampler: %d tracks, %d window ends', len(counts), int(counts.sum()))

    def sample(self, batch_size, rng):
        f, tr = self.num_frames, self.tracks
        t = tr['observed'].shape[1]
        rows = rng.choice(len(self.weights), batch_size, p=self.weights)
        strides = rng.choice(self.strides, batch_size)
        idx = np.zeros((batch_size, f), np.int64)

        def ends(r, s):            # observed frames with a whole window of stride s before them
            first = (f - 1) * s
            return np.flatnonzero(tr['observed'][r, first:]) + first

        for i, (r, s) in enumerate(zip(rows, strides)):
            s = int(s)
            choices = ends(r, s)
            if len(choices) == 0:        # only the smallest stride fits this track
                s = strides[i] = min(self.strides)
                choices = ends(r, s)
            idx[i] = int(rng.choice(choices)) - (f - 1) * s + np.arange(f) * s
        assert idx.min() >= 0 and idx.max() < t
        take = lambda key: tr[key][rows[:, None], idx]  # noqa: E731
        gt = {'pose': take('gt_pose'), 'trans': take('gt_transl'),
              'betas': fit_betas(tr['gt_betas'][rows], self.num_betas)}
        est = {'observed': take('observed'), 'pose': take('est_pose'),
               'betas': fit_betas(take('est_betas'), self.num_betas),
               'translation': take('est_transl'), 'keypoints': take('keypoints'),
               'keypoint_scores': take('keypoint_scores'), 'boxes': take('boxes')}
        periods = strides / tr['fps'][rows].astype(np.float64)
        return make_windows(gt, est, periods, rng, self.short_track_prob, self.max_gap_frames)


class MixedSampler:
    """Windows from several samplers in fixed shares of every batch (e.g. real + simulated)."""

    def __init__(self, samplers, shares):
        if len(samplers) != len(shares) or not samplers:
            raise ValueError('MixedSampler needs one share per sampler')
        total = float(sum(shares))
        self.samplers = list(samplers)
        self.shares = [float(s) / total for s in shares]

    def sample(self, batch_size, rng):
        counts = np.floor(np.array(self.shares) * batch_size).astype(int)
        counts[0] += batch_size - counts.sum()
        parts = [s.sample(int(n), rng) for s, n in zip(self.samplers, counts) if n > 0]
        cat = lambda xs: np.concatenate(xs)  # noqa: E731
        inputs = WindowBatch(*(cat([getattr(p.inputs, k) for p in parts]) for k in
                               ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores',
                                'valid')))
        return TrainBatch(inputs, cat([p.target_pose for p in parts]),
                          cat([p.target_betas for p in parts]),
                          cat([p.target_translation for p in parts]),
                          cat([p.mask for p in parts]))


def _at_fps(motion, fps):
    """(pose, trans) of a motion at `fps` (nearest frame when its own rate differs)."""
    pose = np.asarray(motion.pose, np.float32).reshape(-1, 72)
    trans = np.asarray(motion.trans, np.float32).reshape(-1, 3)
    src = float(getattr(motion, 'fps', fps))
    if abs(src - fps) < 1e-3:
        return pose, trans
    idx = np.round(np.arange(0, len(pose) * fps / src) * src / fps).astype(np.int64)
    idx = idx[idx < len(pose)]
    return pose[idx], trans[idx]


@dataclass
class SyntheticMotion:
    """A smooth random motion (sums of sinusoids per joint).

    For tests and smoke runs, not a substitute for motion capture.
    """

    pose: np.ndarray
    trans: np.ndarray
    fps: float = 30.0
    name: str = 'synthetic'
    meta: dict = field(default_factory=dict)


def smooth_random_motion(num_frames, rng, fps=30.0, amplitude=0.35, max_hz=1.2, walk=True):
    """A SyntheticMotion of `num_frames` frames.

    Every joint rotates smoothly, the body turns slowly and (walk=True) moves across the
    floor.
    """
    time = np.arange(num_frames) / fps
    hz = rng.uniform(0.1, max_hz, (1, NUM_JOINTS, 3, 2))
    amp = rng.uniform(0, amplitude, (1, NUM_JOINTS, 3, 2)) / 2
    phase = rng.uniform(0, 2 * np.pi, (1, NUM_JOINTS, 3, 2))
    aa = (amp * np.sin(2 * np.pi * hz * time[:, None, None, None] + phase)).sum(-1)
    aa[:, 0] = 0.0
    heading = rng.uniform(-np.pi, np.pi) + 0.3 * np.sin(2 * np.pi * 0.1 * time)
    aa[:, 0, 1] = heading
    speed = rng.uniform(0.0, 1.2) if walk else 0.0
    dirn = rng.uniform(-np.pi, np.pi)
    trans = np.zeros((num_frames, 3), np.float32)
    trans[:, 0] = speed * time * np.cos(dirn)
    trans[:, 2] = speed * time * np.sin(dirn)
    trans[:, 1] = 0.9 + 0.02 * np.sin(2 * np.pi * 1.5 * time)
    return SyntheticMotion(aa.reshape(num_frames, 72).astype(np.float32), trans, fps)
