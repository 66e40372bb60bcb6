"""One way to write a configuration: a dataclass deriving from `Config`.

- Every field's description is its ``metadata['help']`` (``field(default=..., metadata=
  {'help': ...})``): the ROS parameter descriptions, `docs/PARAMETERS.md` and the training
  configs' help all read it (`field_docs`).
- Checks live in ``validate()``; `Config.__post_init__` runs it, so no instance (built in code,
  from YAML, from ROS parameters, by `dataclasses.replace`) is ever unchecked.
- `Config.from_dict` is the one strict loader: unknown keys raise with their dotted path (a typo
  would otherwise silently change nothing), nested mappings become nested dataclasses and YAML
  lists become the tuples the configs use; `to_dict` is the way back.
"""
from dataclasses import MISSING, asdict, fields, is_dataclass


class Config:
    """Base of the configuration dataclasses (see the module doc)."""

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raise ValueError naming the field when a value is out of range (override)."""

    @classmethod
    def from_dict(cls, data, where=None):
        """`cls` from a mapping; ValueError names an unknown key with its dotted path."""
        return build_dataclass(cls, data, where or cls.__name__)

    def to_dict(self):
        return _plain(asdict(self))


def build_dataclass(cls, data, where):
    """Dataclass `cls` (a Config or any dataclass) from a mapping, strictly (see module doc)."""
    data = dict(data or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown config key(s) in '{where}': {unknown}; "
                         f'known keys: {sorted(known)}')
    kwargs = {}
    for name, value in data.items():
        f = known[name]
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default) and isinstance(value, dict):
            kwargs[name] = build_dataclass(type(default), value, f'{where}.{name}')
        elif isinstance(default, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def field_docs(cls):
    """{field name: description} of a dataclass, from each field's metadata['help']."""
    return {f.name: f.metadata['help'] for f in fields(cls) if f.metadata.get('help')}


def _plain(obj):
    """Tuples -> lists, recursively (what YAML and JSON write)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
