"""LaunchDescription: an ordered list of launch entities."""
from launch.actions import DeclareLaunchArgument


class LaunchDescription:
    def __init__(self, initial_entities=None):
        self.entities = list(initial_entities or [])

    def add_action(self, action):
        self.entities.append(action)

    def add_entity(self, entity):
        self.entities.append(entity)

    def get_launch_arguments(self):
        return [e for e in self.entities if isinstance(e, DeclareLaunchArgument)]
