"""DiffMesh refiner: shapes, persistence, and that a short training keeps smooth input intact."""
import numpy as np
import pytest
import torch

from hmr_models.diffmesh import DiffMesh, DiffMeshConfig, WindowBatch
from hmr_models.data.synth.estimator_noise import EstimatorNoiseConfig
from hmr_models.train.diffmesh_data import WindowSampler, smooth_random_motion
from hmr_models.diffmesh.losses import diffmesh_losses

from diffmesh_helpers import tiny_config


def random_batch(b, t, nb=10, k=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    return WindowBatch(torch.randn(b, t, 72, generator=g) * 0.3,
                       torch.randn(b, t, nb, generator=g),
                       torch.randn(b, t, 3, generator=g) * 0.1 + torch.tensor([0.0, 0.0, 4.0]),
                       torch.rand(b, t, k, 2, generator=g) * 2 - 1,
                       torch.rand(b, t, k, generator=g), torch.ones(b, t))


def test_output_shapes(tiny_model):
    cfg = tiny_model.config
    out = tiny_model(random_batch(3, cfg.num_frames))
    t = cfg.num_frames
    assert out.rotmats.shape == (3, t, 24, 3, 3)
    assert out.betas.shape == (3, cfg.num_betas)
    assert out.translation.shape == (3, t, 3)
    assert out.cond_pred.shape == (3, t - 1, cfg.num_tokens * cfg.width)
    assert out.cond_target.shape == out.cond_pred.shape
    assert out.axis_angle().shape == (3, t, 72)


def test_default_config_is_the_paper_schedule():
    cfg = DiffMeshConfig()
    assert (cfg.num_frames, cfg.num_steps) == (16, 30)
    assert (cfg.loss_betas, cfg.loss_pose, cfg.loss_joints, cfg.loss_cond) == (0.5, 10, 1000, 0.01)
    m = DiffMesh(cfg)
    assert sum(f >= 0 for f in m.emit_frame) == 16


def test_wrong_window_length_raises(tiny_model):
    with pytest.raises(ValueError, match='windows of 8 frames'):
        tiny_model(random_batch(1, 5))


def test_without_keypoints():
    m = DiffMesh(tiny_config(use_keypoints=False)).eval()
    out = m(random_batch(2, 8))
    assert out.rotmats.shape == (2, 8, 24, 3, 3)


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="unknown config key.*'DiffMeshConfig'.*num_frame"):
        DiffMeshConfig.from_dict({'num_frame': 16})
    with pytest.raises(ValueError, match='num_steps'):
        DiffMeshConfig(num_frames=16, num_steps=10)
    with pytest.raises(ValueError, match='divisible'):
        DiffMeshConfig(width=30, heads=4)


def test_save_and_load_round_trip(tmp_path, tiny_model):
    batch = random_batch(2, 8)
    tiny_model.save_pretrained(tmp_path / 'w', extra={'note': 'test'})
    loaded = DiffMesh.from_pretrained(tmp_path / 'w')
    assert loaded.config == tiny_model.config
    with torch.no_grad():
        a, b = tiny_model(batch), loaded(batch)
    torch.testing.assert_close(a.rotmats, b.rotmats)
    torch.testing.assert_close(a.translation, b.translation)
    torch.testing.assert_close(loaded.joint_model.rest, tiny_model.joint_model.rest)


def test_missing_weights_error_names_the_parameter(tmp_path):
    from hmr_models.paths import MissingModelFile
    with pytest.raises(MissingModelFile, match='temporal_weights'):
        DiffMesh.from_pretrained(tmp_path / 'nothing_here.pt')


def test_untrained_refiner_starts_near_identity(tiny_model):
    """Small residual heads and a near-identity frame average: an untrained refiner changes a
    static window only a little."""
    from hmr_models.geometry.rotations import axis_angle_to_matrix
    batch = random_batch(2, 8)
    for name in ('pose', 'betas', 'translation', 'keypoints', 'keypoint_scores'):
        v = getattr(batch, name)
        setattr(batch, name, v[:, :1].expand_as(v).contiguous())
    with torch.no_grad():
        out = tiny_model(batch)
    rin = axis_angle_to_matrix(batch.pose.view(2, 8, 24, 3))
    assert (out.rotmats - rin).abs().max() < 0.1
    assert (out.translation - batch.translation).abs().max() < 0.1


def test_frame_average_ignores_missing_frames(tiny_model):
    """The residual base averages observed frames only: padding and gaps get no weight."""
    batch = random_batch(2, 8)
    batch.valid[0, :5] = 0
    h = torch.randn(2, 8, tiny_model.config.head_hidden)
    with torch.no_grad():
        mix = tiny_model.mix_inputs(h, batch.valid)
    torch.testing.assert_close(mix.sum(-1), torch.ones(2, 8))
    assert float(mix[0, :, :5].abs().max()) == 0.0
    assert float(mix[1].min()) > 0.0


def _train(model, sampler, steps, rng, lr=3e-3):
    opt = torch.optim.AdamW(model.parameters(), lr)
    model.train()
    for _ in range(steps):
        b = sampler.sample(16, rng).torch()
        out = model(b.inputs)
        loss, _ = diffmesh_losses(out, b.target_pose, b.target_betas, b.target_translation,
                                  b.mask, model.joint_model, model.config)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _errors(model, batch):
    """Mean rotation-matrix entry error, root-relative joint error (mm) and translation error
    (mm) of the output against the ground truth, and the first two for the input."""
    from hmr_models.geometry.rotations import axis_angle_to_matrix
    with torch.no_grad():
        out = model(batch.inputs)
    b, t = batch.target_pose.shape[:2]
    jm = model.joint_model
    gt = axis_angle_to_matrix(batch.target_pose.view(b, t, 24, 3))
    inp = axis_angle_to_matrix(batch.inputs.pose.view(b, t, 24, 3))
    gt_j = jm(gt, batch.target_betas[:, None].expand(-1, t, -1))
    out_j = jm(out.rotmats, out.betas[:, None].expand(-1, t, -1))
    in_j = jm(inp, batch.inputs.betas)
    rel = (lambda j: j - j[..., :1, :])
    mm = (lambda j: float((rel(j) - rel(gt_j)).norm(dim=-1).mean() * 1000))
    trans_mm = float((out.translation - batch.target_translation).norm(dim=-1).mean() * 1000)
    return (float((out.rotmats - gt).abs().mean()), mm(out_j), trans_mm,
            float((inp - gt).abs().mean()), mm(in_j))


CLEAN = EstimatorNoiseConfig.exact()


def _clean_setup(rng, **cfg):
    torch.manual_seed(0)
    model = DiffMesh(tiny_config(**cfg))
    motions = [smooth_random_motion(120, rng) for _ in range(8)]
    sampler = WindowSampler(motions, model.joint_model, num_frames=8, errors=CLEAN)
    test = sampler.sample(16, np.random.default_rng(123)).torch()
    return model, sampler, test


def test_identity_input_stays_close_after_short_training(rng):
    """Trained briefly on clean smooth motion (input == truth), the refiner (default small
    residual heads) must still reproduce its input."""
    model, sampler, test = _clean_setup(rng)
    _, start_mm, _, in_rot, in_mm = _errors(model.eval(), test)
    assert in_rot < 1e-4 and in_mm < 0.1  # the input is the truth
    _train(model, sampler, 60, rng)
    rot, mm, trans_mm, _, _ = _errors(model, test)
    assert rot < 0.01, rot        # mean |R_out - R_in| per matrix entry
    assert mm < 5.0, mm           # root-relative joints
    assert mm <= start_mm + 0.5   # training on identity data did not move it away
    assert trans_mm < 20.0, trans_mm  # people are 2-10 m away: < 1 % of the distance


def test_training_pulls_a_perturbed_refiner_back_to_identity(rng):
    """Started with large random residual heads, a short training on identity data must
    shrink the refiner's deviation several times (the losses and gradients work)."""
    model, sampler, test = _clean_setup(rng, residual_init_gain=1.0)
    before, before_mm, before_t, _, _ = _errors(model.eval(), test)
    _train(model, sampler, 60, rng)
    after, after_mm, after_t, _, _ = _errors(model, test)
    assert after < 0.4 * before, (before, after)
    assert after_mm < 0.4 * before_mm, (before_mm, after_mm)
    assert after_t < 0.5 * before_t, (before_t, after_t)
