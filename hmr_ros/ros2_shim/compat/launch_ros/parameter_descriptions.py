"""ParameterValue: a parameter value with an explicit type."""


class ParameterValue:
    def __init__(self, value, *, value_type=None):
        self.value = value
        self.value_type = value_type
