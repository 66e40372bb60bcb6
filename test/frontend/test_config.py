"""FrontEndConfig: defaults, validation messages naming the parameter, dict round trip."""
import pytest

from hmr_models.frontend import FrontEndConfig, KEYPOINT_BACKENDS


def test_defaults_are_valid_and_documented_choices():
    cfg = FrontEndConfig()
    assert cfg.keypoint_backend == 'movenet_lightning'
    assert set(KEYPOINT_BACKENDS) == {'movenet_lightning', 'movenet_thunder', 'mediapipe',
                                      'yolo_pose'}
    assert cfg.detector_candidate_threshold <= cfg.detector_score_threshold
    assert cfg.track_max_age_s == 1.0


@pytest.mark.parametrize('name, value', [
    ('keypoint_backend', 'openpose'),
    ('detector_score_threshold', 1.5),
    ('detector_score_threshold', float('nan')),
    ('detector_nms_iou', 0.0),
    ('max_people', 0),
    ('max_people', 2.5),
    ('max_people', True),
    ('min_person_height_px', -1.0),
    ('keypoint_score_threshold', -0.1),
    ('track_min_hits', 0),
    ('track_max_age_s', -1.0),
    ('track_iou_weight', -0.5),
    ('people_priority', 'height'),
    ('keypoint_crop_scale', 0.5),
    ('detector_model_path', None),
    ('detector_precision', 'fp16'),
    ('keypoint_precision', 'int8'),
])
def test_bad_values_raise_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        FrontEndConfig(**{name: value})


def test_cross_field_rules():
    with pytest.raises(ValueError, match='yolo_pose_model_path'):
        FrontEndConfig(keypoint_backend='yolo_pose')
    with pytest.raises(ValueError, match='detector_candidate_threshold'):
        FrontEndConfig(detector_score_threshold=0.3, detector_candidate_threshold=0.4)
    with pytest.raises(ValueError, match='track_iou_weight'):
        FrontEndConfig(track_iou_weight=0.0, track_keypoint_weight=0.0)


def test_from_dict_round_trip_and_unknown_keys():
    cfg = FrontEndConfig(max_people=3, keypoint_backend='movenet_thunder')
    assert FrontEndConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match='max_peopel'):
        FrontEndConfig.from_dict({'max_peopel': 3})
