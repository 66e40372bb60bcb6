"""Every tunable of the perception front-end, named as its ROS parameter.

`FrontEndConfig` is plain data: `hmr_node` declares one ROS parameter per field (same name, same
default) and `config/*.yaml` may set any of them; `FrontEndConfig.from_dict` turns such a mapping
back into a checked config and names the offending key when something is wrong
(hmr_models.config).
"""
from dataclasses import dataclass, field
import math

from hmr_models.config import Config

# Precisions of the bundled detector (frontend/onnx_model.py, bundled_model) and of MoveNet
# (frontend/openvino_model.py, keypoint_precision).
PRECISIONS = ('auto', 'int8', 'fp32')
KEYPOINT_PRECISIONS = ('auto', 'bf16', 'fp32')

KEYPOINT_BACKENDS = ('movenet_lightning', 'movenet_thunder', 'mediapipe', 'yolo_pose')
PEOPLE_PRIORITIES = ('score', 'area')


@dataclass
class FrontEndConfig(Config):
    """Person detection, 2D keypoints and tracking settings.

    Paths left empty ('') mean "the model bundled with the package" except `yolo_pose_model_path`,
    which the user must supply (its weights are AGPL-3.0 and never ship with hmr_ros).
    """

    # --- keypoints -------------------------------------------------------------------------
    keypoint_backend: str = field(default='movenet_lightning', metadata={
        'help': "'movenet_lightning' (default, fast), 'movenet_thunder' (slower, more accurate), "
                "'mediapipe' (BlazePose landmarks on the detector's boxes) or 'yolo_pose' (one-"
                "stage, user's ONNX file)."})
    keypoint_model_path: str = field(default='', metadata={
        'help': "MoveNet ONNX override; '' = bundled file for the backend"})
    keypoint_precision: str = field(default='auto', metadata={
        'help': "MoveNet's arithmetic: 'bf16' (OpenVINO, 1.7x faster per crop on CPUs with bf16 "
                "instructions, no measured loss of accuracy), 'fp32' (onnxruntime), or 'auto' "
                '(bf16 on CPUs with avx512_bf16 or AMX when OpenVINO is installed, else fp32).'})
    yolo_pose_model_path: str = field(default='', metadata={
        'help': "required when keypoint_backend == 'yolo_pose'"})
    keypoint_score_threshold: float = field(default=0.1, metadata={
        'help': 'keypoints scored below this are reported missing'})
    min_mean_keypoint_score: float = field(default=0.2, metadata={
        'help': 'people whose mean keypoint score is lower are dropped'})
    keypoint_crop_scale: float = field(default=1.25, metadata={
        'help': 'square keypoint crop side / longer box side'})
    duplicate_oks_threshold: float = field(default=0.8, metadata={
        'help': 'two people this similar (OKS) are one; 1 = off'})
    occluded_retry_oks: float = field(default=0.4, metadata={
        'help': "Two overlapping people whose keypoints are this similar (OKS) but not duplicates"
                " (below duplicate_oks_threshold): the weaker one's crop took the other's body,"
                ' so its keypoints are estimated again with the other greyed out of the image; 1 ='
                ' off'})
    # 0.4 since 2026-12-08: OpenCV's messi5.jpg lunge got its boot (0.16 -> 0.53); the real
    # 3D benchmark moved by at most 0.3 mm either way (docs/RESULTS.md).
    leg_retry_score: float = field(default=0.4, metadata={
        'help': 'A person at least 150 px tall with confident hips (body_keypoint_score) and a '
                'knee or ankle scored below this gets keypoints again on a crop of the lower '
                'body (hips to feet): a boot beside a ball or a leg stretched wide is often '
                "missed in the whole person's crop. Its knees and ankles are taken where they "
                'score higher, if its hips land where the first ones did. 0 = off'})
    duplicate_min_common_keypoints: int = field(default=4, metadata={
        'help': 'Two boxes on one person: their OKS is also taken over the keypoints both report '
                'with body_keypoint_score when they share at least this many (0 = every reported '
                'keypoint only).'})
    part_keypoint_fraction: float = field(default=0.9, metadata={
        'help': 'A person whose box lies mostly inside a taller one (at most 0.8 of its '
                'height), whose confident keypoints lie on its confident keypoints (this '
                'fraction of them, within 0.1 of its height), while 4 of its keypoints lie '
                'beyond the box, and whose detection score is not higher, is a box on part of '
                'that person (an arm, the upper body, the legs): dropped, unless it shows a '
                'face of its own away from that person\'s (a child or a seated person in '
                'front). 0 = off'})
    body_keypoint_score: float = field(default=0.3, metadata={
        'help': 'Body evidence: a keypoint scored at least this counts (people need the two '
                'below; a bin or a blur of far spectators has neither).'})
    min_torso_keypoints: int = field(default=2, metadata={
        'help': 'confident shoulders and hips needed (of 4; 0 = off)'})
    min_limb_keypoints: int = field(default=2, metadata={
        'help': 'confident elbows, wrists, knees, ankles needed (of 8)'})
    close_person_fraction: float = field(default=0.5, metadata={
        'help': 'A confidently detected person whose box is at least this fraction of the '
                'image height needs 3 confident torso keypoints and no limb ones: close to the '
                'camera, arms and legs are often hidden in front of the body or out of the '
                'image (0 = off)'})
    keypoint_workers: int = field(default=0, metadata={
        'help': "MoveNet people in parallel; 0 = one per front-end thread (the pipeline's thread "
                "budget)"})

    # --- person detector (NanoDet-m) --------------------------------------------------------
    detector_model_path: str = field(default='', metadata={'help': "'' = bundled NanoDet-m"})
    detector_precision: str = field(default='auto', metadata={
        'help': "Bundled NanoDet-m: 'int8' (its quantized twin, 1.6-2.2x faster on the CPU), "
                "'fp32', or 'auto' (int8 on x86 CPUs with AVX2 or VNNI, else fp32). A file "
                'given by detector_model_path runs as it is.'})
    detector_score_threshold: float = field(default=0.35, metadata={
        'help': 'boxes scored this high need min_mean_keypoint_score'})
    detector_candidate_threshold: float = field(default=0.2, metadata={
        'help': 'Weaker boxes (backlit, unusual poses) down to this score are kept only with '
                'strong keypoint evidence (candidate_min_mean_keypoint_score); set equal to '
                'detector_score_threshold to skip.'})
    candidate_min_mean_keypoint_score: float = field(default=0.45, metadata={
        'help': 'mean keypoint score a weaker (candidate) box needs to be kept'})
    detector_nms_iou: float = field(default=0.5, metadata={
        'help': "IoU above which the detector's overlapping boxes are merged (non-maximum "
                'suppression)'})
    detector_input_size: int = field(default=416, metadata={
        'help': "Longer side of the detector's input (multiple of 32); the input keeps the "
                "image's aspect."})
    detector_interval: int = field(default=2, metadata={
        'help': 'Run the detector on every k-th image only; in between, keypoints are found on '
                'the boxes where the tracker expects its people (new people appear at the next '
                'detector image). vtest.avi, 1 thread: 2 keeps recall at 94.7 % and takes the '
                'front-end 108 -> 60 ms.'})
    detector_fallback: bool = field(default=True, metadata={
        'help': 'Between detector images, an image where a tracked person is not found where '
                'the tracker expects them runs the detector after all, without guidance (they '
                'left, or the image is not the next of the same scene: a cut, a folder of '
                'photos); false = never.'})
    # Off by default: it pays only where a core is free for the detector. On the 2-core default
    # the node's three workers already fill both cores, and the live 3-person latency did not
    # change (docs/RESULTS.md, 2026-12-07).
    detector_beside_keypoints: bool = field(default=False, metadata={
        'help': 'On detector images, run the detector on its own thread while the keypoint '
                'model looks at the people already tracked where the tracker expects them; a '
                'detection that is one of them (IoU >= 0.5 with the expected box) takes those '
                'keypoints, the rest are looked at after. The front-end then takes about the '
                "longer of the two instead of both, but uses one more thread for the detector's "
                'time: for machines with a core to spare (vtest.avi, the front-end alone on one '
                'thread with a second core idle: 96 -> 77 ms); false = one after the other.'})
    # Off by default: a camera is never edited, and someone passing close in front of it
    # changes the whole image; live.launch.py turns it on for video files (scene_cut:=auto).
    scene_cut: bool = field(default=False, metadata={
        'help': 'An image that starts a new shot of an edited video (its structure and colours '
                'both far from the image before: hmr_models.frontend.scene_cut) starts the '
                'tracks again, so that nobody of the last shot hands their id and smoothing to '
                'someone of the next (live.launch.py: on for files and folders).'})
    candidate_retry_s: float = field(default=1.0, metadata={
        'help': 'A weak candidate box that gave no new person (too little keypoint evidence, '
                'or the keypoints of someone already found) is not tried again where it was '
                '(IoU >= 0.6) for this long: a background object the detector half-believes '
                'then costs the keypoint model once, not on every detector image. 0 = try '
                'every time.'})
    max_people: int = field(default=10, metadata={
        'help': 'people kept per image (the rest dropped and counted)'})
    people_priority: str = field(default='score', metadata={
        'help': "which people the cap keeps: 'score' or 'area' (nearest)"})
    min_person_height_px: float = field(default=20.0, metadata={
        'help': 'smaller people are dropped (and counted)'})

    # --- tracker ----------------------------------------------------------------------------
    track_iou_weight: float = field(default=0.5, metadata={
        'help': 'weight of box IoU in the association similarity'})
    track_keypoint_weight: float = field(default=0.5, metadata={
        'help': 'weight of keypoint similarity (OKS)'})
    track_match_threshold: float = field(default=0.1, metadata={
        'help': 'minimum similarity for a detection to join a track'})
    track_min_hits: int = field(default=2, metadata={
        'help': 'matched frames before a track gets an id (birth)'})
    track_max_age_s: float = field(default=1.0, metadata={
        'help': 'unseen time after which a track dies (occlusions)'})
    track_reassociation_radius: float = field(default=1.0, metadata={
        'help': 'lost tracks: search radius in box heights'})
    track_velocity_smoothing: float = field(default=0.6, metadata={
        'help': 'EMA weight of the old velocity (1 = no motion)'})
    track_guided_max_s: float = field(default=0.5, metadata={
        'help': 'Tracked people the detector misses are looked for where the tracker expects them'
                ' (keypoints on the predicted box) for at most this long without a detection; 0 ='
                ' off'})

    def validate(self):
        """Raise ValueError naming the parameter when a value is out of range."""
        if self.keypoint_backend not in KEYPOINT_BACKENDS:
            raise ValueError(f"keypoint_backend must be one of {KEYPOINT_BACKENDS}, "
                             f"got '{self.keypoint_backend}'")
        if self.people_priority not in PEOPLE_PRIORITIES:
            raise ValueError(f"people_priority must be one of {PEOPLE_PRIORITIES}, "
                             f"got '{self.people_priority}'")
        if self.keypoint_backend == 'yolo_pose' and not self.yolo_pose_model_path:
            raise ValueError("keypoint_backend 'yolo_pose' needs parameter yolo_pose_model_path: "
                             'the path of a YOLO-pose ONNX file you provide (AGPL-3.0 weights '
                             'are not shipped with hmr_ros)')
        for name in ('detector_score_threshold', 'detector_candidate_threshold',
                     'keypoint_score_threshold', 'min_mean_keypoint_score',
                     'candidate_min_mean_keypoint_score', 'track_match_threshold',
                     'track_velocity_smoothing', 'body_keypoint_score', 'part_keypoint_fraction',
                     'leg_retry_score'):
            _check_range(self, name, 0.0, 1.0)
        for name in ('detector_nms_iou', 'duplicate_oks_threshold', 'occluded_retry_oks'):
            _check_range(self, name, 0.0, 1.0, low_open=True)
        for name in ('track_iou_weight', 'track_keypoint_weight', 'min_person_height_px'):
            _check_range(self, name, 0.0, math.inf)
        if self.detector_candidate_threshold > self.detector_score_threshold:
            raise ValueError('detector_candidate_threshold must be <= detector_score_threshold, '
                             f'got {self.detector_candidate_threshold} > '
                             f'{self.detector_score_threshold}')
        if self.track_iou_weight + self.track_keypoint_weight <= 0:
            raise ValueError('track_iou_weight + track_keypoint_weight must be > 0')
        _check_range(self, 'keypoint_crop_scale', 1.0, 4.0)
        _check_range(self, 'track_max_age_s', 0.0, 3600.0)
        _check_range(self, 'track_reassociation_radius', 0.0, 100.0)
        _check_range(self, 'track_guided_max_s', 0.0, 3600.0)
        _check_range(self, 'candidate_retry_s', 0.0, 3600.0)
        _check_range(self, 'close_person_fraction', 0.0, 1.0)
        for name, low in (('max_people', 1), ('track_min_hits', 1), ('keypoint_workers', 0),
                          ('detector_interval', 1), ('detector_input_size', 64)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
        for name, most in (('min_torso_keypoints', 4), ('min_limb_keypoints', 8),
                           ('duplicate_min_common_keypoints', 17)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
                raise ValueError(f'{name} must be an integer in [0, {most}], got {value!r}')
        if self.detector_input_size % 32:
            raise ValueError('detector_input_size must be a multiple of 32 (the detector\'s '
                             f'coarsest stride), got {self.detector_input_size}')
        if self.keypoint_precision not in KEYPOINT_PRECISIONS:
            raise ValueError(f'keypoint_precision must be one of {KEYPOINT_PRECISIONS}, got '
                             f'{self.keypoint_precision!r}')
        if self.detector_precision not in PRECISIONS:
            raise ValueError(f'detector_precision must be one of {PRECISIONS}, got '
                             f'{self.detector_precision!r}')
        for name in ('keypoint_model_path', 'yolo_pose_model_path', 'detector_model_path'):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f'{name} must be a string path, got {getattr(self, name)!r}')


def _check_range(cfg, name, low, high, low_open=False):
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f'{name} must be a number, got {value!r}')
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = '(' if low_open else '['
        raise ValueError(f'{name} must be in {bracket}{low}, {high}], got {value}')
