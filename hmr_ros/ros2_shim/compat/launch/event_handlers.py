"""OnProcessExit: run actions (or a callable) when a given process exits."""


class OnProcessExit:
    def __init__(self, *, target_action=None, on_exit=None):
        self.target_action = target_action
        self.on_exit = on_exit

    def matches(self, action):
        return self.target_action is None or self.target_action is action
