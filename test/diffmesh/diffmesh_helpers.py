"""Helpers shared by the DiffMesh tests (a module of its own: every test folder has a conftest)."""
from hmr_models.diffmesh import DiffMeshConfig


def tiny_config(**kw):
    """A small, fast model: still every part of the real one."""
    base = dict(num_frames=8, num_steps=10, num_tokens=2, width=32, heads=2, depth=1,
                cond_width=32, cond_depth=1, head_hidden=64)
    base.update(kw)
    return DiffMeshConfig(**base)
