"""FindPackageShare: the share directory of a package, through the ament index."""
from launch.some_substitutions_type import Substitution, perform_substitutions


class FindPackageShare(Substitution):
    def __init__(self, package):
        self.package = package

    def perform(self, context):
        from ament_index_python.packages import get_package_share_directory
        return get_package_share_directory(perform_substitutions(context, self.package))
