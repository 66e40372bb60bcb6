"""Events the runner understands."""


class Shutdown:
    def __init__(self, *, reason='reason not given'):
        self.reason = reason
