"""Metrics of meshes on real footage.

Agreement with the 2D keypoints, and 3D errors against a multi-view reference on COCO's 12 body
joints:

- `keypoint_agreement`: distance between the mesh's projected COCO-17 keypoints and the
  front-end's confident keypoints, per keypoint, as a fraction of the person's box height;
  `agreement_summary` gives the median (%) and PCK at 0.05 / 0.1 of the box height.
- `body12_errors`: MPJPE (aligned at the hip centre) and PA-MPJPE (similarity Procrustes) on
  the 12 body joints (shoulders, elbows, wrists, hips, knees, ankles); joints without a
  reference are left out of both.
- `acceleration_error_tracks`: ACC-ERR over runs of consecutive frames of one track.

Over the records of a pipeline run (`benchmarks/eval_real.py`: per frame, the people and, per
stream, the mesh's COCO-17 keypoints in 3D and projected): `stream_agreement` (2D),
`score_multiview` and `multiview_rows` (3D against a multi-view reference, per view and per
person, with an arms-down template body as baseline; in 2D, the median distance of the mesh's
and of the front-end's keypoints to the reference's projection in the view, % of the box height:
how much of the error a closer fit could remove; and PA-MPJPE with the reference's depth on the
mesh's pixel rays, or the mesh's depth on the reference's rays: the image-plane and the depth
part of the error; and what-if rows that show which part a better 2D fit or a better shape could
remove: the mesh's depth on the view's own keypoint rays (a perfect 2D fit), the view's keypoints
at the reference's depth (the keypoints' own 2D error), the mesh with the person's bone lengths),
`ceiling_row` (the body fitted to the reference itself: the joint-placement ceiling),
`floor_rows` (a perfect estimate against a reference rebuilt from keypoints with the detector's
measured spread: the reference's own error, the floor no estimate can go below).
"""
from collections import defaultdict

import numpy as np
import torch

from hmr_models.eval.reference import match_detections, person_tracks
from hmr_models.skeleton import COCO17_NAMES

BODY12 = np.arange(5, 17)                  # COCO-17 shoulders .. ankles
BODY12_NAMES = COCO17_NAMES[5:]
_HIPS = (6, 7)                             # left/right hip inside BODY12
MM = 1000.0
# ~/persons, ~/persons_smoothed and ~/persons_delayed; records carry 'delayed' only when the
# pipeline has temporal_delay_frames > 0.
STREAMS = ('per-frame', 'smoothed', 'delayed')
# COCO-17 bones walked from the hips outwards (parent, child): legs, torso sides, arms.
BONES = ((11, 13), (13, 15), (12, 14), (14, 16), (11, 5), (12, 6), (5, 7), (7, 9), (6, 8),
         (8, 10))
HIP_WIDTH = (11, 12)


def keypoint_agreement(projected, keypoints, scores, boxes, min_score=0.3):
    """(N, 17) distance / box height between projected mesh keypoints and confident keypoints.

    projected, keypoints (N, 17, 2) pixels; scores (N, 17); boxes (N, 4) xyxy. NaN where the
    keypoint scored below `min_score` (or is missing).
    """
    projected = np.asarray(projected, np.float64)
    keypoints = np.asarray(keypoints, np.float64)
    scores = np.nan_to_num(np.asarray(scores, np.float64))
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    err = np.linalg.norm(projected - keypoints, axis=-1) / height[:, None]
    ok = (scores >= min_score) & np.isfinite(err)
    return np.where(ok, err, np.nan)


def agreement_summary(errors):
    """Summary of keypoint_agreement errors (any shape; NaN entries are not counted).

    Returns {'keypoints', 'median %', 'PCK@0.05', 'PCK@0.1'}; PCKs are fractions in [0, 1].
    """
    e = np.asarray(errors, np.float64).ravel()
    e = e[np.isfinite(e)]
    if e.size == 0:
        return {'keypoints': 0, 'median %': float('nan'), 'PCK@0.05': float('nan'),
                'PCK@0.1': float('nan')}
    return {'keypoints': int(e.size), 'median %': float(100.0 * np.median(e)),
            'PCK@0.05': float((e <= 0.05).mean()), 'PCK@0.1': float((e <= 0.1).mean())}


def _similarity_align(pred, gt, mask):
    """Procrustes (scale, rotation, translation) of pred (J, 3) onto gt over the masked joints."""
    p, g = pred[mask], gt[mask]
    mu_p, mu_g = p.mean(0), g.mean(0)
    p0, g0 = p - mu_p, g - mu_g
    u, s, vt = np.linalg.svd(p0.T @ g0)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.array([1.0, 1.0, d])
    rot = (u * fix) @ vt
    scale = (s * fix).sum() / max((p0 ** 2).sum(), 1e-12)
    return scale * (pred - mu_p) @ rot + mu_g


def body12_errors(pred, gt, valid=None, min_joints=6):
    """Per-joint errors on the 12 COCO body joints of N people.

    Args:
        pred, gt: (N, 17, 3) COCO-17 keypoints (metres or mm: errors come in the same unit),
            each in its own frame (both camera frame, or any: only alignment-free quantities
            are compared after alignment).
        valid: (N, 17) bool, where gt exists (default: finite gt).
        min_joints: people with fewer valid body joints (or without both hips) are skipped.
    Returns:
        (mpjpe (N, 12), pa (N, 12)) per-joint errors, NaN where not scored. MPJPE aligns the
        hip centres (midpoint of the two hips), PA-MPJPE a similarity transform on the valid
        joints.
    """
    pred = np.asarray(pred, np.float64)[:, BODY12]
    gt = np.asarray(gt, np.float64)[:, BODY12]
    ok = np.isfinite(gt).all(-1) & np.isfinite(pred).all(-1)
    if valid is not None:
        ok &= np.asarray(valid, bool)[:, BODY12]
    n = len(pred)
    mp = np.full((n, 12), np.nan)
    pa = np.full((n, 12), np.nan)
    for i in range(n):
        m = ok[i]
        if m.sum() < min_joints or not m[list(_HIPS)].all():
            continue
        hp = pred[i, list(_HIPS)].mean(0)
        hg = gt[i, list(_HIPS)].mean(0)
        mp[i, m] = np.linalg.norm((pred[i] - hp) - (gt[i] - hg), axis=-1)[m]
        aligned = _similarity_align(pred[i], gt[i], m)
        pa[i, m] = np.linalg.norm(aligned - gt[i], axis=-1)[m]
    return mp, pa


def acceleration_error_tracks(pred, gt, valid):
    """Mean ACC-ERR (units per frame^2) of hip-centred body joints over a track's frames.

    pred, gt (T, 17, 3) of one person over consecutive frames; valid (T,) bool (both exist).
    Only frames whose two neighbours are valid count. Returns (sum, count) so that tracks
    can be pooled.
    """
    pred = np.asarray(pred, np.float64)[:, BODY12]
    gt = np.asarray(gt, np.float64)[:, BODY12]
    hips = list(_HIPS)
    pred = pred - pred[:, hips].mean(1, keepdims=True)
    gt = gt - gt[:, hips].mean(1, keepdims=True)
    valid = np.asarray(valid, bool) & np.isfinite(pred).all((1, 2)) & np.isfinite(gt).all((1, 2))
    return _acceleration_error(pred, gt, valid)


def position_acceleration_tracks(pred, gt, valid):
    """ACC-ERR of the hip centre itself (not hip-centred), as acceleration_error_tracks.

    How much where the person is shakes over time: what a robot's velocity estimate
    differentiates. Returns (sum, count).
    """
    pred, gt = hip_centre(pred)[:, None], hip_centre(gt)[:, None]
    valid = np.asarray(valid, bool) & np.isfinite(pred).all((1, 2)) & np.isfinite(gt).all((1, 2))
    return _acceleration_error(pred, gt, valid)


def _acceleration_error(pred, gt, valid):
    if len(valid) < 3:
        return 0.0, 0
    acc = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]  # noqa: E731
    ok = valid[2:] & valid[1:-1] & valid[:-2]
    err = np.linalg.norm(np.nan_to_num(acc(pred)) - np.nan_to_num(acc(gt)), axis=-1).mean(-1)
    return float(err[ok].sum()), int(ok.sum())


def stream_agreement(records, stream):
    """agreement_summary of one stream's projected keypoints over pipeline records."""
    errs = [keypoint_agreement(r[stream][1], r['people'].keypoints, r['people'].keypoint_scores,
                               r['people'].boxes) for r in records if len(r['people'])]
    return agreement_summary(np.concatenate(errs) if errs else np.zeros((0, 17)))


def template_keypoints(body):
    """COCO-17 keypoints (17, 3) of the mean-shape body standing with its arms down."""
    from hmr_models.skeleton import SMPL24_NAMES
    pose = np.zeros((1, 72), np.float32)
    pose[0, 3 * SMPL24_NAMES.index('left_shoulder') + 2] = -1.2
    pose[0, 3 * SMPL24_NAMES.index('right_shoulder') + 2] = 1.2
    with torch.no_grad():
        out = body(torch.from_numpy(pose))
    return body.regress(out.vertices, 'coco17').numpy()[0].astype(np.float64)


def score_multiview(records_per_view, reference, cameras, template, held_out=False):
    """Rows of per-person-frame errors (mm) of every view and stream against the reference.

    held_out: score each view against the reference triangulated without it.
    """
    rows = []
    tracks = defaultdict(dict)       # (view, stream, person id) -> {frame: (pred, gt)}
    lengths = reference_bone_lengths(reference)
    for v, (records, cam) in enumerate(zip(records_per_view, cameras)):
        for f, rec in enumerate(records):
            ref = reference.frames[f]
            match = match_detections(rec['people'], ref, cam)
            for i, j in enumerate(match):
                if j < 0:
                    continue
                points = ref[j].held_out.get(v) if held_out else ref[j].points
                if points is None:
                    continue
                gt = cam.to_camera(points)                              # (17, 3), NaN kept
                _, tpa = body12_errors(template[None] * MM, gt[None] * MM)   # the same per stream
                # 2D, on the joints the view's keypoints are confident of: where the reference
                # falls in this (distorted) image
                ref_px = cam.project(points)
                kp_ref = _median_2d(rec['people'].keypoints[i], ref_px, rec['people'], i)
                rays = _pixel_rays(cam, rec['people'].keypoints[i])     # the view's keypoints
                with np.errstate(invalid='ignore'):
                    kp_at_depth = rays * gt[:, 2:3]

                def pa_of(points):
                    return np.nanmean(body12_errors(points[None] * MM, gt[None] * MM)[1])
                kp_pa = pa_of(kp_at_depth)                              # the same per stream
                for stream in (s for s in STREAMS if s in rec):
                    pred = rec[stream][0][i]
                    mp, pa = body12_errors(pred[None] * MM, gt[None] * MM)
                    if not np.isfinite(mp).any():
                        continue
                    at_depth, on_rays = _swap_depth(pred, gt)
                    distance, depth = position_error(pred, gt)
                    with np.errstate(invalid='ignore'):
                        on_keypoints = rays * _relative_depth(pred, gt)[:, None]
                    rows.append({'view': cam.name, 'person': ref[j].person_id, 'frame': f,
                                 'stream': stream, 'MPJPE': np.nanmean(mp),
                                 'PA-MPJPE': np.nanmean(pa), 'template PA-MPJPE': np.nanmean(tpa),
                                 'mesh-ref 2D %': _median_2d(rec[stream][1][i], ref_px,
                                                             rec['people'], i),
                                 'keypoints-ref 2D %': kp_ref,
                                 'PA-MPJPE, reference depth': pa_of(at_depth),
                                 'PA-MPJPE, reference rays': pa_of(on_rays),
                                 'PA-MPJPE, keypoint rays': pa_of(on_keypoints),
                                 'PA-MPJPE, keypoints at reference depth': kp_pa,
                                 'PA-MPJPE, reference bone lengths': pa_of(with_bone_lengths(
                                     pred, lengths.get(ref[j].person_id))),
                                 'facing error deg': facing_error(pred, gt),
                                 'lean error deg': lean_error(pred, gt),
                                 POSITION: distance * MM, DEPTH: depth,
                                 'joints': int(np.isfinite(mp).sum())})
                    tracks[(cam.name, stream, ref[j].person_id)][f] = (pred * MM, gt * MM)
    acc = defaultdict(lambda: [0.0, 0])
    for (view, stream, pid), by_frame in tracks.items():
        frames = sorted(by_frame)
        t = np.arange(frames[0], frames[-1] + 1)
        pred = np.full((len(t), 17, 3), np.nan)
        gt = np.full((len(t), 17, 3), np.nan)
        for f in frames:
            pred[f - t[0]], gt[f - t[0]] = by_frame[f]
        valid = np.isfinite(pred).all((1, 2)) & np.isfinite(gt[:, 5:]).all((1, 2))
        s, c = acceleration_error_tracks(pred, gt, valid)
        sp, cp = position_acceleration_tracks(pred, gt, valid)
        for key in ((stream,), (stream, view), (stream, pid)):
            acc[key][0] += s
            acc[key][1] += c
            acc[('position',) + key][0] += sp
            acc[('position',) + key][1] += cp
    return rows, acc


def reference_bone_lengths(reference):
    """{person id: {(parent, child): median length}} of BONES and the hip width."""
    out = {}
    for pid, by_frame in person_tracks(reference).items():
        pts = np.stack([person.points for person in by_frame.values()])
        out[pid] = {}
        for a, b in BONES + (HIP_WIDTH,):
            d = np.linalg.norm(pts[:, a] - pts[:, b], axis=-1)
            if np.isfinite(d).any():
                out[pid][(a, b)] = float(np.nanmedian(d))
    return out


def with_bone_lengths(points, lengths):
    """(17, 3) COCO-17 points with the body-12 bones rescaled to `lengths`, directions kept.

    The hips keep their centre and direction, then each bone of BONES (from the hips
    outwards) gets its length; bones without a length (or None for `lengths`) keep theirs.
    """
    out = np.array(points, np.float64)
    if not lengths:
        return out
    if HIP_WIDTH in lengths:
        centre = points[list(HIP_WIDTH)].mean(0)
        half = 0.5 * (points[HIP_WIDTH[1]] - points[HIP_WIDTH[0]])
        half *= 0.5 * lengths[HIP_WIDTH] / max(np.linalg.norm(half), 1e-9)
        out[HIP_WIDTH[0]], out[HIP_WIDTH[1]] = centre - half, centre + half
    for a, b in BONES:
        bone = points[b] - points[a]
        norm = np.linalg.norm(bone)
        if (a, b) in lengths and np.isfinite(norm) and norm > 1e-9:
            bone = bone * lengths[(a, b)] / norm
        out[b] = out[a] + bone
    return out


def _pixel_rays(camera, pixels):
    """(17, 3) camera-frame rays (z = 1) through (distorted) pixels of a CameraCalibration."""
    und = camera.undistort(pixels)
    homog = np.concatenate([und, np.ones((len(und), 1))], 1)
    return homog @ np.linalg.inv(camera.matrix).T


def hip_centre(points):
    """(..., 3) middle of the hips of COCO-17 points (..., 17, 3)."""
    return np.asarray(points, np.float64)[..., [11, 12], :].mean(-2)


def torso_up(points):
    """(3,) from the hips' middle to the shoulders' middle of COCO-17 points (not normalised)."""
    p = np.asarray(points, np.float64)
    return p[[5, 6]].mean(0) - hip_centre(p)


def torso_facing(points):
    """(3,) unit normal of the torso's front from COCO-17 shoulders and hips (NaN if missing).

    Up is hips -> shoulders, across is right -> left; the front is across x up. A left/right
    swap or a body turned around flips it.
    """
    p = np.asarray(points, np.float64)
    up = torso_up(p)
    across = (p[5] + p[11]) - (p[6] + p[12])
    n = np.cross(across, up)
    norm = np.linalg.norm(n)
    return n / norm if np.isfinite(norm) and norm > 1e-9 else np.full(3, np.nan)


def position_error(pred, gt):
    """(distance, depth error %) of the hip centres of two COCO-17 people (camera frame, m).

    Where the person is, not their pose: what a robot's distance to a person rests on. NaN
    where either hip is missing.
    """
    hp, hg = hip_centre(pred), hip_centre(gt)
    if not (np.isfinite(hp).all() and np.isfinite(hg).all()) or hg[2] <= 0:
        return float('nan'), float('nan')
    return float(np.linalg.norm(hp - hg)), float(100.0 * abs(hp[2] - hg[2]) / hg[2])


def lean_error(pred, gt):
    """Angle in degrees between the torsos (hips -> shoulders) of two COCO-17 people."""
    a, b = torso_up(pred), torso_up(gt)
    with np.errstate(invalid='ignore'):
        cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))) if np.isfinite(cos) \
        else float('nan')


def facing_error(pred, gt):
    """Angle in degrees between the torso fronts of two COCO-17 people (same frame)."""
    a, b = torso_facing(pred), torso_facing(gt)
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0)))) if np.isfinite(a @ b) \
        else float('nan')


def _relative_depth(pred, gt):
    """The mesh's depths relative to its hips, with the hips at the reference's distance."""
    hips = [BODY12[h] for h in _HIPS]
    return pred[:, 2] - pred[hips, 2].mean() + gt[hips, 2].mean()


def _swap_depth(pred, gt):
    """The mesh's joints with the reference's depth, and the reference's with the mesh's.

    pred, gt: (17, 3) camera frame. `at_depth` keeps each joint on the mesh's own pixel ray
    but at the reference's depth: its error is the mesh's image-plane error alone.
    `on_rays` puts each joint on the reference's ray at the mesh's depth relative to its
    hips (the hips at the reference's distance): its error is the mesh's depth error alone.
    """
    with np.errstate(invalid='ignore', divide='ignore'):
        at_depth = pred * (gt[:, 2] / pred[:, 2])[:, None]
        on_rays = gt * (_relative_depth(pred, gt) / gt[:, 2])[:, None]
    return at_depth, on_rays


def _median_2d(points, reference_px, people, i):
    """Median keypoint_agreement (%) of body-12 `points` (17, 2) with the reference's pixels.

    Scored on the joints that person `i` of `people` has confident keypoints for.
    """
    err = keypoint_agreement(points[None], reference_px[None], people.keypoint_scores[i:i + 1],
                             people.boxes[i:i + 1])[0, BODY12]
    err = err[np.isfinite(err)]
    return float(100.0 * np.median(err)) if err.size else float('nan')


def multiview_rows(variant, clip, reference, rows, acc, cams):
    """Table rows: all person-frames, per view and per person, for each stream."""
    out = []
    # the delayed stream has no estimate for a clip's last frames: the others are also scored
    # on the person-frames it has, for a like-for-like comparison
    delayed = {(r['view'], r['person'], r['frame']) for r in rows if r['stream'] == 'delayed'}
    for stream in STREAMS:
        sel = [r for r in rows if r['stream'] == stream]
        if not sel:             # no such stream in this variant (delayed; smoothed: stills)
            continue
        groups = [('all', sel, (stream,))]
        if delayed and stream != 'delayed':
            groups.append(('frames with a delayed estimate', [
                r for r in sel if (r['view'], r['person'], r['frame']) in delayed],
                ('no ACC-ERR',)))
        groups += [(f'view {c.name}', [r for r in sel if r['view'] == c.name], (stream, c.name))
                   for c in cams]
        groups += [(f'person {pid}', [r for r in sel if r['person'] == pid], (stream, pid))
                   for pid in sorted({r['person'] for r in sel})]
        for label, g, key in groups:
            s, c = acc.get(key, (0.0, 0))
            sp, cp = acc.get(('position',) + key, (0.0, 0))
            out.append({'variant': variant, 'table': '3d', 'clip': clip, 'reference': reference,
                        'group': label, 'stream': stream, **summarise_rows(g),
                        'ACC-ERR': s / c if c else float('nan'),
                        POSITION_ACC: sp / cp if cp else float('nan')})
    return out


def ceiling_row(clip, reference, body):
    """The body fitted to the reference itself (all views): the joint-placement ceiling."""
    from hmr_models.fitting import KeypointSkeleton
    from hmr_models.fitting.fit3d import fit_to_points
    from hmr_models.fitting import so3
    people = [p for frame in reference.frames for p in frame]
    if not people:
        return []
    skeleton = KeypointSkeleton.from_body(body)
    points = np.stack([p.points for p in people])
    pose, betas, transl = fit_to_points(skeleton, points)
    fitted = skeleton.pose(so3.exp(pose.reshape(-1, 24, 3)), betas, transl).keypoints
    mp, pa = body12_errors(fitted * MM, points * MM)
    keep = np.isfinite(pa).any(1)
    return [{'variant': 'body fitted to the reference', 'table': '3d', 'clip': clip,
             'reference': 'all views', 'group': 'all', 'stream': '-',
             'person-frames': int(keep.sum()), 'MPJPE': float(np.nanmean(mp[keep])),
             'PA-MPJPE': float(np.nanmean(pa[keep])),
             'MPJPE median': float(np.median(np.nanmean(mp[keep], 1))),
             'PA-MPJPE median': float(np.median(np.nanmean(pa[keep], 1)))}]


def with_reference_keypoints(people, reference_people, camera, view):
    """People of one view whose keypoints are the held-out reference's, projected into it.

    What the mesh stages would do with 2D keypoints as good as the other views' agreement: each
    detection matched to a reference person (match_detections) gets that person's points
    triangulated without this view, projected (distorted pixels, as the image). Scores stay the
    front-end's; points the other views could not triangulate become missing (NaN, score 0).
    Unmatched detections keep their own keypoints. Boxes and track ids are kept.
    """
    import dataclasses
    out = dataclasses.replace(people, keypoints=np.array(people.keypoints, copy=True),
                              keypoint_scores=np.array(people.keypoint_scores, copy=True))
    for i, j in enumerate(match_detections(people, reference_people, camera)):
        points = reference_people[j].held_out.get(view) if j >= 0 else None
        if points is None:
            continue
        px = camera.project(points)
        ok = np.isfinite(px).all(-1)
        out.keypoints[i] = np.where(ok[:, None], px, np.nan)
        out.keypoint_scores[i] = np.where(ok, out.keypoint_scores[i], 0.0)
    return out


def floor_rows(clip, truth, views_people, cameras, spread, fps, seed=0):
    """A perfect estimate scored against simulated references (reference.simulate_reference_error).

    truth: the reference low-passed over time (the people's smooth motion). Rows for the
    reference as built ('all views'), without the scored view ('held-out') and low-passed
    ('all views, 6 Hz'), with the simulated and the real reprojection error side by side
    (they should agree: `spread` is then the views' real disagreement).
    """
    from hmr_models.eval.reference import simulate_reference_error
    sim = simulate_reference_error(truth, views_people, cameras, spread,
                                   np.random.default_rng(seed), fps=fps)
    real_px = [p.error[np.isfinite(p.error)] for frame in truth.frames for p in frame]
    real_px = float(np.median(np.concatenate(real_px))) if real_px else float('nan')
    return [{'variant': 'perfect estimate, simulated reference', 'table': '3d', 'clip': clip,
             'reference': ref, 'group': 'all', 'stream': '-',
             'person-frames': sim.get('person-frames', 0),
             'MPJPE': sim.get(prefix + 'MPJPE', float('nan')),
             'PA-MPJPE': sim.get(prefix + 'PA-MPJPE', float('nan')),
             'reprojection px, simulated': sim['reprojection px'],
             'reprojection px, real': real_px}
            for ref, prefix in (('all views', ''), ('held-out', 'held-out '),
                                ('all views, 6 Hz', 'low-passed '))]


WHAT_IF = ('PA-MPJPE, keypoint rays', 'PA-MPJPE, keypoints at reference depth',
           'PA-MPJPE, reference bone lengths')
FACING = 'facing error deg'
LEAN = 'lean error deg'            # the torso's hips -> shoulders direction
POSITION = 'hip position error mm'  # where the person is (camera frame), not root-aligned
POSITION_ACC = 'hip ACC-ERR'  # mm/frame^2 of the hip centre itself (not hip-centred)
DEPTH = 'depth error %'
TURNED = 'facing > 90 deg %'         # the body turned the wrong way round (or left/right swapped)


def summarise_rows(rows, keys=('MPJPE', 'PA-MPJPE', 'template PA-MPJPE', 'mesh-ref 2D %',
                               'keypoints-ref 2D %', 'PA-MPJPE, reference depth',
                               'PA-MPJPE, reference rays') + WHAT_IF
                   + (FACING, LEAN, POSITION, DEPTH)):
    """Count, mean and median of each key over rows (non-finite values left out)."""
    out = {'person-frames': len(rows)}
    for k in keys:
        vals = [r[k] for r in rows if np.isfinite(r[k])]
        out[k] = float(np.mean(vals)) if vals else float('nan')
        out[k + ' median'] = float(np.median(vals)) if vals else float('nan')
    facing = [r[FACING] for r in rows if FACING in r and np.isfinite(r[FACING])]
    out[TURNED] = 100.0 * float(np.mean(np.array(facing) > 90.0)) if facing else float('nan')
    return out
