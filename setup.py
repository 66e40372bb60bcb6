"""pip-only install of hmr_ros (see README, "Install").

The messages are built by CMake (scripts/setup.sh); this installs the Python packages, the
executables ROS looks up in lib/hmr_ros, the ament index marker and share/hmr_ros.
"""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'hmr_ros'
# The message build (CMake) registers a distribution named hmr_ros for the generated
# hmr_ros.msg module; a different distribution name keeps pip from uninstalling it.

setup(
    name='hmr-ros-py',
    version='0.1.0',
    packages=find_packages(include=['hmr_ros', 'hmr_ros.*', 'hmr_models', 'hmr_models.*']),
    include_package_data=True,
    package_data={'hmr_models': ['assets/**/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
        ('share/' + PACKAGE + '/config', glob('config/*')),
        ('share/' + PACKAGE + '/media', glob('media/*')),
        ('lib/' + PACKAGE, glob('scripts/nodes/*')),
    ],
    python_requires='>=3.10',
    zip_safe=False,
    entry_points={'console_scripts': [
        'hmr-bag = hmr_ros.bag_tool:main',
        'hmr-convert-smpl = hmr_models.body.convert_smpl:main',
        'hmr-build-corpus = hmr_models.data.mocap.build_corpus:main',
        'hmr-synth = hmr_ros.ground_truth_bags:main',
        'hmr-eval = hmr_ros.eval_tool:main',
        'hmr-convert-3dpw = hmr_ros.convert_3dpw:main',
    ]},
)
