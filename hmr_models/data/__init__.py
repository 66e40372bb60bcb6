"""Training and evaluation data: real mocap retargeted to SMPL, synthetic scenes, writers.

- :mod:`hmr_models.data.mocap`: parsers (BVH, DeepMimic), retargeting to SMPL-24, the cached
  pose corpus (``python -m hmr_models.data.mocap.build_corpus``) and augmentation.
- :mod:`hmr_models.data.synth`: multi-person scenes with cameras, occluders, visibility, detector
  and estimator error models, and writers (training samples, sequences, rosbags).
- :mod:`hmr_models.data.datasets`: loaders for the public dataset formats.
"""
