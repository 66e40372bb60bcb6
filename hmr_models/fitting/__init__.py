"""Fitting body estimates to image evidence: keypoint refinement of SMPL estimates.

Usage::

    from hmr_models.fitting import KeypointRefiner, RefineConfig
    refiner = KeypointRefiner(body, RefineConfig())
    fit = refiner.refine(pose, betas, translation, keypoints, scores, boxes, camera)
"""
from .refine import KeypointRefiner, RefineConfig, RefineResult
from .skeleton import KeypointSkeleton

__all__ = ['KeypointRefiner', 'KeypointSkeleton', 'RefineConfig', 'RefineResult']
