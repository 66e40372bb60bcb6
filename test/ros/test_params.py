"""Parameters: declared with descriptions, typed, checked; clear errors when malformed."""
from dataclasses import dataclass, field

import pytest
import rclpy
from rclpy.parameter import Parameter

from hmr_models.pipeline import PipelineConfig
from hmr_ros.params import Param, ParameterError, declare_config, declare_params, positive


@pytest.fixture
def context():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)


def make_node(context, overrides=()):
    return rclpy.create_node('params_test', context=context,
                             parameter_overrides=[Parameter(k, value=v) for k, v in overrides])


def test_declare_params_defaults_descriptions_and_checks(context):
    node = make_node(context, [('rate', 5.0)])
    p = declare_params(node, [Param('rate', 1.0, 'publish rate', positive),
                              Param('name', 'x', 'a name')])
    assert (p.rate, p.name) == (5.0, 'x')
    assert node.describe_parameter('rate').description == 'publish rate'
    node.destroy_node()


def test_wrong_type_and_failed_check_name_the_parameter(context):
    node = make_node(context, [('rate', 'fast')])
    with pytest.raises(ParameterError, match="'rate' must be of type float"):
        declare_params(node, [Param('rate', 1.0, 'publish rate')])
    node.destroy_node()
    node = make_node(context, [('rate', -1.0)])
    with pytest.raises(ParameterError, match="'rate' = -1.0: must be > 0"):
        declare_params(node, [Param('rate', 1.0, 'publish rate', positive)])
    node.destroy_node()


def test_declare_config_from_dataclass(context):
    @dataclass
    class Cfg:
        threshold: float = field(default=0.5, metadata={'help': 'score threshold'})
        names: tuple = ('a', 'b')

        def __post_init__(self):
            if not 0 <= self.threshold <= 1:
                raise ValueError('threshold must be in [0, 1]')

    node = make_node(context, [('threshold', 0.25)])
    cfg = declare_config(node, Cfg)
    assert cfg.threshold == 0.25 and cfg.names == ('a', 'b')
    assert node.describe_parameter('threshold').description == 'score threshold'
    node.destroy_node()
    node = make_node(context, [('threshold', 2.0)])
    with pytest.raises(ParameterError, match=r'threshold must be in \[0, 1\]'):
        declare_config(node, Cfg)
    node.destroy_node()


def test_pipeline_config_rejects_unknown_profile(context):
    node = make_node(context, [('model_profile', 'huge')])
    with pytest.raises(ParameterError, match='model_profile must be one of'):
        declare_config(node, PipelineConfig)
    node.destroy_node()


def test_docs_document_every_hmr_node_parameter_with_its_default(context):
    """docs/PARAMETERS.md (linked from the README) is what a user reads: every parameter, the
    real default; the README's short table must agree with it too."""
    from pathlib import Path
    from hmr_ros import hmr_node
    node = make_node(context)
    declare_params(node, hmr_node.NODE_PARAMS)
    declare_config(node, PipelineConfig)
    for _, namespace, config in hmr_node.STAGES:
        declare_config(node, config, prefix=f'{namespace}.')
    repo = Path(__file__).parents[2]
    docs = (repo / 'docs' / 'PARAMETERS.md').read_text()
    defaults = {name: f'`{node.get_parameter(name).value!r}`' for name in node._parameters
                if name not in ('use_sim_time', 'start_type_description_service')}
    rows = {name: f'| `{name}` | {value} |' for name, value in defaults.items()}
    assert len(rows) > 40
    missing = [row for row in rows.values() if row not in docs]
    assert not missing, f'docs/PARAMETERS.md lacks or misstates: {missing}'
    # The README's short table: single parameters with their real default.
    checked = 0
    for line in (repo / 'README.md').read_text().splitlines():
        cells = [c.strip() for c in line.split('|')[1:-1]]
        if len(cells) == 3 and cells[0].count('`') == 2 and cells[0].strip('`') in defaults:
            assert cells[1] == defaults[cells[0].strip('`')], line
            checked += 1
    assert checked >= 3
    node.destroy_node()
