"""DPMesh (Zhu et al., CVPR 2024): occlusion-robust human mesh recovery with a diffusion prior.

    from hmr_models.dpmesh import DPMesh, DPMeshPredictor, load_config
    model = DPMesh(load_config('compact'))           # or 'sd15' (paper size), 'tiny' (tests)
    model = DPMesh.from_pretrained('path/to/checkpoint')
    estimate = DPMeshPredictor(model, body, runtime).predict(image_rgb, people, camera)

Layout, by role:
- the model and its use: config (profiles), model (DPMesh), checkpoint, predictor (one image ->
  bodies), factory (the pipeline's mesh stage from its parameters);
- parts/: backbone (SD UNet + ControlNet + LoRA, feature taps, fusion), attention
  (cross-attention map recording), regressor (cascade transformer decoder), pose_prior (VQ-VAE
  pose tokenizer, VPoser decoder), keypoint_lifter (2D keypoints -> first SMPL estimate, compact
  profile), keypoints (keypoint sets);
- training/: losses (the NKR student's corrupted keypoints:
  hmr_models.data.synth.keypoint_corruption);
- weights/: sd15 (local SD1.5 loading), ldm_keys (CompVis <-> diffusers names), authors
  (the authors' released DPMesh checkpoints).
"""
from .config import (DPMeshConfig, LossConfig, PoseHeadConfig, RegressorConfig, VQVAEConfig,
                     load_config)
from .model import CropCameras, DPMesh, DPMeshOutput, prepare_images
from .predictor import DPMeshPredictor

__all__ = ['CropCameras', 'DPMesh', 'DPMeshConfig', 'DPMeshOutput', 'DPMeshPredictor',
           'LossConfig', 'PoseHeadConfig', 'RegressorConfig', 'VQVAEConfig', 'load_config',
           'prepare_images']
