"""DPMesh's network parts: diffusion backbone, attention recording, cascade regressor, pose
priors, keypoint lifter and the keypoint sets the model is conditioned on."""
