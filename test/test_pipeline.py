"""HMRPipeline as the node builds it: front-end -> DPMesh -> DiffMesh on a real frame."""
import cv2
import numpy as np
import pytest
import torch

from diffmesh.diffmesh_helpers import tiny_config
from hmr_models.diffmesh import DiffMesh, OneEuroSmoother, StreamingSmoother, TemporalConfig
from hmr_models.dpmesh import DPMesh, DPMeshPredictor, load_config
from hmr_models.dpmesh.factory import MeshConfig
from hmr_models.paths import ASSETS_DIR, MissingModelFile
from hmr_models.pipeline import PipelineConfig, StageConfigs, build_pipeline

REPO_MEDIA = ASSETS_DIR.parents[1] / 'media' / 'sample_sports2d.mp4'


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Small random DPMesh and DiffMesh checkpoints (the plumbing does not need trained ones)."""
    root = tmp_path_factory.mktemp('weights')
    torch.manual_seed(0)
    DPMesh(load_config('tiny')).save_pretrained(root / 'dpmesh')
    DiffMesh(tiny_config()).save_pretrained(root / 'diffmesh')
    return root


@pytest.fixture(scope='module')
def frames():
    cap = cv2.VideoCapture(str(REPO_MEDIA))
    out = []
    for _ in range(12):
        ok, bgr = cap.read()
        assert ok
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


def build(checkpoints, **kw):
    method = kw.pop('temporal_method', 'diffmesh')
    config = PipelineConfig(threads=1, **kw)
    stages = StageConfigs(mesh=MeshConfig(dpmesh_checkpoint=str(checkpoints / 'dpmesh')),
                          temporal=TemporalConfig(method, str(checkpoints / 'diffmesh')))
    return build_pipeline(config, stages)


def test_full_pipeline_gives_per_frame_and_smoothed_bodies(checkpoints, frames):
    pipeline = build(checkpoints)
    assert isinstance(pipeline.mesh, DPMeshPredictor)
    assert isinstance(pipeline.temporal, StreamingSmoother)
    for i, frame in enumerate(frames):
        result = pipeline.process(frame, 10.0 + i / 30, None)
    n = len(result.people)
    assert n >= 1
    bodies, smoothed = result.bodies, result.smoothed
    assert bodies.pose.shape == (n, 72) and smoothed.pose.shape == (n, 72)
    assert bodies.vertices.shape == (n, pipeline.mesh.body.num_vertices, 3)
    assert smoothed.temporal and not bodies.temporal
    assert np.isfinite(smoothed.joints).all() and smoothed.joints.shape == (n, 24, 3)
    # A body in front of the camera: positive depth.
    assert (bodies.translation[:, 2] > 0).all()
    assert {'frontend', 'mesh', 'temporal', 'total'} <= set(result.timings_ms)


def test_one_euro_and_no_temporal(checkpoints, frames):
    pipeline = build(checkpoints, temporal_method='one_euro')
    assert isinstance(pipeline.temporal, OneEuroSmoother)
    result = pipeline.process(frames[0], 1.0, None)
    assert result.smoothed is not None and result.smoothed.temporal
    off = build(checkpoints, enable_temporal=False)
    assert off.temporal is None and off.process(frames[0], 1.0, None).smoothed is None


def test_frontend_only_loads_no_mesh_model():
    pipeline = build_pipeline(PipelineConfig(model_profile='frontend_only', threads=1))
    assert pipeline.mesh is None and pipeline.temporal is None


def test_missing_weights_name_the_parameter(tmp_path):
    with pytest.raises(MissingModelFile, match='dpmesh_checkpoint'):
        build_pipeline(PipelineConfig(model_profile='sd15', threads=1))
    with pytest.raises(MissingModelFile, match='dpmesh_checkpoint'):
        build_pipeline(PipelineConfig(threads=1),
                       StageConfigs(mesh=MeshConfig(dpmesh_checkpoint=str(tmp_path / 'no'))))
    with pytest.raises(ValueError, match='enable_tracking'):
        PipelineConfig(enable_tracking=False)


def test_bundled_defaults_load():
    """The shipped compact weights (what live.launch.py runs) are present and load."""
    pipeline = build_pipeline(PipelineConfig(threads=1))
    assert pipeline.mesh.config.profile == 'compact'
    assert isinstance(pipeline.temporal, StreamingSmoother)
