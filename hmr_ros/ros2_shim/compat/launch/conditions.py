"""IfCondition / UnlessCondition with the real launch's truth values."""
from launch.some_substitutions_type import perform_substitutions


def _truth(text):
    value = text.strip().lower()
    if value in ('true', '1'):
        return True
    if value in ('false', '0'):
        return False
    raise ValueError(f"condition expects 'true', 'false', '1' or '0', got '{text}'")


class IfCondition:
    def __init__(self, predicate_expression):
        self.predicate_expression = predicate_expression

    def evaluate(self, context):
        return _truth(perform_substitutions(context, self.predicate_expression))


class UnlessCondition(IfCondition):
    def evaluate(self, context):
        return not super().evaluate(context)
