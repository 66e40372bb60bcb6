"""Parameter descriptions come from the comments beside config fields."""
from dataclasses import dataclass, field

from hmr_models.config_docs import field_docs
from hmr_models.frontend import FrontEndConfig
from hmr_models.pipeline import PipelineConfig


@dataclass
class Example:
    # --- section ----
    alpha: float = 1.0          # inline wins
    # A comment above,
    # on two lines.
    beta: int = 2
    gamma: str = 'x'
    delta: float = field(default=0.5, metadata={'help': 'metadata wins over comments'})  # no


def test_inline_above_and_metadata():
    docs = field_docs(Example)
    assert docs['alpha'] == 'inline wins'
    assert docs['beta'] == 'A comment above, on two lines.'
    assert 'gamma' not in docs
    assert docs['delta'] == 'metadata wins over comments'


def test_real_configs_are_documented():
    front = field_docs(FrontEndConfig)
    assert 'movenet_thunder' in front['keypoint_backend']
    assert front['max_people'].startswith('people kept per image')
    assert 'cuda' in field_docs(PipelineConfig)['device']
