"""Writers: per-person samples and sequences (bags: test/ros/test_ground_truth_bags.py)."""
import numpy as np
import pytest

from hmr_models.data.synth.estimator_noise import simulate_scene
from hmr_models.data.synth.writers import (concat_samples, person_samples, write_samples,
                                           write_sequence)


def test_person_samples_round_trip(scene, detections, tmp_path):
    images = {0: np.full((64, 96, 3), 128, np.uint8)}
    part = person_samples(scene, detections, frames=[0, 3], images=images, crop_size=32)
    both = concat_samples([part, {}, part])
    assert both['pose'].shape == (8, 72)
    assert part['keypoints2d'].shape == (4, 17, 2) and part['K'].shape == (4, 3, 3)
    assert part['crop'].shape == (4, 32, 32, 3)
    assert part['has_crop'].tolist() == [True, True, False, False]  # frame 0 had an image
    path = write_samples(tmp_path / 'shard.npz', part)
    back = np.load(path)
    np.testing.assert_array_equal(back['pose'], part['pose'])
    np.testing.assert_array_equal(back['keypoint_visible'], part['keypoint_codes'] == 0)
    assert back['clip_id'].dtype.kind == 'U' and back['free'].dtype == bool
    n = back['neighbor_track_id']
    for i in np.flatnonzero(n >= 0):
        np.testing.assert_array_equal(
            back['neighbor_keypoints2d'][i], scene.people[n[i]].keypoints2d[back['frame'][i]])
    assert np.isnan(back['neighbor_keypoints2d'][n < 0]).all()


def test_sequence_file(scene, detections, tmp_path):
    est = simulate_scene(scene, np.random.default_rng(0))
    path = write_sequence(tmp_path / 'seq.npz', scene, est, detections)
    z = np.load(path)
    assert z['pose'].shape == (2, 6, 72) and z['est_pose'].shape == (2, 6, 72)
    assert z['det_keypoints2d'].shape == (2, 6, 17, 2) and z['detected'].shape == (2, 6)
    assert float(z['fps']) == scene.fps and z['image_size'].tolist() == [96, 64]


def test_rendered_frames(scene, test_body):
    from hmr_models.data.synth.render import SceneRenderer, random_background
    rng = np.random.default_rng(0)
    bg = random_background(scene.camera, rng)
    assert bg.shape == (64, 96, 3) and bg.dtype == np.uint8 and bg.std() > 1
    try:
        renderer = SceneRenderer(test_body)
    except Exception as exc:  # no OpenGL on this machine: the hook is still exercised above
        pytest.skip(f'renderer unavailable: {exc}')
    style = renderer.scene_style(scene, rng)
    img = renderer.render(scene, 0, style)
    assert img.shape == (64, 96, 3)
    # Bodies change the pixels where their boxes are.
    changed = np.abs(img.astype(int) - style['background'].astype(int)).sum(-1) > 0
    assert changed.any()


def test_generate_cli(shared_mocap, tmp_path, test_body):
    from fixtures.bodies import make_test_body_file
    from hmr_models.data.mocap.corpus import build_corpus
    from hmr_models.data.synth.generate import main as generate
    from hmr_ros.ground_truth_bags import main           # hmr-synth: generate + ROS bags
    corpus = build_corpus(cache_dir=tmp_path / 'cache', mocap_dir=shared_mocap,
                          collections=('deepmimic',), limit=4, progress=False)
    body = make_test_body_file(tmp_path / 'body.npz')
    args = ['--out', str(tmp_path / 'out'), '--scenes', '2', '--frames', '8',
            '--corpus', str(corpus.root), '--body', str(body), '--split', 'train',
            '--samples', '--sequences', '--sample-every', '4']
    assert generate(args + ['--bags', '1']) == 2      # bags are ROS messages: hmr-synth only
    try:
        from hmr_models.data.synth.render import make_renderer
        make_renderer(test_body.faces).release()
        args += ['--render', '--bags', '1']
    except Exception:
        pass  # no OpenGL here: samples and sequences only
    assert main(args) == 0
    shard = np.load(tmp_path / 'out' / 'samples' / 'shard_0000.npz')
    assert shard['pose'].shape[1] == 72 and shard['free'].all()
    assert len(list((tmp_path / 'out' / 'sequences').glob('*.npz'))) == 2
    if '--render' in args:
        assert shard['has_crop'].all()
        assert (tmp_path / 'out' / 'bags' / 'scene_00000' / 'scene.json').is_file()
    assert main(['--out', str(tmp_path / 'x')]) == 2


def test_camera_pitch_option_sets_the_tilt_of_the_scenes_cameras():
    """`--camera-pitch 25,40`: every sampled camera looks down 25-40 degrees."""
    from hmr_models.data.synth.camera import sample_camera
    from hmr_models.data.synth.generate import parse_args, scene_config
    base = ['--out', 'x', '--samples']
    default = scene_config(8, parse_args(base).camera_pitch)
    assert default.camera.pitch_deg == (-5.0, 20.0)
    steep = parse_args(base + ['--camera-pitch', '25,40']).camera_pitch
    config = scene_config(8, steep)
    rng = np.random.default_rng(0)
    down = [np.degrees(np.arcsin(-sample_camera(rng, config.camera).forward[1]))
            for _ in range(50)]
    assert 25.0 <= min(down) and max(down) <= 40.0 and max(down) - min(down) > 5.0
    for bad in ('40,25', 'steep', '10,95'):
        with pytest.raises(SystemExit):
            parse_args(base + ['--camera-pitch', bad])
