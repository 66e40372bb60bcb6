"""The launch actions hmr_ros's launch files use (executed by hmr_ros.ros2_shim.runner)."""


class Action:
    def __init__(self, *, condition=None):
        self.condition = condition


class DeclareLaunchArgument(Action):
    def __init__(self, name, *, default_value=None, description='no description given',
                 choices=None, **kwargs):
        super().__init__(**kwargs)
        self.name = name
        self.default_value = default_value
        self.description = description
        self.choices = choices


class SetEnvironmentVariable(Action):
    def __init__(self, name, value, **kwargs):
        super().__init__(**kwargs)
        self.name = name
        self.value = value


class LogInfo(Action):
    def __init__(self, *, msg, **kwargs):
        super().__init__(**kwargs)
        self.msg = msg


class GroupAction(Action):
    def __init__(self, actions, **kwargs):
        super().__init__(**kwargs)
        self.actions = list(actions)


class OpaqueFunction(Action):
    def __init__(self, *, function, args=None, kwargs=None, **action_kwargs):
        super().__init__(**action_kwargs)
        self.function = function
        self.args = args or []
        self.kwargs = kwargs or {}


class RegisterEventHandler(Action):
    def __init__(self, event_handler, **kwargs):
        super().__init__(**kwargs)
        self.event_handler = event_handler


class EmitEvent(Action):
    def __init__(self, *, event, **kwargs):
        super().__init__(**kwargs)
        self.event = event


class ExecuteProcess(Action):
    def __init__(self, *, cmd, name=None, output='log', additional_env=None, **kwargs):
        super().__init__(condition=kwargs.pop('condition', None))
        self.cmd = cmd
        self.name = name
        self.output = output
        self.additional_env = additional_env or {}
        self.extra = kwargs
