"""Motion classes: labels -> class, class-weighted sampling of clips."""
import numpy as np
import pytest

from hmr_models.data.mocap.classes import (MOTION_CLASSES, clip_sampling_weights, motion_class,
                                           parse_class_weights)


def test_classes_from_each_collections_labels():
    assert motion_class('bandai', {'content': 'walk-turn-left'}) == 'standing_walking'
    assert motion_class('bandai', {'content': 'dance-short'}) == 'jumping_sports'
    assert motion_class('deepmimic', {'content': 'getup_faceup'}) == 'lying'
    assert motion_class('deepmimic', {'content': 'crawl'}) == 'crouching_kneeling'
    assert motion_class('cmu_more', {'category': 'bend_pickup'}) == 'crouching_kneeling'
    assert motion_class('cmu_more', {'category': 'walk_stylized'}) == 'standing_walking'
    assert motion_class('postures', {'class': 'sitting'}) == 'sitting'
    assert motion_class('cmu', {}) == 'standing_walking'


def test_class_weights_parse_and_reject_bad_specs():
    assert parse_class_weights('') is None
    assert set(parse_class_weights('balanced')) == set(MOTION_CLASSES)
    assert parse_class_weights('sitting=2,lying=0.5') == {'sitting': 2.0, 'lying': 0.5}
    for bad in ('sleeping=1', 'sitting=x', 'sitting=-1'):
        with pytest.raises(ValueError):
            parse_class_weights(bad)


def test_sampling_gives_each_class_its_share_whatever_its_clip_count():
    # 100 long standing clips and 2 short sitting ones: equal shares when balanced.
    lengths = [900] * 100 + [100, 400]
    classes = ['standing_walking'] * 100 + ['sitting'] * 2
    w = clip_sampling_weights(lengths, classes, {'standing_walking': 1, 'sitting': 1})
    assert np.isclose(w.sum(), 1) and np.isclose(w[:100].sum(), 0.5)
    assert np.isclose(w[101] / w[100], 2.0)              # sqrt of the length within a class
    # Classes without clips drop out; no weights: the old length rule.
    w = clip_sampling_weights(lengths, classes, {'sitting': 1, 'lying': 3})
    assert np.isclose(w[100:].sum(), 1)
    old = clip_sampling_weights(lengths, classes, None)
    assert np.isclose(old[0] / old[100], 3.0)
    with pytest.raises(ValueError, match='no clips'):
        clip_sampling_weights(lengths, classes, {'lying': 1})
