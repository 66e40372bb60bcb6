"""Real-footage evaluation: calibration, triangulation, association, metrics, detector statistics.

Everything runs on small synthetic scenes with known answers (no fetched data needed).
"""
import numpy as np
import pytest

from hmr_models.eval.detector_stats import (OCCLUSION, collect, read_stats, summarise, swap_flags,
                                            write_stats)
from hmr_models.eval.multiview import (CameraCalibration, associate_views, link_over_time,
                                       read_qualisys_calibration, triangulate, triangulate_dlt)
from hmr_models.eval.real import (acceleration_error_tracks, agreement_summary, body12_errors,
                                  position_acceleration_tracks,
                                  facing_error, keypoint_agreement, lean_error, position_error,
                                  with_reference_keypoints)
from hmr_models.eval.reference import (build_reference, low_pass, low_pass_reference,
                                       match_detections, person_tracks,
                                       simulate_reference_error)
from hmr_models.fitting import so3
from hmr_models.types import People

QCA = '''<?xml version='1.0' encoding='ASCII'?>
<calibration>
  <cameras>
{cameras}
  </cameras>
</calibration>
'''
CAMERA = '''    <camera active="1" avg-residual="0.4" model="none" serial="{name}">
      <fov_video bottom="959" left="0" right="639" top="0"/>
      <transform r11="{r[0][0]}" r12="{r[0][1]}" r13="{r[0][2]}" r21="{r[1][0]}"
        r22="{r[1][1]}" r23="{r[1][2]}" r31="{r[2][0]}" r32="{r[2][1]}" r33="{r[2][2]}"
        x="{p[0]}" y="{p[1]}" z="{p[2]}"/>
      <intrinsic centerPointU="{cu}" centerPointV="{cv}" focalLengthU="{f}" focalLengthV="{f}"
        radialDistortion1="0.0" radialDistortion2="0.0" radialDistortion3="0.0"
        tangentalDistortion1="0.0" tangentalDistortion2="0.0"/>
    </camera>'''


def ring_of_cameras(n=4, radius=4.0, height=1.5):
    """n cameras on a circle around the origin, looking at (0, 0, 1), OpenCV conventions."""
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n
        pos = np.array([radius * np.cos(a), radius * np.sin(a), height])
        z = np.array([0.0, 0.0, 1.0]) - pos
        z /= np.linalg.norm(z)
        x = np.cross(z, [0.0, 0.0, 1.0])
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        rot = np.stack([x, y, z])                 # rows: camera axes in the world
        k = np.array([[800.0, 0, 320.0], [0, 800.0, 480.0], [0, 0, 1]])
        cams.append(CameraCalibration(f'cam{i + 1:02d}', (640, 960), k, np.zeros(4), rot,
                                      -rot @ pos))
    return cams


def skeleton_points(centre, rng):
    """17 points of a roughly person-shaped cloud around `centre` (world, z up)."""
    base = np.array([[0, 0, 1.7], [0.03, 0.05, 1.72], [-0.03, 0.05, 1.72], [0.08, 0, 1.7],
                     [-0.08, 0, 1.7], [0.2, 0, 1.45], [-0.2, 0, 1.45], [0.3, 0.05, 1.2],
                     [-0.3, 0.05, 1.2], [0.35, 0.1, 0.95], [-0.35, 0.1, 0.95], [0.1, 0, 0.95],
                     [-0.1, 0, 0.95], [0.12, 0.05, 0.5], [-0.12, 0.05, 0.5], [0.12, 0, 0.08],
                     [-0.12, 0, 0.08]])
    return base + centre + rng.normal(0, 0.01, base.shape)


def test_qualisys_file_reads_back_the_cameras(tmp_path):
    cams = ring_of_cameras(3)
    blocks = []
    flip = np.diag([1.0, -1.0, -1.0])
    for c in cams:
        # Qualisys stores the camera position and a rotation whose flip is OpenCV's
        m = flip @ c.rotation
        pos = -c.rotation.T @ c.translation
        blocks.append(CAMERA.format(name=c.name, r=m, p=pos * 1000.0, f=800.0 * 64,
                                    cu=320.0 * 64, cv=480.0 * 64))
    path = tmp_path / 'Calib.qca.txt'
    path.write_text(QCA.format(cameras='\n'.join(blocks[::-1])))    # any order in the file
    back = read_qualisys_calibration(path)
    assert [c.name for c in back] == ['cam01', 'cam02', 'cam03']
    x = np.array([[0.1, -0.2, 1.0], [0.5, 0.3, 1.6]])
    for a, b in zip(cams, back):
        assert b.size == (640, 960)
        np.testing.assert_allclose(b.project(x), a.project(x), atol=1e-6)
    with pytest.raises(ValueError, match='no <camera>'):
        (tmp_path / 'empty.qca.txt').write_text('<calibration/>')
        read_qualisys_calibration(tmp_path / 'empty.qca.txt')


def test_distortion_round_trip():
    cam = ring_of_cameras(1)[0]
    cam.distortion = np.array([-0.05, 0.1, 0.001, -0.0005])
    x = np.array([[0.2, 0.1, 1.2], [-0.3, 0.4, 0.6]])
    px = cam.project(x)
    undist = cam.undistort(px)
    np.testing.assert_allclose(undist, cam.project(x, distort=False), atol=1e-6)


def test_dlt_is_exact_on_projections_of_known_points():
    rng = np.random.default_rng(0)
    cams = ring_of_cameras(4)
    pts = skeleton_points(np.zeros(3), rng)
    obs = np.stack([c.project(pts) for c in cams])
    proj = np.stack([c.projection for c in cams])
    x = triangulate_dlt(obs, np.ones((4, 17)), proj)
    np.testing.assert_allclose(x, pts, atol=1e-8)
    tri = triangulate(obs, np.ones((4, 17)), proj)
    np.testing.assert_allclose(tri.points, pts, atol=1e-8)
    assert tri.views.all() and np.nanmax(tri.error) < 1e-6


def test_outlier_views_are_rejected_and_weak_ones_not_used():
    rng = np.random.default_rng(1)
    cams = ring_of_cameras(4)
    proj = np.stack([c.projection for c in cams])
    pts = skeleton_points(np.zeros(3), rng)
    obs = np.stack([c.project(pts) for c in cams])
    scores = np.ones((4, 17))
    obs[2, 5] += [80.0, -60.0]                 # one view's shoulder is another person's
    scores[1, 9] = 0.1                         # a weak wrist: not used
    obs[1, 9] += [300.0, 0.0]
    tri = triangulate(obs, scores, proj, min_score=0.3, max_error=5.0)
    np.testing.assert_allclose(tri.points, pts, atol=1e-6)
    assert not tri.views[2, 5] and tri.views[[0, 1, 3], 5].all()
    assert not tri.views[1, 9]
    # seen in one view only: not triangulated
    scores[1:, 0] = 0.0
    assert np.isnan(triangulate(obs, scores, proj).points[0]).all()


def test_people_are_matched_across_views_and_over_time():
    rng = np.random.default_rng(2)
    cams = ring_of_cameras(4)
    proj = np.stack([c.projection for c in cams])
    frames = []
    for f in range(3):
        people3d = [skeleton_points(np.array([-0.8 + 0.02 * f, 0.2, 0]), rng),
                    skeleton_points(np.array([0.7, -0.3 - 0.02 * f, 0]), rng)]
        views = []
        for v, c in enumerate(cams):
            order = [1, 0] if v % 2 else [0, 1]       # people listed in any order per view
            kp = np.stack([c.project(people3d[i]) for i in order])
            views.append(People(boxes=np.concatenate([kp.min(1), kp.max(1)], 1),
                                scores=np.ones(2), keypoints=kp.astype(np.float32),
                                keypoint_scores=np.ones((2, 17), np.float32),
                                track_ids=np.full(2, -1)))
        frames.append((people3d, views))
    matches = associate_views([v.keypoints for v in frames[0][1]],
                              [v.keypoint_scores for v in frames[0][1]], proj)
    assert len(matches) == 2 and all(len(m) == 4 for m in matches)
    for m in matches:
        assert len({(v % 2 == 0) == (i == 0) for v, i in m.items()}) == 1   # consistent
    ref = build_reference([[fr[1][v] for fr in frames] for v in range(4)], cams)
    assert [len(p) for p in ref.frames] == [2, 2, 2]
    ids = [{p.person_id for p in people} for people in ref.frames]
    assert ids[0] == ids[1] == ids[2] == {0, 1}
    for people, (truth, views) in zip(ref.frames, frames):
        for p in people:
            err = min(np.nanmax(np.linalg.norm(p.points - t, axis=-1)) for t in truth)
            assert err < 1e-6
        # each view's detections map back to their reference person
        idx = match_detections(views[1], people, cams[1])
        for i, j in enumerate(idx):
            assert np.allclose(cams[1].project(people[j].points), views[1].keypoints[i],
                               atol=1e-3)
    assert link_over_time([np.zeros((1, 3)), np.full((1, 3), 5.0)])[1][0] == 1  # too far


def test_keypoint_agreement_and_pck():
    kp = np.zeros((2, 17, 2))
    boxes = np.array([[0, 0, 10, 100], [0, 0, 10, 200]], float)
    proj = kp.copy()
    proj[0, :, 0] = 3.0                           # 3 % of 100
    proj[1, :, 0] = 20.0                          # 10 % of 200
    scores = np.ones((2, 17))
    scores[1, 0] = 0.1                            # not confident: not counted
    err = keypoint_agreement(proj, kp, scores, boxes)
    assert np.isnan(err[1, 0]) and np.allclose(err[0], 0.03)
    s = agreement_summary(err)
    assert s['keypoints'] == 33 and s['PCK@0.05'] == pytest.approx(17 / 33)
    assert s['PCK@0.1'] == 1.0 and s['median %'] == pytest.approx(3.0)
    assert np.isnan(agreement_summary(np.full(3, np.nan))['median %'])


def test_body12_errors_align_hips_and_similarity():
    rng = np.random.default_rng(3)
    gt = rng.normal(0, 300, (2, 17, 3))
    rot = so3.exp(np.array([0.3, -0.5, 0.2]))
    pred = 1.1 * gt @ rot.T + [100.0, 50.0, 2000.0]        # a similar body elsewhere
    mp, pa = body12_errors(pred, gt)
    assert mp.shape == pa.shape == (2, 12)
    assert np.nanmax(pa) < 1e-6 and np.nanmin(mp) > 1.0   # orientation and scale count in MPJPE
    shifted = gt + [5.0, 0, 0]
    mp, _ = body12_errors(shifted, gt)
    np.testing.assert_allclose(mp, 0.0, atol=1e-9)         # aligned at the hip centre
    valid = np.ones((2, 17), bool)
    valid[0, 11] = False                                    # no left hip: not scored
    mp, pa = body12_errors(pred, gt, valid)
    assert np.isnan(mp[0]).all() and np.isfinite(mp[1]).all()


def test_acceleration_error_tracks():
    t = np.arange(6, dtype=float)
    gt = np.zeros((6, 17, 3))
    pred = gt.copy()
    limbs = [5, 6, 7, 8, 9, 10, 13, 14, 15, 16]     # not the hips (the alignment)
    pred[::2, limbs, 0] += 1.0                      # jitter of 1 every other frame
    s, c = acceleration_error_tracks(pred, gt, np.ones(6, bool))
    assert c == 4 and s / c == pytest.approx(2.0 * 10 / 12)
    valid = t != 3
    s, c = acceleration_error_tracks(pred, gt, valid)
    assert c == 1
    # the hip centre itself: the limbs' jitter is not its, the whole body's is
    s, c = position_acceleration_tracks(pred, gt, np.ones(6, bool))
    assert c == 4 and s == 0.0
    moved = gt.copy()
    moved[::2] += [0.0, 0.0, 1.0]                   # the whole body 1 deeper every other frame
    s, c = position_acceleration_tracks(moved, gt, np.ones(6, bool))
    assert s / c == pytest.approx(2.0)
    assert acceleration_error_tracks(moved, gt, np.ones(6, bool))[0] == pytest.approx(0.0)


def views_of_two_people(cams, frames, rng, detect=None, wide_hips=False):
    """V lists (one per camera) of People per frame: two people side by side, seen by all.

    detect(v, f, kp, boxes) returns view v's keypoints (2, 17, 2) of frame f: its detector's
    errors (default: exact projections). wide_hips: hips wide enough to tell left from right.
    """
    views = [[] for _ in cams]
    for f in range(frames):
        people3d = [skeleton_points(np.array([-0.6, 0.1, 0]), rng),
                    skeleton_points(np.array([0.6, 0.0, 0]), rng)]
        if wide_hips:
            for p, x in zip(people3d, (-0.6, 0.6)):
                p[[11, 12], 0] = x + (p[[11, 12], 0] - x) * 1.5
        for v, c in enumerate(cams):
            kp = np.stack([c.project(p) for p in people3d])
            boxes = np.concatenate([kp.min(1), kp.max(1)], 1)
            if detect is not None:
                kp = detect(v, f, kp, boxes)
            views[v].append(People(boxes=boxes, scores=np.ones(2), keypoints=kp,
                                   keypoint_scores=np.full((2, 17), 0.8),
                                   track_ids=np.full(2, -1)))
    return views


def test_detector_statistics_of_a_known_error(tmp_path):
    """Views of two people, one view's keypoints jittered by a known spread."""
    rng = np.random.default_rng(4)
    cams = ring_of_cameras(4)

    def detect(v, f, kp, boxes):
        if v != 0:
            return kp
        scale = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))
        return kp + rng.normal(0, 1, kp.shape) * 0.03 * scale[:, None, None]
    views = views_of_two_people(cams, 40, rng, detect)
    ref = build_reference(views, cams, max_error=1e6, match_error=1e6)
    samples = collect(views, cams, ref)
    stats = summarise(samples)
    assert stats['samples'] > 0 and OCCLUSION[0] in stats['per_joint']
    view0 = samples['error'][:len(samples['error'])]
    assert np.isfinite(view0).any()
    # the pooled spread lies between the exact views' (their errors come from the reference
    # triangulated with view 0's noise) and view 0's 0.03; as measured (the reference's share
    # kept in) it is larger, dominated by view 0
    corrected = stats['per_joint']['visible']['all']['sigma']
    assert 0.002 < corrected < 0.03
    as_measured = {k: v for k, v in samples.items() if k != 'reference_share'}
    assert corrected < summarise(as_measured)['per_joint']['visible']['all']['sigma'] < 0.05
    assert summarise(as_measured)['per_joint']['visible']['all']['sigma'] > 0.005
    path = write_stats(tmp_path / 'stats.json', samples, raw=False)
    back = read_stats(path)
    assert back['keypoints'][0] == 'nose' and not (tmp_path / 'stats.npz').exists()
    from hmr_models.data.synth.detector_noise import DetectorNoiseConfig
    cfg = DetectorNoiseConfig.from_stats(path)
    assert len(cfg.visible_sigma) == 17 and len(cfg.p_wrong_visible) == 17


def test_detector_spread_is_movenets_own_not_plus_the_reference():
    """Every view jittered by the same known spread: the held-out reference (triangulated from
    the other views) is noisy too, and the raw spread overstates the views'; the corrected one
    finds the spread that was put in."""
    rng = np.random.default_rng(8)
    cams = ring_of_cameras(4)
    sigma = 0.02                               # per axis, x sqrt(box area)

    def detect(v, f, kp, boxes):
        pad = 0.1 * (boxes[:, 2:] - boxes[:, :2])
        scale = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2] + 2 * pad, axis=1))
        return kp + rng.normal(0, 1, kp.shape) * sigma * scale[:, None, None]
    views = views_of_two_people(cams, 60, rng, detect)
    ref = build_reference(views, cams, max_error=1e6, match_error=1e6)
    samples = collect(views, cams, ref)
    share = samples['reference_share'][np.isfinite(samples['error'])]
    assert np.nanmedian(share) > 0.2           # two or three other views: a real share
    stats = summarise(samples)
    assert stats['reference_corrected']
    measured = stats['per_joint']['visible']['all']['sigma']
    assert measured == pytest.approx(sigma, rel=0.2)
    raw = dict(samples)
    del raw['reference_share']                 # samples from before the correction
    assert summarise(raw)['per_joint']['visible']['all']['sigma'] > 1.1 * measured
    # the simulated detector takes the corrected spreads as they are (no second deconvolution)
    from hmr_models.data.synth.detector_noise import DetectorNoiseConfig
    simulated = DetectorNoiseConfig.from_stats(stats).visible_sigma
    assert np.median(simulated) == pytest.approx(sigma, rel=0.25)


def test_swap_flags_tell_body_and_limb_swaps_and_skip_side_views():
    from hmr_models.skeleton import COCO17_FLIP
    truth = skeleton_points(np.zeros(3), np.random.default_rng(0))[:, [0, 2]] * 100.0  # front
    scale = 100.0
    assert swap_flags(truth, truth, scale) == {'swap_body': 0, 'swap_arms': 0, 'swap_legs': 0}
    assert swap_flags(truth[COCO17_FLIP], truth, scale)['swap_body'] == 1
    arm = truth.copy()
    arm[[7, 9, 8, 10]] = truth[[8, 10, 7, 9]]
    assert swap_flags(arm, truth, scale) == {'swap_body': 0, 'swap_arms': 1, 'swap_legs': 0}
    gone = truth.copy()
    gone[13] = np.nan                        # a missing knee: the legs cannot be judged
    assert swap_flags(gone, truth, scale)['swap_legs'] == -1
    side = truth.copy()
    side[:, 0] = 0.0                         # seen side-on: left and right coincide
    assert swap_flags(side[COCO17_FLIP], side, scale)['swap_body'] == -1


def test_detector_statistics_count_swaps_and_calibrate_the_simulation(tmp_path):
    """One view swaps a person's whole body in 10 frames and his arms in 8 others."""
    from hmr_models.data.synth.detector_noise import DetectorNoiseConfig
    from hmr_models.skeleton import COCO17_FLIP
    rng = np.random.default_rng(5)
    cams = ring_of_cameras(6)    # enough views that the reference outvotes a swapped one

    def detect(v, f, kp, boxes):
        if v == 2 and f < 10:            # cam03 sees the people from the front
            kp[0] = kp[0][COCO17_FLIP]
        elif v == 2 and f < 18:
            kp[0, [7, 9, 8, 10]] = kp[0, [8, 10, 7, 9]]
        return kp
    # the association is exhaustive (3^6 combinations per frame; 8 views took 10x longer)
    views = views_of_two_people(cams, 20, rng, detect, wide_hips=True)
    # swapped views are rejected as outliers of the triangulation (the default error bound)
    ref = build_reference(views, cams, match_error=1e6)
    samples = collect(views, cams, ref)
    assert (samples['swap_body'] == 1).sum() == 10 and (samples['swap_arms'] == 1).sum() == 8
    assert (samples['swap_legs'] == 1).sum() == 0
    swaps = summarise(samples)['swaps']
    judged = swaps['body']['n']
    assert 0 < judged < 6 * 2 * 20           # side views cannot tell left from right
    assert swaps['body']['rate'] == pytest.approx(10 / judged)
    stats = summarise(samples)
    stats['swaps']['body']['n'] = stats['swaps']['limb']['n'] = 1000   # enough to be used
    cfg = DetectorNoiseConfig.from_stats(stats)
    assert cfg.p_swap_all == pytest.approx(10 / judged)
    assert cfg.p_swap_limb == pytest.approx(swaps['limb']['rate'])
    stats['swaps']['body']['n'] = 10         # too few: the hand-set rate stays
    assert DetectorNoiseConfig.from_stats(stats).p_swap_all == DetectorNoiseConfig().p_swap_all


def test_bone_lengths_are_set_and_directions_kept():
    from hmr_models.eval.real import BONES, HIP_WIDTH, with_bone_lengths
    pts = skeleton_points(np.zeros(3), np.random.default_rng(2))
    lengths = {bone: 0.1 * (i + 1) for i, bone in enumerate(BONES + (HIP_WIDTH,))}
    out = with_bone_lengths(pts, lengths)
    for (a, b), length in lengths.items():
        assert np.linalg.norm(out[b] - out[a]) == pytest.approx(length)
        d0, d1 = pts[b] - pts[a], out[b] - out[a]
        assert d0 @ d1 == pytest.approx(np.linalg.norm(d0) * np.linalg.norm(d1))
    assert np.allclose(out[[11, 12]].mean(0), pts[[11, 12]].mean(0))       # hips stay centred
    assert np.allclose(with_bone_lengths(pts, None), pts)


def test_multiview_scores_are_zero_for_the_reference_and_see_an_offset():
    from hmr_models.eval.real import multiview_rows, score_multiview
    rng = np.random.default_rng(4)
    cams = ring_of_cameras(4)
    truth = [skeleton_points(np.array([0.02 * f, 0.1, 0]), rng) for f in range(5)]
    views = []
    for c in cams:
        per_frame = []
        for pts in truth:
            kp = c.project(pts)[None].astype(np.float32)
            per_frame.append(People(boxes=np.concatenate([kp.min(1), kp.max(1)], 1),
                                    scores=np.ones(1), keypoints=kp,
                                    keypoint_scores=np.ones((1, 17), np.float32),
                                    track_ids=np.zeros(1, np.int64)))
        views.append(per_frame)
    ref = build_reference(views, cams)
    template = truth[0] - truth[0][11:13].mean(0)           # any fixed body: the baseline

    def mesh(c, points):
        # a stream's output: the COCO-17 joints in the camera frame and their projection
        uvw = points @ c.matrix.T
        return points[None], (uvw[:, :2] / uvw[:, 2:])[None]

    def records(offset):
        # what the pipeline gives per view and frame: the people, and per stream the mesh
        return [[{'people': people, 'per-frame': mesh(c, c.to_camera(pts) + offset),
                  'smoothed': mesh(c, c.to_camera(pts))}
                 for people, pts in zip(per_frame, truth)] for c, per_frame in zip(cams, views)]

    rows, acc = score_multiview(records(0.0), ref, cams, template)
    assert len(rows) == 4 * 5 * 2
    assert max(r['MPJPE'] for r in rows) < 1e-3 and max(r['PA-MPJPE'] for r in rows) < 1e-3
    wrist = np.zeros((17, 3))
    wrist[9, 0] = 0.05                                      # the left wrist 5 cm off
    rows, acc = score_multiview(records(wrist), ref, cams, template)
    table = multiview_rows('v', 'clip', 'all views', rows, acc, cams)
    per_frame = [r for r in table if r['group'] == 'all' and r['stream'] == 'per-frame'][0]
    smoothed = [r for r in table if r['group'] == 'all' and r['stream'] == 'smoothed'][0]
    # 50 mm on one of the 12 body joints (the hips untouched), and no acceleration
    assert per_frame['person-frames'] == 20
    assert per_frame['MPJPE'] == pytest.approx(50 / 12, abs=0.01) and smoothed['MPJPE'] < 1e-3
    assert per_frame['ACC-ERR'] < 1e-3 and smoothed['ACC-ERR'] < 1e-3
    assert per_frame['template PA-MPJPE'] > 1.0                  # the baseline is not exact
    # the wrist is off sideways, not in depth: all of the error is in the image plane
    assert per_frame['PA-MPJPE, reference depth'] > 1.0
    assert per_frame['PA-MPJPE, reference rays'] < 1e-3
    # in 2D the keypoints sit on the reference, and so does a mesh off at one joint only
    assert per_frame['keypoints-ref 2D %'] < 1e-3 and per_frame['mesh-ref 2D %'] < 1e-3
    # what-if: on the (exact) keypoints' rays with its own depth the mesh is right; the
    # keypoints at the reference's depth are the reference; the person's median bone lengths
    # leave the wrist's direction wrong (an exact mesh is off by the frames' own bone-length
    # spread: every point of skeleton_points is jittered by 1 cm)
    assert per_frame['PA-MPJPE, keypoint rays'] < 1e-3
    assert per_frame['PA-MPJPE, keypoints at reference depth'] < 1e-3
    assert smoothed['PA-MPJPE, reference bone lengths'] < 15.0
    assert per_frame['PA-MPJPE, reference bone lengths'] > \
        smoothed['PA-MPJPE, reference bone lengths'] + 1.0
    # a delayed stream (exact, none for the last two frames): the other streams are also
    # scored on the person-frames it has
    recs = records(wrist)
    for per_view in recs:
        for f, rec in enumerate(per_view):
            kp3, kp2 = rec['smoothed']
            rec['delayed'] = (kp3 + np.nan, kp2 + np.nan) if f >= 3 else (kp3, kp2)
    rows, acc = score_multiview(recs, ref, cams, template)
    table = multiview_rows('v', 'clip', 'all views', rows, acc, cams)
    pick = {(r['group'], r['stream']): r for r in table}
    assert pick[('all', 'delayed')]['person-frames'] == 4 * 3
    assert pick[('all', 'delayed')]['MPJPE'] < 1e-3
    same = pick[('frames with a delayed estimate', 'per-frame')]
    assert same['person-frames'] == 4 * 3 and same['MPJPE'] == pytest.approx(50 / 12, abs=0.01)
    assert ('frames with a delayed estimate', 'delayed') not in pick
    # without a delayed stream there is neither its row nor the like-for-like group
    assert not [r for r in multiview_rows('v', 'clip', 'all views',
                                          *score_multiview(records(wrist), ref, cams, template),
                                          cams)
                if r['stream'] == 'delayed' or r['group'].startswith('frames with')]
    # stills (no temporal stage): the records have the per-frame stream only, and so has the
    # table (eval_real.py --variant NAME:stills=true)
    stills = [[{k: v for k, v in rec.items() if k != 'smoothed'} for rec in per_view]
              for per_view in records(wrist)]
    table = multiview_rows('v', 'clip', 'all views', *score_multiview(stills, ref, cams,
                                                                      template), cams)
    assert {r['stream'] for r in table} == {'per-frame'}
    assert [r for r in table if r['group'] == 'all'][0]['person-frames'] == 20
    # a mesh 5 cm to the side: no 3D error after aligning the hips, but off the image's person
    shifted = score_multiview(records(np.array([0.05, 0.0, 0.0])), ref, cams, template)[0]
    shifted = [r for r in shifted if r['stream'] == 'per-frame']
    assert max(r['MPJPE'] for r in shifted) < 1e-3
    height = np.median([np.ptp(c.project(truth[0])[:, 1]) for c in cams])
    expected = 100 * 800.0 * 0.05 / 4.0 / height          # 5 cm at ~4 m, % of the box height
    assert np.median([r['mesh-ref 2D %'] for r in shifted]) == pytest.approx(expected, rel=0.3)
    # the wrist 5 cm further away instead: all of the error is in depth
    deeper = score_multiview(records(wrist[:, [2, 1, 0]]), ref, cams, template)[0]
    deeper = [r for r in deeper if r['stream'] == 'per-frame']
    assert min(r['PA-MPJPE, reference rays'] for r in deeper) > 1.0
    assert min(r['PA-MPJPE, keypoint rays'] for r in deeper) > 1.0   # a 2D fit keeps it
    assert max(r['PA-MPJPE, reference depth'] for r in deeper) < 1.0   # on its ray, nearly


def test_low_pass_removes_jitter_keeps_motion_gaps_and_short_runs():
    rng = np.random.default_rng(11)
    t = np.arange(120) / 60.0
    motion = np.sin(2 * np.pi * 1.0 * t)                 # 1 Hz: a person's limb, kept
    noisy = motion + rng.normal(0, 0.05, t.shape)
    noisy[50:53] = np.nan                                # a gap splits the track in two runs
    noisy[110] = np.nan                                  # ... and leaves a 9-frame run
    smooth = low_pass(noisy[:, None], fps=60.0)[:, 0]
    long_run = np.r_[0:50, 53:110]
    assert np.abs(smooth[long_run] - motion[long_run]).mean() < \
        0.5 * np.abs(noisy[long_run] - motion[long_run]).mean()
    assert np.isnan(smooth[[50, 51, 52, 110]]).all()
    assert np.array_equal(smooth[111:], noisy[111:])    # too short to filter: as it was


def test_low_pass_reference_filters_tracks_and_leaves_the_reference_alone():
    rng = np.random.default_rng(12)
    cams = ring_of_cameras(4)
    views = views_of_two_people(cams, 40, rng)          # the people jitter 1 cm per frame
    ref = build_reference(views, cams)
    before = [p.points.copy() for frame in ref.frames for p in frame]
    smooth = low_pass_reference(ref, fps=60.0)
    assert all(np.array_equal(a, p.points)
               for a, p in zip(before, (p for frame in ref.frames for p in frame)))
    pairs = [(p, q) for a, b in zip(ref.frames, smooth.frames) for p, q in zip(a, b)]
    assert all(p.person_id == q.person_id for p, q in pairs)

    def jitter(reference, get):
        track = person_tracks(reference)[pairs[0][0].person_id]   # one person over time
        pts = np.stack([get(track[f]) for f in sorted(track)])
        return np.abs(np.diff(pts, axis=0)).mean()
    assert jitter(smooth, lambda p: p.points) < 0.5 * jitter(ref, lambda p: p.points)
    assert jitter(smooth, lambda p: p.held_out[0]) < 0.5 * jitter(ref, lambda p: p.held_out[0])


def test_simulated_reference_error_is_zero_without_noise_and_matches_a_real_spread():
    """Views jittered by a known spread give a reference with some reprojection error; the
    simulation with that spread reproduces the error, and its perfect estimate does not score 0."""
    rng = np.random.default_rng(13)
    cams = ring_of_cameras(4)
    sigma = 0.02

    def detect(v, f, kp, boxes):
        scale = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))
        return kp + rng.normal(0, 1, kp.shape) * sigma * scale[:, None, None]
    views = views_of_two_people(cams, 40, rng, detect)
    ref = build_reference(views, cams)
    truth = low_pass_reference(ref, fps=60.0)
    exact = simulate_reference_error(truth, views, cams, 0.0, np.random.default_rng(0), fps=60.0)
    assert exact['person-frames'] == 80
    assert exact['PA-MPJPE'] < 0.5 and exact['reprojection px'] < 0.1
    sim = simulate_reference_error(truth, views, cams, sigma, np.random.default_rng(0),
                                   fps=60.0)
    real_px = np.nanmedian(np.concatenate([p.error for frame in ref.frames for p in frame]))
    assert sim['reprojection px'] == pytest.approx(real_px, rel=0.25)
    assert sim['PA-MPJPE'] > 5.0                        # mm: the reference's own error
    assert sim['low-passed PA-MPJPE'] < 0.7 * sim['PA-MPJPE']   # white noise: filtered out
    assert sim['held-out PA-MPJPE'] > sim['PA-MPJPE']            # three views, not four
    assert exact['held-out PA-MPJPE'] < 0.5
    per_joint = simulate_reference_error(truth, views, cams, np.full(17, sigma),
                                         np.random.default_rng(0))
    assert per_joint['PA-MPJPE'] == pytest.approx(sim['PA-MPJPE'])
    assert 'low-passed PA-MPJPE' not in per_joint       # no fps: not low-passed


def test_facing_error_sees_a_body_turned_round_or_swapped():
    rng = np.random.default_rng(14)
    body = skeleton_points(np.zeros(3), rng)             # world, z up

    def turned(points, degrees):
        a = np.radians(degrees)
        rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        return points @ rot.T
    assert facing_error(body, body) == pytest.approx(0.0, abs=1e-6)
    assert facing_error(turned(body, 30), body) == pytest.approx(30.0, abs=3.0)
    assert facing_error(turned(body, 180), body) == pytest.approx(180.0, abs=3.0)
    from hmr_models.skeleton import COCO17_NAMES, flip_permutation
    swapped = body[flip_permutation(COCO17_NAMES)]       # left and right labels exchanged
    assert facing_error(swapped, body) > 150.0
    missing = body.copy()
    missing[11] = np.nan
    assert np.isnan(facing_error(missing, body))


def test_lean_and_position_errors():
    rng = np.random.default_rng(15)
    body = skeleton_points(np.array([0.5, 0.0, 4.0]), rng)   # hips 4 m ahead of the camera
    hips = body[[11, 12]].mean(0)

    def leaned(degrees):          # turned about the x axis through the hips
        a = np.radians(degrees)
        rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        return (body - hips) @ rot.T + hips
    assert lean_error(body, body) == pytest.approx(0.0, abs=1e-6)
    assert lean_error(leaned(20), body) == pytest.approx(20.0, abs=3.0)
    assert position_error(leaned(20), body) == pytest.approx((0.0, 0.0), abs=1e-9)
    further = body + np.array([0.0, 0.0, 0.4])
    distance, depth = position_error(further, body)
    assert distance == pytest.approx(0.4) and depth == pytest.approx(100 * 0.4 / hips[2])
    missing = body.copy()
    missing[12] = np.nan
    assert np.isnan(position_error(missing, body)).all() and np.isnan(lean_error(missing, body))


def test_a_view_given_the_other_views_keypoints():
    """View 0's keypoints are off; the what-if gives it the other views' (exact) agreement."""
    rng = np.random.default_rng(15)
    cams = ring_of_cameras(4)
    exact = views_of_two_people(cams, 3, np.random.default_rng(16))

    def detect(v, f, kp, boxes):
        return kp + (rng.normal(0, 6.0, kp.shape) if v == 0 else 0.0)
    views = views_of_two_people(cams, 3, np.random.default_rng(16), detect)
    ref = build_reference(views, cams, max_error=1e6, match_error=1e6)
    people = views[0][1]
    people.keypoint_scores[0, 3] = 0.1                 # a doubtful ear keeps its low score
    given = with_reference_keypoints(people, ref.frames[1], cams[0], 0)
    truth = exact[0][1].keypoints
    assert np.abs(given.keypoints - truth).max() < 0.01
    assert np.abs(people.keypoints - truth).mean() > 3.0        # the input is left alone
    assert given.keypoint_scores[0, 3] == pytest.approx(0.1)
    assert np.array_equal(given.boxes, people.boxes)
    nobody = with_reference_keypoints(people, [], cams[0], 0)     # no reference person: as given
    assert np.array_equal(nobody.keypoints, people.keypoints)
