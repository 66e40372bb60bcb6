"""Fast DDS settings for camera images between processes on one machine.

hmr_ros's launch files, tools and benchmarks run their processes with the participant profile
`config/fastdds_large_images.xml` (shared memory large enough for whole images; why: see the
file), unless the user has chosen a Fast DDS setting already: then theirs is kept.
"""
import os

from hmr_ros.node_main import share_file

PROFILE_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
# Any of these set by the user means: the user chose the transports.
USER_SETTINGS = (PROFILE_VARIABLE, 'FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_BUILTIN_TRANSPORTS')


def profile_path():
    return str(share_file('config', 'fastdds_large_images.xml'))


def large_image_environment(environ=None, profile=None):
    """{variable: value} to add to `environ` (default os.environ); {} when the user chose.

    `profile`: the profile file (default: the installed one, `profile_path()`).
    """
    environ = os.environ if environ is None else environ
    if any(environ.get(name) for name in USER_SETTINGS):
        return {}
    return {PROFILE_VARIABLE: str(profile or profile_path())}


def use_large_image_transport(environ=None, profile=None):
    """Set the profile in `environ` (default os.environ) unless the user chose; returns it."""
    environ = os.environ if environ is None else environ
    environ.update(large_image_environment(environ, profile))
    return environ
