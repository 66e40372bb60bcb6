"""The lifter alone on keypoint samples, and the view of a camera tilted about its x axis."""
import numpy as np
import pytest
import torch

from fixtures.datasets import write_test_shard
from hmr_models.dpmesh.parts.keypoint_lifter import KeypointLifter, KeypointLifterConfig
from hmr_models.eval.lifter import evaluate_lifter, rotate_view, tilt_rotation


def test_a_tilted_view_is_the_rotated_scene_seen_through_the_same_lens(tmp_path, test_body):
    with np.load(write_test_shard(tmp_path / 's.npz', test_body, n=4)) as z:
        shard = dict(z)
    turned = rotate_view(shard, 12.0)
    k = shard['K'][0].astype(np.float64)
    p = turned['keypoints3d'].astype(np.float64) @ k.T          # the turned points, projected
    np.testing.assert_allclose(p[..., :2] / p[..., 2:], turned['keypoints2d'], atol=0.05)
    # tilted further down: what is ahead moves up in the image
    assert (turned['keypoints2d'][..., 1] < shard['keypoints2d'][..., 1]).all()
    back = rotate_view(turned, -12.0)
    for key in ('keypoints2d', 'det_keypoints2d', 'joints3d'):
        np.testing.assert_allclose(back[key], shard[key], atol=0.05, equal_nan=True)
    assert np.isnan(turned['det_keypoints2d'][:, 15]).all()      # missing stays missing
    assert (turned['det_box'][:, :2] <= turned['det_box'][:, 2:]).all()
    np.testing.assert_allclose(tilt_rotation(30.0) @ tilt_rotation(-30.0), np.eye(3), atol=1e-12)


def test_lifter_figures_over_everyone_and_the_whole_body_people(tmp_path, test_body):
    folder = tmp_path / 'samples'
    write_test_shard(folder / 'shard_0000.npz', test_body, n=6)
    torch.manual_seed(0)
    lifter = KeypointLifter(17, KeypointLifterConfig(hidden=32, blocks=1)).eval()
    torch.nn.init.normal_(lifter.out.weight, std=0.01)
    plain = evaluate_lifter(lifter, [folder], body=test_body)
    assert plain['people'] == 6 and plain['whole body people'] == 6
    assert 0 < plain['PA-MPJPE'] <= plain['MPJPE'] < 2000
    assert plain['whole body MPJPE'] == pytest.approx(plain['MPJPE'])
    tilted = evaluate_lifter(lifter, [folder], tilt_degrees=-20.0, body=test_body)
    assert tilted['people'] == 6 and tilted['MPJPE'] != pytest.approx(plain['MPJPE'])
