"""Keypoint backends behind one interface, chosen by the `keypoint_backend` parameter."""
from hmr_models.frontend.keypoints.base import KeypointBackend, empty_keypoints, \
    sanitize_keypoints


def create_backend(config, runtime=None):
    """The keypoint backend named by `config.keypoint_backend` (a FrontEndConfig).

    Optional backends import their dependencies only here, so a missing mediapipe only matters
    to whoever selects it, and then fails with a message naming the parameter.
    """
    name = config.keypoint_backend
    if name in ('movenet_lightning', 'movenet_thunder'):
        from hmr_models.frontend.keypoints.movenet import MoveNetBackend
        workers = config.keypoint_workers or (runtime.cpu_threads() if runtime else 1)
        return MoveNetBackend(name, config.keypoint_model_path, runtime,
                              crop_scale=config.keypoint_crop_scale, workers=workers,
                              precision=config.keypoint_precision)
    if name == 'mediapipe':
        from hmr_models.frontend.keypoints.mediapipe_pose import MediaPipePoseBackend
        return MediaPipePoseBackend(crop_scale=config.keypoint_crop_scale)
    if name == 'yolo_pose':
        from hmr_models.frontend.keypoints.yolo_pose import YoloPoseBackend
        return YoloPoseBackend(config.yolo_pose_model_path, runtime,
                               score_threshold=config.detector_candidate_threshold,
                               nms_iou=config.detector_nms_iou)
    raise ValueError(f"unknown keypoint_backend '{name}'")


__all__ = ['KeypointBackend', 'create_backend', 'empty_keypoints', 'sanitize_keypoints']
