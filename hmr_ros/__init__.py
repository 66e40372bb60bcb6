"""ROS 2 layer of hmr_ros: thin nodes (conversion, parameters, QoS, publishing), no model logic.

The generated message module ``hmr_ros.msg`` is installed by the interface build into
site-packages (or the colcon install space), possibly apart from these sources, so the
package path is extended to every ``hmr_ros`` directory on ``sys.path``.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
