"""The substitutions hmr_ros's launch files use."""
import os

from launch.some_substitutions_type import Substitution, perform_substitutions


class TextSubstitution(Substitution):
    def __init__(self, *, text):
        self.text = text

    def perform(self, context):
        return self.text


class LaunchConfiguration(Substitution):
    def __init__(self, variable_name, *, default=None):
        self.variable_name = variable_name
        self.default = default

    def perform(self, context):
        name = perform_substitutions(context, self.variable_name)
        if name in context.launch_configurations:
            return context.launch_configurations[name]
        if self.default is not None:
            return perform_substitutions(context, self.default)
        raise KeyError(f"launch configuration '{name}' does not exist")


class EnvironmentVariable(Substitution):
    def __init__(self, name, *, default_value=None):
        self.name = name
        self.default_value = default_value

    def perform(self, context):
        name = perform_substitutions(context, self.name)
        if name in context.environment:
            return context.environment[name]
        if self.default_value is None:
            raise KeyError(f"environment variable '{name}' does not exist")
        return perform_substitutions(context, self.default_value)


class PathJoinSubstitution(Substitution):
    def __init__(self, substitutions):
        self.substitutions = substitutions

    def perform(self, context):
        return os.path.join(*[perform_substitutions(context, s) for s in self.substitutions])


class PythonExpression(Substitution):
    def __init__(self, expression):
        self.expression = expression

    def perform(self, context):
        import math  # noqa: F401  (the real implementation exposes math to expressions)
        return str(eval(perform_substitutions(context, self.expression), {'math': math}))
