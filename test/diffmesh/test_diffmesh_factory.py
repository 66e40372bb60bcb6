"""create_smoother: the pipeline's entry to the temporal stage."""
import pytest

from hmr_models.diffmesh import OneEuroSmoother, StreamingSmoother, TemporalConfig, \
    create_smoother
from hmr_models.paths import MissingModelFile


def test_one_euro_needs_no_weights():
    assert isinstance(create_smoother(TemporalConfig(temporal_method='one_euro')),
                      OneEuroSmoother)


def test_diffmesh_from_a_weights_folder(tmp_path, tiny_model, test_body):
    tiny_model.save_pretrained(tmp_path / 'w')
    s = create_smoother(TemporalConfig(temporal_weights=str(tmp_path / 'w')), body=test_body)
    assert isinstance(s, StreamingSmoother) and s.body is test_body
    assert s.model.config == tiny_model.config


def test_missing_weights_say_what_to_do(tmp_path):
    with pytest.raises(MissingModelFile, match="temporal_weights.*train_diffmesh"):
        create_smoother(TemporalConfig(temporal_weights=str(tmp_path / 'none')))


def test_unknown_method():
    with pytest.raises(ValueError, match='temporal_method'):
        TemporalConfig(temporal_method='kalman')
