"""Launch context: launch configurations (arguments) and the environment for processes."""
import os


class LaunchContext:
    def __init__(self, launch_configurations=None):
        self.launch_configurations = dict(launch_configurations or {})
        self.environment = dict(os.environ)
        self.shutdown_requested = False
        self.shutdown_reason = ''
