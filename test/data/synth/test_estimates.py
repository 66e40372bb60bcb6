"""Real per-frame estimates over scenes: tracks files, and DiffMesh windows cut from them."""
import numpy as np
import pytest

from hmr_models.body import load_body_model
from hmr_models.data.synth.camera import CameraConfig
from hmr_models.data.synth.estimates import (TRACK_KEYS, load_tracks, parse_args, refine_config,
                                             scene_tracks, write_tracks)
from hmr_models.data.synth.scene import MotionPool, SceneConfig, SceneGenerator
from hmr_models.data.synth.writers import detect_scene
from hmr_models.train.diffmesh_data import MixedSampler, TrackWindowSampler
from hmr_models.dpmesh.factory import create_mesh_predictor


@pytest.fixture(scope='module')
def scene(test_body, motions):
    cfg = SceneConfig(num_frames=20, people=(3,), people_weights=(1.0,),
                      camera=CameraConfig(resolutions=((320, 240),)))
    return SceneGenerator(test_body, MotionPool(motions), cfg).generate(seed=4)


@pytest.fixture(scope='module')
def tracks(scene, tmp_path_factory):
    """The bundled compact model's lifter over the scene, written and read back."""
    detections = detect_scene(scene, np.random.default_rng(1))
    predictor = create_mesh_predictor('compact', body=load_body_model(None))
    part = scene_tracks(scene, detections,
                        lambda f, people: predictor.lift(people, scene.camera.intrinsics))
    for f, (people, _, _) in enumerate(detections):
        seen = np.zeros(len(scene.people), bool)
        seen[people.track_ids] = True
        np.testing.assert_array_equal(part['observed'][:, f], seen)
    folder = tmp_path_factory.mktemp('tracks')
    write_tracks(folder / 'tracks_0000.npz', [part, part])
    return load_tracks([folder])


def test_tracks_hold_estimates_where_detected(scene, tracks):
    assert set(tracks) == set(TRACK_KEYS)
    n, t = 2 * len(scene.people), scene.num_frames
    assert tracks['est_pose'].shape == (n, t, 72) and tracks['gt_betas'].shape[0] == n
    obs = tracks['observed']
    assert 0 < obs.mean() <= 1
    assert np.isfinite(tracks['est_pose'][obs]).all() and np.isnan(tracks['est_pose'][~obs]).all()
    np.testing.assert_array_equal(tracks['gt_pose'][0], scene.people[0].pose)
    # the estimates are a model's, not the truth: wrong, but not absurdly
    err = np.abs(tracks['est_transl'][obs] - tracks['gt_transl'][obs]).max(-1)
    assert (err > 1e-4).all() and np.median(err) < 3.0
    with pytest.raises(FileNotFoundError, match='estimates'):
        load_tracks(['/nonexistent/folder'])


def test_windows_end_at_a_detected_frame_with_the_right_truth(tracks):
    sampler = TrackWindowSampler(tracks, num_betas=10, num_frames=6, strides=(1, 2),
                                 short_track_prob=0.0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        b = sampler.sample(8, rng)
        assert b.inputs.pose.shape == (8, 6, 72) and b.target_betas.shape == (8, 10)
        assert (b.inputs.valid[:, -1] == 1).all() and (b.mask == 1).all()
        assert np.isfinite(b.inputs.pose).all() and np.isfinite(b.inputs.keypoints).all()
        for i in range(8):   # each target is a strided run of one track's ground truth
            hits = [(r, s, e) for r in range(len(tracks['gt_pose'])) for s in (1, 2)
                    for e in range(5 * s, tracks['gt_pose'].shape[1])
                    if np.array_equal(tracks['gt_pose'][r, e - 5 * s:e + 1:s], b.target_pose[i])]
            assert hits and any(tracks['observed'][r, e] for r, _, e in hits)
    mixed = MixedSampler([sampler, sampler], [3, 1]).sample(8, rng)
    assert mixed.inputs.pose.shape == (8, 6, 72) and mixed.mask.shape == (8, 6)
    with pytest.raises(ValueError, match='shorter than a window'):
        TrackWindowSampler(tracks, 10, num_frames=30)


def test_refined_tracks_are_the_nodes_fitted_stream(scene):
    """--refine: the lifter, then the keypoint fit with each frame's stamp (no image), as the
    node on a CPU: closer to the detector's keypoints than the lifter alone."""
    from hmr_models.dpmesh.factory import MeshConfig
    body = load_body_model(None)
    detections = detect_scene(scene, np.random.default_rng(1))
    cam = scene.camera.intrinsics
    config = refine_config('default:refine_motion_sigma=1.0')
    fitted = create_mesh_predictor('compact', MeshConfig(image_correction_interval=0),
                                   body=body, refine=config)
    lifted = scene_tracks(scene, detections,
                          lambda f, people: fitted.lift(people, cam))
    refined = scene_tracks(scene, detections,
                           lambda f, people: fitted.predict(None, people, cam,
                                                            stamp=f / scene.fps))
    obs = refined['observed']
    np.testing.assert_array_equal(obs, lifted['observed'])
    assert np.isfinite(refined['est_pose'][obs]).all()

    def err(t):
        ok = obs.reshape(-1)
        flat = lambda a: a.reshape((-1,) + a.shape[2:])[ok]  # noqa: E731
        return fitted.refiner.keypoint_error(
            flat(t['est_pose']), flat(t['est_betas']), flat(t['est_transl']),
            flat(t['keypoints']), flat(t['keypoint_scores']), flat(t['boxes']), cam)
    assert np.median(err(refined)) < 0.7 * np.median(err(lifted))
    assert refine_config('') is None
    with pytest.raises(SystemExit, match='unknown parameter'):
        refine_config('x:refine_nonsense=1')
    with pytest.raises(SystemExit):
        parse_args(['--out', 'o', '--corpus', 'c', '--refine', 'default:', '--render'])
