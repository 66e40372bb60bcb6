"""Node: a ROS 2 executable of a package, with parameters, remappings and a name."""
from launch.actions import ExecuteProcess


class Node(ExecuteProcess):
    def __init__(self, *, executable, package=None, name=None, namespace=None, parameters=None,
                 remappings=None, arguments=None, ros_arguments=None, output='log', **kwargs):
        super().__init__(cmd=[], name=name, output=output, **kwargs)
        self.package = package
        self.executable = executable
        self.node_name = name
        self.node_namespace = namespace
        self.parameters = list(parameters or [])
        self.remappings = list(remappings or [])
        self.arguments = list(arguments or [])
        self.ros_arguments = list(ros_arguments or [])
