"""Declaring ROS parameters with defaults, descriptions and checks, and failing clearly.

Nodes describe their parameters as `Param` lists, or reuse an hmr_models config dataclass
(each field becomes a parameter of the same name, its description taken from the field's
``metadata['help']``), so config/*.yaml, the ROS parameters and the Python configs share names.
"""
from dataclasses import MISSING, dataclass, fields, is_dataclass
from types import SimpleNamespace
from typing import Any, Callable, Optional

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, ParameterException

from hmr_models.config import field_docs


class ParameterError(ValueError):
    """A parameter has a wrong type or value; the message names it and says what is expected."""


@dataclass
class Param:
    name: str
    default: Any
    description: str
    check: Optional[Callable[[Any], Optional[str]]] = None  # returns an error text or None
    # Accept any type and normalise with `convert` (e.g. 'auto' or a bool from the command
    # line, where `every_frame:=false` arrives as a bool).
    convert: Optional[Callable[[Any], Any]] = None


FIXED_AT_START = 'fixed at start-up: restart the node to change it'


def _declare(node, name, default, description, live=False, dynamic=False):
    if node.has_parameter(name):
        # Two configs share a field (e.g. temporal_track_timeout): one parameter serves both.
        return node.get_parameter(name).value
    # Parameters the node cannot apply while running are read-only, so a set is refused with a
    # reason instead of succeeding and changing nothing.
    desc = ParameterDescriptor(description=description, read_only=not live,
                               additional_constraints='' if live else FIXED_AT_START,
                               dynamic_typing=dynamic)
    try:
        return node.declare_parameter(name, default, desc).value
    except InvalidParameterTypeException as exc:
        raise ParameterError(
            f"parameter '{name}' must be of type {type(default).__name__} "
            f'(default {default!r}): {exc}') from None
    except ParameterException as exc:
        raise ParameterError(f"parameter '{name}': {exc}") from None


def declare_params(node, params, live=()):
    """Declare `params` on `node` and return their values as a namespace; raise ParameterError.

    Parameters named in `live` may be set while the node runs (the node applies them in its
    set-parameters callback); the others are read-only.
    """
    values = {}
    for p in params:
        value = _declare(node, p.name, p.default, p.description, p.name in live,
                         dynamic=p.convert is not None)
        if p.convert is not None:
            value = p.convert(value)
        if p.check is not None:
            problem = p.check(value)
            if problem:
                raise ParameterError(f"parameter '{p.name}' = {value!r}: {problem}")
        values[p.name] = value
    return SimpleNamespace(**values)


def declare_config(node, config_cls, prefix='', live=()):
    """Declare one parameter per field of an hmr_models config dataclass; return an instance.

    Descriptions come from the fields' metadata['help'] (hmr_models.config). Fields
    whose default is None or a non-scalar are skipped (ROS parameters need a type). Fields
    named in `live` may change while the node runs; the others are read-only.
    The config's own validation (ValueError from validate()) becomes a ParameterError.
    """
    if not is_dataclass(config_cls):
        raise TypeError(f'{config_cls} is not a dataclass')
    kwargs = {}
    docs = field_docs(config_cls)
    for f in fields(config_cls):
        default = f.default
        if default is MISSING and f.default_factory is not MISSING:
            default = f.default_factory()
        if default is MISSING or not isinstance(default, (bool, int, float, str, list, tuple)):
            continue
        if isinstance(default, tuple):
            default = list(default)
        if isinstance(default, list) and not default:
            continue  # an empty list has no ROS type
        value = _declare(node, prefix + f.name, default, docs.get(f.name, f.name),
                         f.name in live)
        if isinstance(f.default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    try:
        return config_cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f'invalid {config_cls.__name__} parameters: {exc}') from None


def positive(value):
    return None if value > 0 else 'must be > 0'


def non_negative(value):
    return None if value >= 0 else 'must be >= 0'


def one_of(*choices):
    def check(value):
        return None if value in choices else f'must be one of {choices}'
    return check


def text_choice(value):
    """A string parameter that may also arrive as a bool or number ('false' -> False)."""
    return str(value).strip().lower()
