"""Weights from outside this package.

Local SD1.5 / ControlNet files (sd15), CompVis <-> diffusers parameter names (ldm_keys) and the
authors' released DPMesh checkpoints (authors).
"""
