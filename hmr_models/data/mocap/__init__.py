"""Real motion capture on SMPL's 24-joint tree.

Parse (:mod:`.bvh`, :mod:`.deepmimic`) -> retarget (:mod:`.retarget` with the rigs of
:mod:`.rigs`) -> :class:`.motion.SMPLMotion` at 30 fps -> cached corpus (:mod:`.corpus`).
"""
from .augment import mirror, random_yaw, rotate_yaw, speed_change  # noqa: F401
from .corpus import CorpusClip, PoseCorpus, build_corpus, default_cache_dir  # noqa: F401
from .motion import SMPLMotion, resample, smpl_forward_kinematics  # noqa: F401
from .retarget import calibrate, retarget, target_rest_joints  # noqa: F401
