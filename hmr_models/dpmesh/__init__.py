"""DPMesh (Zhu et al., CVPR 2024): occlusion-robust human mesh recovery with a diffusion prior.

    from hmr_models.dpmesh import DPMesh, DPMeshPredictor, load_config
    model = DPMesh(load_config('compact'))           # or 'sd15' (paper size), 'tiny' (tests)
    model = DPMesh.from_pretrained('path/to/checkpoint')
    estimate = DPMeshPredictor(model, body, runtime).predict(image_rgb, people, camera)

Modules: config (profiles), backbone (SD UNet + ControlNet + LoRA, feature taps, fusion),
attention (cross-attention map recording), regressor (cascade transformer decoder),
pose_prior (VQ-VAE pose tokenizer, VPoser decoder), keypoint_lifter (2D keypoints -> first SMPL
estimate, compact profile), model (DPMesh), losses, keypoint_noise
(NKR student inputs), checkpoint, sd_weights (local SD1.5 loading), ldm_keys (CompVis <->
diffusers names), convert_authors (released DPMesh checkpoints), predictor.
"""
from .config import (DPMeshConfig, LossConfig, PoseHeadConfig, RegressorConfig, VQVAEConfig,
                     load_config)
from .model import CropCameras, DPMesh, DPMeshOutput, prepare_images
from .predictor import DPMeshPredictor

__all__ = ['CropCameras', 'DPMesh', 'DPMeshConfig', 'DPMeshOutput', 'DPMeshPredictor',
           'LossConfig', 'PoseHeadConfig', 'RegressorConfig', 'VQVAEConfig', 'load_config',
           'prepare_images']
