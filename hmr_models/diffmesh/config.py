"""DiffMeshConfig: every size and loss weight of the temporal model, saved with its weights."""
from dataclasses import dataclass
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

    # Schedule (hmr_models.diffmesh.schedule).
    num_frames: int = 16
    num_steps: int = 30
    beta_start: float = 1e-4
    beta_end: float = 1e-3
    beta_kind: str = 'linear'
    # Two-stream step network.
    num_tokens: int = 6          # mesh / condition tokens per frame
    width: int = 64              # token width
    heads: int = 4
    depth: int = 1               # two-stream blocks per reverse step (weights shared by steps)
    mlp_ratio: float = 2.0
    dropout: float = 0.0
    # Condition generator: temporal transformer over the N step slots.
    cond_width: int = 128
    cond_depth: int = 2
    # Inputs.
    use_keypoints: bool = True
    num_keypoints: int = NUM_KEYPOINTS
    num_betas: int = NUM_BETAS
    # Output heads.
    head_kernel: int = 3         # temporal kernel of the residual pose head (odd)
    head_hidden: int = 256
    mix_dim: int = 32            # query/key size of the input-frame averaging (model.mix_inputs)
    residual_init_gain: float = 0.01  # small: an untrained refiner starts close to identity
    # Losses (TCMR-style weights; joints in metres, MSE).
    loss_pose: float = 10.0      # rotation matrices, MSE
    loss_betas: float = 0.5
    loss_joints: float = 1000.0  # root-relative joints
    loss_cond: float = 0.01      # auxiliary: previous frame's condition feature
    # Camera-frame translation (ours: the paper has none). A monocular estimator's depth bias
    # is unobservable from its own outputs, so the main term ignores the window-constant part
    # of the error (it penalises jitter and drift); a small absolute term anchors the mean.
    loss_translation: float = 100.0
    loss_translation_abs: float = 1.0
    loss_joint_velocity: float = 0.0  # optional smoothness term on joint velocities
    # Extra weight of the newest window frame (0 = uniform, as the paper): streaming publishes
    # that frame, estimated from past context only.
    loss_newest_frame: float = 0.0

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
