"""DPMesh's network parts.

Diffusion backbone, attention recording, cascade regressor, pose priors, keypoint lifter and
the keypoint sets the model is conditioned on.
"""
