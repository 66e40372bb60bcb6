"""Named parameter variants of a benchmark run, given as 'name:key=value,...' options."""
from dataclasses import fields


def parse_variant(spec, configs, option='--variant'):
    """'name:k=v,k=v' -> (name, {k: v typed as the field k of one of the `configs` classes}).

    An unknown key stops the run with a message naming the option and the key.
    """
    name, _, rest = spec.partition(':')
    types = {f.name: type(f.default) for cls in configs for f in fields(cls)}
    values = {}
    for item in filter(None, rest.split(',')):
        key, _, raw = item.partition('=')
        if key not in types:
            raise SystemExit(f'{option} {spec!r}: unknown parameter {key!r}')
        values[key] = typed_value(types[key], raw)
    return name, values


def typed_value(kind, raw):
    """Command-line text `raw` as a value of the field type `kind` (bools: 1, true, yes)."""
    return raw.strip().lower() in ('1', 'true', 'yes') if kind is bool else kind(raw)


def parse_refine(spec, option='--refine'):
    """'name:refine_k=v,...' -> (name, hmr_models.fitting.RefineConfig with those values)."""
    from hmr_models.fitting import RefineConfig
    name, values = parse_variant(spec, (RefineConfig,), option=option)
    return name, RefineConfig(**values)
