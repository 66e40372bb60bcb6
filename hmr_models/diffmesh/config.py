"""DiffMeshConfig: every size and loss weight of the temporal model, saved with its weights."""
from dataclasses import dataclass, field
import json
from pathlib import Path

from hmr_models.config import Config
from hmr_models.types import NUM_BETAS, NUM_KEYPOINTS


@dataclass
class DiffMeshConfig(Config):
    """Architecture, schedule and loss weights of a DiffMesh refiner.

    The defaults are the compact CPU profile: 16 frames, 30 reverse steps, 6 tokens of width 64
    per frame and one two-stream block per step (the paper: 17 joint tokens of width 128 and
    a 4-block transformer per step), ~1.4M parameters.
    """

    num_frames: int = field(default=16, metadata={
        'help': 'Schedule (hmr_models.diffmesh.schedule).'})
    num_steps: int = 30
    beta_start: float = 1e-4
    beta_end: float = 1e-3
    beta_kind: str = 'linear'
    num_tokens: int = field(default=6, metadata={'help': 'mesh / condition tokens per frame'})
    width: int = field(default=64, metadata={'help': 'token width'})
    heads: int = 4
    depth: int = field(default=1, metadata={
        'help': 'two-stream blocks per reverse step (weights shared by steps)'})
    mlp_ratio: float = 2.0
    dropout: float = 0.0
    cond_width: int = field(default=128, metadata={
        'help': 'Condition generator: temporal transformer over the N step slots.'})
    cond_depth: int = 2
    use_keypoints: bool = field(default=True, metadata={'help': 'Inputs.'})
    num_keypoints: int = NUM_KEYPOINTS
    num_betas: int = NUM_BETAS
    head_kernel: int = field(default=3, metadata={
        'help': 'temporal kernel of the residual pose head (odd)'})
    head_hidden: int = 256
    mix_dim: int = field(default=32, metadata={
        'help': 'query/key size of the input-frame averaging (model.mix_inputs)'})
    residual_init_gain: float = field(default=0.01, metadata={
        'help': 'small: an untrained refiner starts close to identity'})
    loss_pose: float = field(default=10.0, metadata={'help': 'rotation matrices, MSE'})
    loss_betas: float = 0.5
    loss_joints: float = field(default=1000.0, metadata={'help': 'root-relative joints'})
    loss_cond: float = field(default=0.01, metadata={
        'help': "auxiliary: previous frame's condition feature"})
    loss_translation: float = field(default=100.0, metadata={
        'help': "Camera-frame translation (ours: the paper has none). A monocular estimator's "
                "depth bias is unobservable from its own outputs, so the main term ignores the "
                "window-constant part of the error (it penalises jitter and drift); a small "
                "absolute term anchors the mean."})
    loss_translation_abs: float = 1.0
    loss_joint_velocity: float = field(default=0.0, metadata={
        'help': 'optional smoothness term on joint velocities'})
    loss_newest_frame: float = field(default=0.0, metadata={
        'help': 'Extra weight of the newest window frame (0 = uniform, as the paper): streaming '
                'publishes that frame, estimated from past context only.'})

    def validate(self):
        if self.num_steps < self.num_frames:
            raise ValueError(f'num_steps ({self.num_steps}) must be >= num_frames '
                             f'({self.num_frames})')
        if self.width % self.heads:
            raise ValueError(f'width ({self.width}) must be divisible by heads ({self.heads})')
        if self.head_kernel % 2 == 0:
            raise ValueError(f'head_kernel must be odd, got {self.head_kernel}')

    def save(self, path):
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path):
        return cls.from_dict(json.loads(Path(path).read_text()))
