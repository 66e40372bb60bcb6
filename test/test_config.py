"""hmr_models.config: one strict loader, one validation hook, descriptions from metadata."""
from dataclasses import dataclass, field, fields, replace

import pytest

from hmr_models.awareness.humans import AwarenessConfig
from hmr_models.config import Config, field_docs
from hmr_models.diffmesh import OneEuroConfig, StreamingConfig, TemporalConfig
from hmr_models.dpmesh.factory import MeshConfig
from hmr_models.fitting import RefineConfig
from hmr_models.frontend import FrontEndConfig
from hmr_models.pipeline import PipelineConfig


@dataclass
class Inner:
    size: int = 2


@dataclass
class Example(Config):
    alpha: float = field(default=1.0, metadata={'help': 'the alpha'})
    span: tuple = (0.0, 1.0)
    inner: Inner = field(default_factory=Inner)

    def validate(self):
        if self.alpha < 0:
            raise ValueError(f'alpha must be >= 0, got {self.alpha}')


def test_loader_is_strict_nested_and_validates():
    cfg = Example.from_dict({'alpha': 2.0, 'span': [0.5, 2.0], 'inner': {'size': 5}})
    assert cfg == Example(2.0, (0.5, 2.0), Inner(5))
    assert Example.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()['span'] == [0.5, 2.0]                  # what YAML / JSON write
    with pytest.raises(ValueError, match=r"unknown config key.*'run\.inner'.*\['sise'\]"):
        Example.from_dict({'inner': {'sise': 5}}, 'run')
    for make in (lambda: Example(alpha=-1.0), lambda: Example.from_dict({'alpha': -1}),
                 lambda: replace(cfg, alpha=-1.0)):
        with pytest.raises(ValueError, match='alpha must be >= 0'):
            make()                                   # no way to an unchecked instance
    assert field_docs(Example) == {'alpha': 'the alpha'}


@pytest.mark.parametrize('cls', [PipelineConfig, FrontEndConfig, MeshConfig, TemporalConfig,
                                 StreamingConfig, OneEuroConfig, RefineConfig, AwarenessConfig])
def test_every_ros_parameter_has_a_description(cls):
    docs = field_docs(cls)
    assert issubclass(cls, Config)
    assert [f.name for f in fields(cls) if not docs.get(f.name)] == []


def test_real_descriptions():
    front = field_docs(FrontEndConfig)
    assert 'movenet_thunder' in front['keypoint_backend']
    assert front['max_people'].startswith('people kept per image')
    assert 'cuda' in field_docs(PipelineConfig)['device']
