"""Scores on SynthOcc, the synthetic crowd/occlusion split (`hmr_models.data.synth`).

Inputs in metres, figures in mm. Single frames (`benchmarks/eval_synthocc.py`):
`per_person` reads a shard array in the dataset's order of people, `occlusion_masks` the joints
the scene marks occluded and inside the image, `ground_truth` the true joints and vertices,
`errors_mm` MPJPE / PA-MPJPE / MPVE / OCC-MPJPE, and `paired_comparison` every model minus a
baseline with bootstrap intervals over scenes. Over time (`benchmarks/eval_synthocc_sequences.py`):
`run_scene` runs the per-frame model and the smoothers over one scene as the node does, and
`score_person_frames` adds ACC-ERR over runs of consecutive detected frames of each track.
"""
import numpy as np
import torch

from hmr_models.data.synth.visibility import occluded_in_frame
from hmr_models.diffmesh.streaming import StreamingResult, StreamingSmoother
from hmr_models.eval.metrics import (acceleration_errors, body_errors, paired_difference,
                                     per_joint_error, procrustes_align)
from hmr_models.geometry.rotations_np import frame_from_directions, rotation_angle

MM = 1000.0
# SMPL-24 joints of the torso (pelvis, hips, spine, neck, collars, shoulders)
TORSO_JOINTS = [0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17]


def per_person(dataset, key):
    """One shard array, (N, ...) in the dataset's order of people."""
    return np.stack([dataset.shards[s][key][j] for s, j in dataset.index])


def occlusion_masks(dataset):
    """(N, 24) bool: SMPL joints occluded (self, other person, object) and inside the image."""
    return occluded_in_frame(per_person(dataset, 'joint_codes'))


def ground_truth(dataset, body):
    pose = torch.as_tensor(per_person(dataset, 'pose'))
    betas = torch.as_tensor(per_person(dataset, 'betas'))
    with torch.no_grad():
        out = body(pose.float(), betas.float())
    joints = per_person(dataset, 'joints3d')
    return joints.astype(np.float64), out.vertices.numpy().astype(np.float64), \
        out.joints.numpy().astype(np.float64)


def errors_mm(pred_j, pred_v, gt_j, gt_v, gt_vj, occluded, pred_vroot=None):
    """Errors in mm (inputs in metres); MPVE aligns the vertices on the pelvis."""
    pred_vroot = pred_j[:, 0] if pred_vroot is None else pred_vroot
    return body_errors(pred_j * MM, pred_v * MM, gt_j * MM, gt_v * MM, occluded,
                       pred_vroot * MM, gt_vj[:, 0] * MM)


def paired_comparison(results, baseline, gt_j, occluded, subset, scenes):
    """Every other model minus the model named `baseline` on `subset`, intervals over scenes.

    results: [(name, joints (N, 24, 3) m, ...)]; returns {name: {'MPJPE': (d, lo, hi),
    'OCC-MPJPE': (d, lo, hi)}} in mm (95 % bootstrap over `scenes`).
    """
    errors = {name: per_joint_error(pj[subset], gt_j[subset]) * MM
              for name, pj, *_ in results}
    if baseline not in errors:
        raise ValueError(f'{baseline!r}: no model of that name')
    masks = {'MPJPE': np.ones_like(occluded[subset]), 'OCC-MPJPE': occluded[subset]}
    return {name: {k: paired_difference(errors[baseline], err, mask, scenes[subset])
                   for k, mask in masks.items()}
            for name, err in errors.items() if name != baseline}


def vertex_errors(pred_j, pred_v, gt_j, gt_v):
    """(T,) MPVE of each frame (vertices aligned on each body's pelvis, as body_errors does)."""
    return np.linalg.norm((pred_v - pred_j[:, :1]) - (gt_v - gt_j[:, :1]), axis=-1).mean(-1)


def score_person_frames(rows, subset):
    """Metrics over the person-frames of `rows` (list of dicts of stacked arrays).

    A row holds either the vertices ('pred_v', 'gt_v') or their per-frame errors ('ve', from
    vertex_errors; what the sequence benchmark keeps: the vertices of every track and method
    do not fit in memory).
    """
    pj = np.concatenate([r['pred_j'][r[subset]] for r in rows]) * MM
    gj = np.concatenate([r['gt_j'][r[subset]] for r in rows]) * MM
    if all('ve' in r for r in rows):
        ve = np.concatenate([r['ve'][r[subset]] for r in rows]) * MM
        pv = gv = np.zeros((len(pj), 1, 3))            # MPVE from the per-frame errors
    else:
        pv = np.concatenate([r['pred_v'][r[subset]] for r in rows]) * MM
        gv = np.concatenate([r['gt_v'][r[subset]] for r in rows]) * MM
    occ = np.concatenate([r['occ'][r[subset]] for r in rows])
    acc_sum, acc_n = 0.0, 0
    for r in rows:                      # per track: consecutive detected frames only
        a, ok = acceleration_errors(r['pred_j'] * MM, r['gt_j'] * MM, r['ok'])
        if subset == 'sampled':
            ok &= r['sampled'][1:-1]
        acc_sum += a[ok].sum()
        acc_n += ok.sum()
    errors = body_errors(pj, pv, gj, gv, occ)
    if all('ve' in r for r in rows):
        errors['MPVE'] = float(ve.mean())
    # where the person is, not only the pose: the pelvis in the camera frame
    errors['POS-ERR'] = float(np.linalg.norm(pj[:, 0] - gj[:, 0], axis=-1).mean())
    return {'person-frames': len(pj), **errors, 'ACC-ERR': acc_sum / max(acc_n, 1)}


class Track:
    """Per-frame arrays of one person over a scene (NaN until predicted)."""

    def __init__(self, frames, num_vertices):
        nan = lambda *s: np.full(s, np.nan, np.float32)  # noqa: E731
        self.joints = nan(frames, 24, 3)
        self.vertices = nan(frames, num_vertices, 3)


def run_scene(scene, detections, images, predictor, smoothers, prefix='', camera_up=False,
              camera_floor=False, floor_from_people=None, floor_warm=False):
    """{method: {track id: Track}}: 'per-frame', and per smoother its newest (and delayed).

    camera_up: tell the pipeline which way is up in the camera (as a robot's TF would);
    camera_floor: also where the floor (world y = 0) is; floor_from_people: a
    hmr_models.fitting.floor_estimate.FloorFromPeople that finds the floor while the scene
    plays (as the pipeline's floor_from_people does), reset here; with floor_warm it first
    watches the whole scene once (a fixed camera that has seen these people before).
    """
    nf, nv = scene.num_frames, predictor.body.num_vertices
    methods = ['per-frame'] + list(smoothers)
    methods += [f'{m}, delayed' for m, sm in smoothers.items() if getattr(sm, 'delay', 0)]
    out = {m: {p.track_id: Track(nf, nv) for p in scene.people} for m in methods}
    k = scene.camera.intrinsics
    if camera_floor:                   # world y is up, the floor at y = 0
        k = k.with_floor(scene.camera.rotation[:, 1], float(scene.camera.centre[1]))
    elif camera_up:                    # world y is up; the camera maps world -> camera
        k = k.with_up(scene.camera.rotation[:, 1])

    floor = floor_from_people
    if floor is not None:
        floor.reset()
        for f in range(nf if floor_warm else 0):
            people = detections[f][0]
            if len(people):
                floor.observe(predictor.predict(images(f), people, k), people, k)
        if floor_warm:
            floor.refit()                    # once, on everything seen
            predictor.reset()

    def keep(method, track_ids, est, frames):
        for i, (t, g) in enumerate(zip(track_ids, frames)):
            out[method][int(t)].joints[g] = est.joints[i]
            out[method][int(t)].vertices[g] = est.vertices[i]

    for f in range(nf):
        people = detections[f][0]
        if len(people) == 0:
            continue
        kf = k if floor is None else floor.apply(k)
        est = predictor.predict(images(f), people, kf, stamp=f / scene.fps)
        if floor is not None and not floor_warm:
            floor.observe(est, people, kf)
        keep('per-frame', people.track_ids, est, [f] * len(people))
        for name, smoother in smoothers.items():
            if isinstance(smoother, StreamingSmoother):
                res = smoother.step(f / scene.fps, people.track_ids, est, people, kf)
            else:                                   # One-Euro: newest frame only
                res = StreamingResult(smoother.update(f / scene.fps, people.track_ids, est,
                                                      people))
            keep(name, people.track_ids, res.current, [f] * len(people))
            if res.delayed is not None:
                d = res.delayed
                keep(f'{name}, delayed', d.track_ids, d.estimate,
                     [int(round(s * scene.fps)) for s in d.stamps])
    return {prefix + m: tracks for m, tracks in out.items()}


def torso_turn(pred_j, gt_j):
    """(N,) degrees between the torso frames of SMPL-24 joints (N, 24, 3).

    A torso's frame: the spine (pelvis -> neck) and the left-right axis (left hip and shoulder
    minus right ones) made orthogonal to it.
    """
    def frame(j):
        j = np.asarray(j, np.float64)
        return frame_from_directions(j[:, 12] - j[:, 0],
                                     (j[:, 1] - j[:, 2]) + (j[:, 16] - j[:, 17]))
    return np.degrees(rotation_angle(frame(pred_j) @ np.swapaxes(frame(gt_j), 1, 2)))


def error_anatomy(rows, subset='all', large=200.0, turned=60.0):
    """Where the MPJPE of `rows` (as score_person_frames takes them) sits, in mm.

    median and p90 of the person-frames' MPJPE; `large %`: the share of the total error in
    person-frames over `large` mm; `torso-aligned`: MPJPE once the torso's rotation is aligned
    (fitted on TORSO_JOINTS: what is left is the limbs'); `turned %`: person-frames whose torso
    is turned more than `turned` degrees, and `turned share %` their share of the total error.
    """
    pj = np.concatenate([r['pred_j'][r[subset]] for r in rows]) * MM
    gj = np.concatenate([r['gt_j'][r[subset]] for r in rows]) * MM
    err = per_joint_error(pj, gj).mean(-1)
    torso = np.linalg.norm(procrustes_align(pj, gj, scale=False, fit=TORSO_JOINTS) - gj,
                           axis=-1).mean(-1)
    turn = torso_turn(pj, gj) > turned
    total = max(err.sum(), 1e-9)
    return {'MPJPE': float(err.mean()), 'median': float(np.median(err)),
            'p90': float(np.percentile(err, 90)),
            'large %': float(100.0 * err[err > large].sum() / total),
            'torso-aligned': float(torso.mean()), 'turned %': float(100.0 * turn.mean()),
            'turned share %': float(100.0 * err[turn].sum() / total)}
