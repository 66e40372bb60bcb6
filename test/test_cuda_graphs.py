"""Backend 'cuda_graphs': padded batches give the rows' own answers; graphs where CUDA exists."""
import numpy as np
import pytest
import torch

from diffmesh.diffmesh_helpers import tiny_config
from hmr_models.cuda_graphs import buckets_up_to, GraphedCallable
from hmr_models.diffmesh import DiffMesh, StreamingConfig, StreamingSmoother
from hmr_models.dpmesh import DPMesh, DPMeshPredictor, load_config
from hmr_models.dpmesh.factory import MeshConfig, create_mesh_predictor
from hmr_models.runtime import Runtime, resolve_runtime
from hmr_models.types import BodyEstimate, People

TORCH = Runtime(device='cpu', backend='torch')
PADDED = Runtime(device='cpu', backend='cuda_graphs')   # no CUDA here: padding, run eagerly
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


class RowNet(torch.nn.Module):
    """Rows handled independently (Linear + LayerNorm); records the batch sizes it saw."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.LayerNorm(16),
                                       torch.nn.ReLU(), torch.nn.Linear(16, 4))
        self.seen = []

    def forward(self, x, y, index):
        self.seen.append(x.shape[0])
        h = self.net(torch.cat([x, y], -1))
        return h.index_select(1, index), h.sum(-1)


def people_and_estimate(rng, n):
    est = BodyEstimate(pose=rng.normal(0, 0.2, (n, 72)).astype(np.float32),
                       betas=np.zeros((n, 10), np.float32),
                       translation=np.stack([[i - 1.0, 0.0, 3.0 + i] for i in range(n)]
                                            ).astype(np.float32).reshape(n, 3),
                       joints=np.zeros((n, 24, 3), np.float32),
                       joint_confidence=np.ones((n, 24), np.float32))
    people = People(boxes=np.tile([[100, 100, 200, 400]], (n, 1)).astype(np.float32),
                    scores=np.ones(n, np.float32),
                    keypoints=rng.uniform(100, 400, (n, 17, 2)).astype(np.float32),
                    keypoint_scores=rng.uniform(0.2, 1.0, (n, 17)).astype(np.float32),
                    track_ids=np.arange(n) + 4)
    return people, est


def test_buckets_pad_and_cut_back_to_the_rows_given():
    net = RowNet().eval()
    graphed = GraphedCallable(net, (True, True, False), buckets=(1, 2, 4), capture=False)
    assert [graphed.bucket(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 4, 5]
    assert buckets_up_to(10) == (1, 2, 4, 8, 16) and buckets_up_to(3) == (1, 2, 4)
    assert buckets_up_to(40) == (1, 2, 4, 8, 16)
    index = torch.tensor([0, 3])
    with torch.no_grad():
        for n in (1, 3, 4, 6, 0):
            x, y = torch.randn(n, 4), torch.randn(n, 2)
            net.seen.clear()
            got = graphed(x, y, index)
            want = net(x, y, index)
            assert len(got) == 2 and all(g.shape == w.shape for g, w in zip(got, want))
            for g, w in zip(got, want):
                torch.testing.assert_close(g, w)
            assert net.seen[0] == (graphed.bucket(n) if 0 < n <= 4 else n)
    assert graphed.captured == 0
    with pytest.raises(ValueError, match='3 declared'):
        graphed(torch.zeros(1, 4), torch.zeros(1, 2))


def test_cuda_graphs_need_a_gpu():
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU')
    with pytest.raises(ValueError, match='cuda_graphs needs a CUDA device'):
        resolve_runtime('cpu', 'float32', 1, 'cuda_graphs')


def test_dpmesh_padded_network_matches_torch(test_body):
    """Both network interfaces (one graph per method): the tiny profile and the bundled one."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (480, 640, 3), np.uint8)
    people, _ = people_and_estimate(rng, 3)
    torch.manual_seed(0)
    tiny = DPMesh(load_config('tiny'))
    plain = DPMeshPredictor(tiny, test_body, TORCH).predict(frame, people)
    padded = DPMeshPredictor(tiny, test_body, PADDED)
    assert padded.backend == 'cuda_graphs' and set(padded.network.graphs) == {'parameters'}
    got = padded.predict(frame, people)
    np.testing.assert_allclose(got.pose, plain.pose, atol=1e-4)
    np.testing.assert_allclose(got.translation, plain.translation, atol=1e-4)
    bundled = {rt.backend: create_mesh_predictor('compact', MeshConfig(), rt, test_body)
               for rt in (TORCH, PADDED)}
    assert set(bundled['cuda_graphs'].network.graphs) == {'lifted_and_corrections', 'lifted'}
    for subset in ([0, 1, 2], [1]):
        out = {k: p.predict(frame, people.select(np.array(subset))) for k, p in bundled.items()}
        np.testing.assert_allclose(out['cuda_graphs'].pose, out['torch'].pose, atol=1e-4)
        np.testing.assert_allclose(out['cuda_graphs'].joints, out['torch'].joints, atol=1e-4)


def test_diffmesh_padded_tick_matches_torch():
    rng = np.random.default_rng(1)
    torch.manual_seed(0)
    model = DiffMesh(tiny_config()).eval()
    config = StreamingConfig(temporal_jit=False, temporal_delay_frames=2)
    plain = StreamingSmoother(model, config, runtime=TORCH)
    padded = StreamingSmoother(model, config, runtime=PADDED)
    assert padded.backend == 'cuda_graphs' and plain.backend == 'torch'
    for k in range(10):
        people, est = people_and_estimate(rng, 3)
        a = plain.step(k / 30, people.track_ids, est, people)
        b = padded.step(k / 30, people.track_ids, est, people)
        np.testing.assert_allclose(b.current.pose, a.current.pose, atol=1e-4)
        if a.delayed is not None:
            np.testing.assert_allclose(b.delayed.estimate.pose, a.delayed.estimate.pose,
                                       atol=1e-4)


@CUDA
def test_graphs_are_captured_and_replayed_on_a_gpu():
    net = RowNet().cuda().eval()
    graphed = GraphedCallable(net, (True, True, False), buckets=(1, 2, 4))
    index = torch.tensor([1, 2], device='cuda')
    with torch.inference_mode():
        for n in (3, 3, 1, 4):
            x, y = torch.randn(n, 4, device='cuda'), torch.randn(n, 2, device='cuda')
            for g, w in zip(graphed(x, y, index), net(x, y, index)):
                torch.testing.assert_close(g, w)
    assert graphed.captured == 2            # batch 4 (for 3 and 4) and batch 1


def test_warm_up_runs_every_graphed_batch_size():
    """With backend 'cuda_graphs', warm_up captures every padded size up to max_people (10)."""
    from hmr_models.dpmesh.predictor import TorchNetwork
    from hmr_models.pipeline import PipelineConfig, build_pipeline
    pipeline = build_pipeline(PipelineConfig(threads=1, backend='torch', pipelining=False))
    mesh = pipeline.mesh
    mesh.network, mesh.backend = TorchNetwork(mesh.model, cuda_graphs=True), 'cuda_graphs'
    sizes = []
    for graphed in mesh.network.graphs.values():
        fn = graphed.fn
        graphed.fn = lambda *x, fn=fn: sizes.append(x[0].shape[0]) or fn(*x)
    pipeline.warm_up()
    assert pipeline.frontend.config.max_people == 10
    assert {1, 2, 4, 8, 16} <= set(sizes)
    assert len(pipeline.temporal.tracks) == 0      # forgotten again
