"""DiffMesh temporal model: refiner, streaming per-track smoother and the One-Euro baseline.

Usage::

    from hmr_models.diffmesh import DiffMesh, StreamingSmoother
    model = DiffMesh.from_pretrained('out/diffmesh/run1/final')
    smoother = StreamingSmoother(model, body=body)      # or create_smoother(TemporalConfig())
    smoothed = smoother.update(stamp, people.track_ids, per_frame_estimate, people)
"""
from .config import DiffMeshConfig
from .factory import TemporalConfig, create_smoother
from hmr_models.geometry.kinematics import forward_kinematics
from .kinematics import JointModel
from .model import DiffMesh, DiffMeshOutput, WindowBatch
from .one_euro import OneEuroConfig, OneEuroSmoother, one_euro_step
from .schedule import ReverseSchedule, reverse_schedule
from .streaming import DelayedEstimate, StreamingConfig, StreamingResult, StreamingSmoother

__all__ = ['DelayedEstimate', 'DiffMesh', 'DiffMeshConfig', 'DiffMeshOutput', 'JointModel',
           'OneEuroConfig', 'OneEuroSmoother', 'ReverseSchedule', 'StreamingConfig',
           'StreamingResult', 'StreamingSmoother', 'TemporalConfig', 'WindowBatch',
           'create_smoother', 'forward_kinematics', 'one_euro_step', 'reverse_schedule']
