"""Dataset loaders for DPMesh training and evaluation, all yielding one sample dict contract.

- `PW3DSequences`: 3DPW official sequence pickles (+ imageFiles).
- `COCOKeypoints`: COCO / CrowdPose keypoint json with NeuralAnnot or EFT pseudo-GT SMPL.
- `PreprocessedNPZ`: Human3.6M, MuCo and others in the SPIN-style preprocessed npz layout.
- `SyntheticSamples`: the project's synthetic shards (hmr_models.data.synth writers).
- `SyntheticKeypoints`: the same shards, keypoints and labels only (keypoint lifter).
- `SampleList`: samples already in memory.
See `sample.py` for the dict every loader returns.
"""
from .coco import COCOKeypoints, read_smpl_fits
from .formats import FORMATS, remap
from .preprocessed import PreprocessedNPZ
from .pw3d import PW3DSequences, read_sequence
from .sample import SAMPLE_SHAPES, crop_sample, sample_from_crop, validate_sample
from .synthetic import SampleList, SyntheticKeypoints, SyntheticSamples

__all__ = ['COCOKeypoints', 'FORMATS', 'PW3DSequences', 'PreprocessedNPZ', 'SAMPLE_SHAPES',
           'SampleList', 'SyntheticKeypoints', 'SyntheticSamples', 'crop_sample',
           'read_sequence', 'read_smpl_fits', 'remap', 'sample_from_crop', 'validate_sample']
