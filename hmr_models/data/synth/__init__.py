"""Synthetic data from real mocap, and the one home of simulated detector and estimator errors.

Scenes (several people, one camera) carry the errors real detectors (detector_noise) and
per-frame estimators (estimator_noise) make; writers turn them into training samples,
sequences and rosbags. Single motions seen by a camera with the same estimator errors
(sequences) are DiffMesh's training windows; keypoint_corruption is the detector's errors on
training batches (DPMesh's NKR student); camera holds both kinds of random cameras.

    from hmr_models.data.synth import MotionPool, SceneGenerator
    gen = SceneGenerator(body, MotionPool.from_corpus(corpus, 'train'))
    scene = gen.generate(seed=0)
    detections = detect_scene(scene, rng)         # per frame: People + error types
    estimates = simulate_scene(scene, rng)        # per track: noisy SMPL estimates
"""
from .camera import Camera, CameraConfig, sample_camera  # noqa: F401
from .detector_noise import DetectorNoiseConfig, simulate_detections  # noqa: F401
from .estimator_noise import EstimatorNoiseConfig, simulate_scene, simulate_track  # noqa: F401
from .scene import MotionPool, Occluder, PersonTrack, Scene, SceneConfig, \
    SceneGenerator  # noqa: F401
from .writers import detect_scene, person_samples, write_samples, write_sequence  # noqa: F401
