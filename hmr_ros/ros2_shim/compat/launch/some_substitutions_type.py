"""Substitution base type and evaluation of 'some substitutions' (str, Substitution or lists)."""


class Substitution:
    """Something evaluated to text at launch time."""

    def perform(self, context):
        raise NotImplementedError


def perform_substitutions(context, value):
    """Evaluate a str, a Substitution, or a list of them (concatenated), to a str."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Substitution):
        return value.perform(context)
    if isinstance(value, (list, tuple)):
        return ''.join(perform_substitutions(context, v) for v in value)
    return str(value)
