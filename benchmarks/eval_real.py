"""Real footage: the pipeline against a multi-view 3D reference and its own 2D keypoints.

Per variant, in one run:

    ./scripts/fetch_eval_data.sh                      # once: data/real (pose2sim, sports2d, vtest)
    python benchmarks/eval_real.py [--data data/real] [--threads 2] [--csv out/real.csv] \
        [--variant today:refine_iterations=0,min_torso_keypoints=0,min_limb_keypoints=0,\
duplicate_min_common_keypoints=0] [--variant default:] [--clips ...] [--max-frames N]

Each variant is the whole pipeline (front-end, DPMesh, DiffMesh per track, as the node runs
it) with some parameters changed (`name:param=value,...`, names as the ROS parameters; no
variant given: `today` (refinement and the new body-evidence/duplicate rules off, i.e. the
shipped behaviour before them) and `default`). Clips:

- pose2sim_multi / pose2sim_single: Pose2Sim's demos, 4 calibrated views (1088x1920, 60 fps).
  Every view runs through the pipeline on its own (with its calibrated intrinsics). The
  reference: the first variant's keypoints of all views, matched across views and triangulated
  (confidence-weighted DLT, outlier views rejected; hmr_models.eval.reference). Each view's
  per-frame (`~/persons`) and smoothed (`~/persons_smoothed`) meshes, and with
  `temporal_delay_frames` > 0 in a variant the delayed ones (`~/persons_delayed`, each scored
  on its own frame, the clip's last frames given at its end as the node gives them; people
  with no delayed estimate, e.g. not yet tracked, are left out, so the other streams are also
  scored on the person-frames it has), are scored on the 12 COCO body joints of the mesh (its COCO
  regressor): MPJPE aligned at the hip centre, PA-MPJPE, and ACC-ERR over time (mm,
  mm/frame^2); per view and per person. Baseline in the same table: an arms-down template
  body, similarity-aligned (PA only; its orientation is the reference's).
  In 2D, in each view: median distance of the mesh's and of the view's own keypoints to the
  reference's projection (% of box height, joints the view's keypoints are confident of, score
  >= 0.3): a mesh further off than the keypoints has error a closer keypoint fit could remove.
  And PA-MPJPE split in two: each joint at the reference's depth on the mesh's pixel ray (the
  image-plane error alone), and at the mesh's depth on the reference's ray (the depth alone).
  What-if columns: the mesh's depth on the view's own keypoint rays (what a perfect 2D fit
  would score), the keypoints' rays at the reference's depth (the keypoints' own 2D error), and
  the mesh with each bone at the person's median reference length (what the right shape
  would score). The same scores against the reference low-passed over time (`all views, 6 Hz`:
  4th-order zero-phase Butterworth, as Pose2Sim filters its triangulations). And the
  reference's own error (`perfect estimate, simulated reference`): the low-passed reference
  taken as the truth, projected into the views, moved by MoveNet's measured spread (the bundled
  statistics), triangulated again; the truth scored against that. Its simulated reprojection
  error is printed beside the real one: when they agree, the simulated reference is as far off
  as the real one, and no estimate can be expected to score below that row. Also per row: the
  angle between the mesh's and the reference's torso fronts (`facing error deg`) and the share
  turned more than 90 degrees, the angle between their torsos' hips -> shoulders directions
  (`lean error deg`), and where the person is: the distance between the mesh's and the
  reference's hip centres in the camera frame (`hip position error mm`, not root-aligned) and
  its depth part (`depth error %`). `--camera-up` gives the pipeline each camera's up direction
  from its calibration, as a robot's TF would. `--what-if-reference-keypoints` runs each
  variant again with every view given the other views' keypoints (the held-out reference,
  projected) instead of MoveNet's: what better 2D keypoints would buy. `--baseline-mediapipe`
  also scores MediaPipe BlazePose's 3D world landmarks (full model, the same boxes): a
  monocular 3D pose learnt from real images, as a yardstick for the meshes.
- sports2d, vtest, and the Pose2Sim views: 2D agreement of the mesh with the keypoints it was
  given: median distance of its projected COCO keypoints to the confident (score >= 0.3)
  keypoints, % of box height, and PCK@0.05 / @0.1 of box height, per-frame and smoothed.
- no_people: OpenCV's sample images without people: people (meshes) found per image.

Caveat: the 3D reference is triangulated from the same front-end's keypoints the models see, so
it shares MoveNet's conventions (where a "hip" is) and some of its errors; reprojection errors
of the triangulation are printed. `--detector-stats FILE` also writes MoveNet's real error
statistics against the reference (leave-one-view-out, hmr_models.eval.detector_stats; pooled
over the multi-view clips; the shipped hmr_models/assets/detectors/movenet_lightning_errors.json
is that file, see detector_noise.calibrated_config).
"""
import argparse
from dataclasses import fields
from pathlib import Path
import statistics
import sys
import time

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hmr_models.diffmesh import OneEuroConfig, StreamingConfig, TemporalConfig  # noqa: E402
from hmr_models.dpmesh.factory import MeshConfig  # noqa: E402
from hmr_models.eval.multiview import read_qualisys_calibration  # noqa: E402
from hmr_models.data.synth.detector_noise import calibrated_config  # noqa: E402
from hmr_models.eval.real import (DEPTH, FACING, LEAN, POSITION, POSITION_ACC,  # noqa: E402
                                  STREAMS, TURNED, WHAT_IF,
                                  ceiling_row, floor_rows, multiview_rows, score_multiview,
                                  stream_agreement, template_keypoints,
                                  with_reference_keypoints)
from hmr_models.eval.reference import build_reference, low_pass_reference  # noqa: E402
from hmr_models.eval import variants  # noqa: E402
from hmr_models.eval.tables import write_csv  # noqa: E402
from hmr_models.fitting import RefineConfig  # noqa: E402
from hmr_models.frontend import FrontEndConfig  # noqa: E402
from hmr_models.pipeline import PipelineConfig, StageConfigs, build_pipeline  # noqa: E402
from hmr_models.types import CameraIntrinsics, People  # noqa: E402

TODAY = ('today:refine_iterations=0,min_torso_keypoints=0,min_limb_keypoints=0,'
         'duplicate_min_common_keypoints=0')
CONFIGS = (PipelineConfig, FrontEndConfig, MeshConfig, TemporalConfig, StreamingConfig,
           OneEuroConfig, RefineConfig)
MULTIVIEW = {'pose2sim_multi': 'pose2sim/Demo_MultiPerson',
             'pose2sim_single': 'pose2sim/Demo_SinglePerson'}
VIDEOS = {'sports2d': 'sports2d/demo.mp4', 'vtest': 'opencv/vtest.avi'}


def parse_variant(spec):
    """'name:k=v,k=v' -> (name, {k: typed v}) with the types of the config fields."""
    return variants.parse_variant(spec, CONFIGS)


def make_pipeline(values, threads):
    """The node's pipeline with `values` overriding the parameter defaults."""
    def build(cls):
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})
    config = build(PipelineConfig)
    config.threads = threads
    return build_pipeline(config, StageConfigs(
        frontend=build(FrontEndConfig), mesh=build(MeshConfig), temporal=build(TemporalConfig),
        streaming=build(StreamingConfig), one_euro=build(OneEuroConfig),
        refine=build(RefineConfig)))


def read_frames(path, max_frames=0, max_width=1280):
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f'cannot open {path} (run scripts/fetch_eval_data.sh)')
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    i = 0
    while not max_frames or i < max_frames:
        ok, bgr = cap.read()
        if not ok:
            break
        if max_width and bgr.shape[1] > max_width:
            s = max_width / bgr.shape[1]
            bgr = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        yield i / fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        i += 1
    cap.release()


def video_fps(path):
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.release()
    return fps


class Cache:
    """Front-end and DPMesh-network outputs shared by variants that would compute them again.

    Variants differing only in what runs after the network (refinement, DiffMesh) see the same
    people and the same network estimates: they are computed once per front-end configuration
    (people) and once per input (network). Outputs are identical to a fresh run.
    """

    def __init__(self):
        self.people, self.network = {}, {}

    def install(self, pipeline, clip_key, model_key=''):
        """Wrap `pipeline`'s front-end and DPMesh network for the frames of `clip_key`.

        model_key names the network's weights (variants with other weights: other outputs).
        """
        front = pipeline.frontend
        if not hasattr(front, '_uncached_process'):
            front._uncached_process = front.process
            pipeline.mesh.network = self.memoize_network(pipeline.mesh.network, model_key)
        config = tuple(sorted(vars(front.config).items()))
        counter = iter(range(10 ** 9))

        def process(image, stamp):
            key = (config, clip_key, next(counter))
            if key not in self.people:
                self.people[key] = (front._uncached_process(image, stamp), front.last_stats)
            people, front.last_stats = self.people[key]
            return people
        front.process = process

    def memoize_network(self, network, model_key=''):
        """`network` (the predictor's TorchNetwork or OnnxNetwork) reusing outputs it has seen."""
        return network if isinstance(network, _MemoNetwork) else \
            _MemoNetwork(network, self, model_key)


def _digest(*tensors):
    import hashlib
    h = hashlib.sha1()
    for t in tensors:
        if t is not None:
            h.update(t.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


class _MemoNetwork:
    """A DPMesh network (dpmesh.predictor's interface) whose outputs are kept per input."""

    def __init__(self, network, cache, model_key=''):
        self._network, self._store, self._model_key = network, cache.network, model_key

    def __getattr__(self, name):
        return getattr(self._network, name)

    def _memo(self, method, images, kp, ok, sc, cams):
        small = images[:, :, ::4, ::4] if images is not None else None
        key = (self._model_key, method, _digest(small, kp, ok, sc, cams.box_center,
                                                cams.box_size, cams.focal))
        if key not in self._store:
            args = (kp, ok, sc, cams) if images is None else (images, kp, ok, sc, cams)
            out = getattr(self._network, method)(*args)
            if method == 'parameters':           # kept small: what predict() reads
                import dataclasses
                out = dataclasses.replace(out, features=None, attention={}, joint_coords=None,
                                          pose_logits=None, lifter_features=None)
            self._store[key] = out
        out = self._store[key]
        if isinstance(out, tuple):
            return tuple(dict(d) for d in out)
        if isinstance(out, dict):
            return dict(out)
        import dataclasses
        return dataclasses.replace(out)           # fields the caller sets stay its own

    def parameters(self, images, kp, ok, sc, cams):
        return self._memo('parameters', images, kp, ok, sc, cams)

    def lifted_and_corrections(self, images, kp, ok, sc, cams):
        return self._memo('lifted_and_corrections', images, kp, ok, sc, cams)

    def lifted(self, kp, ok, sc, cams):
        return self._memo('lifted', None, kp, ok, sc, cams)


CACHE = Cache()


def run_clip(pipeline, frames, camera, clip_key=None, model_key='', substitute=None, every=1):
    """Per frame: people and, per stream, COCO-17 mesh keypoints (3D camera frame, 2D pixels).

    substitute(frame index, people) -> people: a what-if, the front-end's people changed before
    the mesh stages (records keep what the mesh stages were given). every: only every this
    many frames are processed (a node keeping up with a part of the camera's rate); the others
    get records without people, which nothing scores.
    """
    body = pipeline.mesh.body
    records, refine_ms, total_ms = [], [], []
    pipeline.reset_stream()                       # a new clip: no tracks, no history
    if clip_key is not None:
        CACHE.install(pipeline, clip_key, model_key)
    if substitute is not None:                    # undone by the next clip's CACHE.install
        detect, counter = pipeline.frontend.process, iter(range(10 ** 9))
        pipeline.frontend.process = lambda image, stamp: substitute(next(counter),
                                                                    detect(image, stamp))
    by_stamp = {}                                 # stamp -> record, for the delayed stream
    for index, (stamp, rgb) in enumerate(frames):
        cam = camera or CameraIntrinsics.from_image_diagonal(rgb.shape[1], rgb.shape[0])
        if index % every:
            none = mesh_keypoints(body, None, cam)
            streams = STREAMS[:1 + (pipeline.temporal is not None)] + \
                STREAMS[2:] * bool(pipeline.delay_frames)
            records.append({'people': People(), 'camera': cam, **dict.fromkeys(streams, none)})
            continue
        res = pipeline.process(rgb, stamp, cam)
        rec = {'people': res.people, 'camera': cam}
        for stream, est in zip(STREAMS, (res.bodies, res.smoothed)):
            if stream == STREAMS[0] or pipeline.temporal is not None:   # stills: per-frame only
                rec[stream] = mesh_keypoints(body, est, cam)
        if pipeline.delay_frames:
            # ~/persons_delayed: filled in when the frame's delayed estimates arrive (the
            # clip's last frames at its end); people without one stay NaN, not scored
            n = len(res.people)
            rec['delayed'] = (np.full((n, 17, 3), np.nan), np.full((n, 17, 2), np.nan))
            by_stamp[round(stamp, 6)] = rec
            for frame in res.delayed:
                _place_delayed(body, frame, by_stamp.get(round(frame.stamp, 6)))
        if len(res.people) and 'refine' in pipeline.mesh.last_timings_ms:
            # the fits of a person: the per-frame mesh, DiffMesh's newest (and delayed) frame
            refine_ms.append((pipeline.mesh.last_timings_ms['refine']
                              + res.timings_ms.get('temporal_refine', 0.0)) / len(res.people))
        total_ms.append(res.timings_ms.get('total', 0.0))
        records.append(rec)
    for frame in pipeline.end_of_stream():       # the clip's last frames, as the node does
        _place_delayed(body, frame, by_stamp.get(round(frame.stamp, 6)))
    return records, refine_ms, total_ms


def mesh_keypoints(body, est, cam):
    """COCO-17 keypoints of a BodyEstimate: (N, 17, 3) camera frame, (N, 17, 2) pixels."""
    if est is None or len(est) == 0 or est.vertices is None:
        return np.zeros((0, 17, 3)), np.zeros((0, 17, 2))
    kp3 = body.regress(est.vertices, 'coco17').astype(np.float64)
    return kp3, cam.project(kp3)


def _place_delayed(body, frame, rec):
    """Write a DelayedFrame's keypoints into its frame's record, person by box.

    A DelayedFrame's people are its frame's, by their boxes; not by track id, as a person
    untracked then may have the id of the track that took them over since.
    """
    if rec is None or not len(frame.people):
        return
    kp3, kp2 = mesh_keypoints(body, frame.bodies, rec['camera'])
    for j, box in enumerate(frame.people.boxes):
        hit = np.nonzero(np.all(rec['people'].boxes == box, axis=1))[0]
        if hit.size:
            rec['delayed'][0][hit[0]], rec['delayed'][1][hit[0]] = kp3[j], kp2[j]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', type=Path, default=REPO / 'data' / 'real')
    p.add_argument('--variant', action='append', default=[], metavar='NAME:K=V,...')
    p.add_argument('--clips', default='pose2sim_multi,pose2sim_single,sports2d,vtest,no_people')
    p.add_argument('--max-frames', type=int, default=0, help='per clip/view (0 = all; vtest 300)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--every', type=int, default=1, metavar='K',
                   help='process every K-th frame only, as a node that keeps up with 1/K of '
                   "the camera's rate (e.g. 4: Pose2Sim's 60 fps seen at 15); the others are "
                   'not scored')
    p.add_argument('--csv', type=Path, help='write the tables here (one CSV, a column per key)')
    p.add_argument('--detector-stats', type=Path, help="write MoveNet's error statistics here")
    p.add_argument('--what-if-reference-keypoints', action='store_true',
                   help='multi-view clips: also run each variant with every view given the '
                   "other views' keypoints (the held-out reference, projected) instead of its "
                   "own: what 2D keypoints as good as the other views' agreement would buy")
    p.add_argument('--camera-up', action='store_true',
                   help="multi-view clips: give the pipeline each camera's up direction from "
                   "its calibration (Qualisys' world z is up), as a robot's /tf_static would "
                   '(refine_upright_sigma=0 in a variant turns its use off)')
    p.add_argument('--camera-floor', action='store_true',
                   help="multi-view clips: also give the pipeline the floor (the calibration's "
                   "z = 0 plane: each camera's height over it and its up direction), as a "
                   "robot's floor_frame on /tf_static would (refine_floor_sigma=0 in a variant "
                   'turns its use off)')
    p.add_argument('--baseline-mediapipe', action='store_true',
                   help="multi-view clips: also score MediaPipe BlazePose's 3D world landmarks "
                   "(full model, on the first variant's person boxes): an off-the-shelf "
                   "monocular 3D pose learnt from real images, per-frame only")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = [parse_variant(v) for v in (args.variant or [TODAY, 'default:'])]
    clips = args.clips.split(',')
    table, reference, smooth, samples = [], {}, {}, []
    for name, values in variants:
        t0 = time.perf_counter()
        pipeline = make_pipeline(values, args.threads)
        model = str(values.get('dpmesh_checkpoint', ''))    # network outputs cached per model
        streams = STREAMS if pipeline.delay_frames else \
            STREAMS[:2] if pipeline.temporal is not None else STREAMS[:1]
        refine_ms, total_ms = [], []
        print(f'\n=== variant {name}: {values or "defaults"} ===', flush=True)
        for clip in clips:
            if clip in MULTIVIEW:
                folder = args.data / MULTIVIEW[clip]
                cams = read_qualisys_calibration(folder / 'calibration' / 'Calib.qca.txt')
                per_view = []
                for cam in cams:
                    intrinsics = cam.intrinsics()
                    up = cam.rotation @ (0.0, 0.0, 1.0)
                    if args.camera_floor:      # the camera centre's height over z = 0
                        intrinsics = intrinsics.with_floor(
                            up, float(-(cam.rotation.T @ cam.translation)[2]))
                    elif args.camera_up:
                        intrinsics = intrinsics.with_up(up)
                    recs, rm, tm = run_clip(pipeline, read_frames(
                        folder / 'videos' / f'{cam.name}.mp4', args.max_frames, 0),
                        intrinsics, (clip, cam.name), model, every=args.every)
                    per_view.append(recs)
                    refine_ms += rm
                    total_ms += tm
                    for stream in streams:
                        table.append({'variant': name, 'table': '2d', 'clip': f'{clip}/{cam.name}',
                                      'stream': stream, **stream_agreement(recs, stream)})
                if clip not in reference:       # the first variant's keypoints: one reference
                    views_people = [[r['people'] for r in recs] for recs in per_view]
                    reference[clip] = build_reference(views_people, cams)
                    fps = video_fps(folder / 'videos' / f'{cams[0].name}.mp4')
                    smooth[clip] = low_pass_reference(reference[clip], fps)
                    report_reference(clip, reference[clip])
                    table += ceiling_row(clip, reference[clip], pipeline.mesh.body)
                    table += floor_rows(clip, smooth[clip], views_people, cams,
                                        calibrated_config().visible_sigma, fps)
                    if args.detector_stats:
                        from hmr_models.eval.detector_stats import collect
                        samples.append(collect(views_people, cams, reference[clip]))
                for ref_name, ref, held in (('all views', reference[clip], False),
                                            ('held-out', reference[clip], True),
                                            ('all views, 6 Hz', smooth[clip], False)):
                    rows, acc = score_multiview(per_view, ref, cams,
                                                template_keypoints(pipeline.mesh.body), held)
                    table += multiview_rows(name, clip, ref_name, rows, acc, cams)
                if args.what_if_reference_keypoints:
                    table += reference_keypoints_rows(pipeline, name, clip, folder, cams,
                                                      reference[clip], args.max_frames, model)
                if args.baseline_mediapipe and name == variants[0][0]:
                    table += mediapipe_world_rows(pipeline, clip, folder, cams, per_view,
                                                  reference[clip], args.max_frames)
                for stream in streams:
                    table.append({'variant': name, 'table': '2d', 'clip': f'{clip} (all views)',
                                  'stream': stream, **stream_agreement(
                                      [r for recs in per_view for r in recs], stream)})
            elif clip in VIDEOS:
                max_frames = args.max_frames or (300 if clip == 'vtest' else 0)
                frames = read_frames(args.data / VIDEOS[clip], max_frames)
                recs, rm, tm = run_clip(pipeline, frames, None, (clip,), model,
                                        every=args.every)
                refine_ms += rm
                total_ms += tm
                for stream in streams:
                    table.append({'variant': name, 'table': '2d', 'clip': clip, 'stream': stream,
                                  **stream_agreement(recs, stream)})
                table.append({'variant': name, 'table': 'people', 'clip': clip,
                              'people per frame': float(np.mean([len(r['people'])
                                                                 for r in recs]))})
            elif clip == 'no_people':
                images = sorted((args.data / 'opencv' / 'no_people').glob('*'))
                found = 0
                for f in images:
                    rgb = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
                    found += len(run_clip(pipeline, [(0.0, rgb)], None, (clip, f.name),
                                          model)[0][0]
                                 ['people'])
                table.append({'variant': name, 'table': 'people', 'clip': 'no_people',
                              'images': len(images), 'people': found})
            else:
                raise SystemExit(f'unknown clip {clip!r}')
        table.append({'variant': name, 'table': 'speed',
                      'refine ms/person': statistics.median(refine_ms) if refine_ms else 0.0,
                      'pipeline ms/frame': statistics.median(total_ms) if total_ms else 0.0,
                      'wall s': time.perf_counter() - t0})
        pipeline.close()
    if samples:
        from hmr_models.eval.detector_stats import write_stats
        pooled = {k: np.concatenate([s[k] for s in samples]) for k in samples[0]}
        print(f'wrote {write_stats(args.detector_stats, pooled)} (MoveNet error statistics)')
    print_tables(table)
    if args.csv:
        keys = []
        for r in table:
            keys += [k for k in r if k not in keys]
        print(f'wrote {write_csv(args.csv, table, keys)}')
    return 0


def reference_keypoints_rows(pipeline, name, clip, folder, cams, reference, max_frames, model):
    """Rows of the --what-if-reference-keypoints pass, against the held-out reference.

    The keypoints the meshes were given come from it, so the all-view one would be circular.
    """
    per_view = []
    for v, cam in enumerate(cams):
        def substitute(f, people, v=v, cam=cam):
            return with_reference_keypoints(people, reference.frames[f], cam, v)
        per_view.append(run_clip(pipeline, read_frames(folder / 'videos' / f'{cam.name}.mp4',
                                                       max_frames, 0), cam.intrinsics(),
                                 (clip, cam.name), model, substitute)[0])
    rows, acc = score_multiview(per_view, reference, cams,
                                template_keypoints(pipeline.mesh.body), True)
    return multiview_rows(f"{name}, other views' keypoints", clip, 'held-out', rows, acc, cams)


def mediapipe_world_rows(pipeline, clip, folder, cams, per_view, reference, max_frames):
    """Rows of BlazePose's world landmarks on the same boxes, against the same references.

    Each person's landmarks (metres, hip-centred) are placed at the per-frame mesh's hip centre,
    so the root-aligned and Procrustes scores are BlazePose's own and the 2D columns compare
    BlazePose's 2D landmarks.
    """
    from hmr_models.frontend.keypoints.mediapipe_pose import MediaPipePoseBackend
    backend = MediaPipePoseBackend(world_landmarks=True)
    baseline = []
    try:
        for cam, records in zip(cams, per_view):
            frames = read_frames(folder / 'videos' / f'{cam.name}.mp4', max_frames, 0)
            baseline.append([_mediapipe_record(backend, rgb, rec)
                             for (_, rgb), rec in zip(frames, records)])
    finally:
        backend.close()
    name = 'MediaPipe BlazePose world landmarks (baseline)'
    table = []
    for ref_name, held in (('all views', False), ('held-out', True)):
        rows, acc = score_multiview(baseline, reference, cams,
                                    template_keypoints(pipeline.mesh.body), held)
        table += [r for r in multiview_rows(name, clip, ref_name, rows, acc, cams)
                  if r['stream'] == STREAMS[0]]           # no smoothed stream of its own
    return table


def _mediapipe_record(backend, rgb, record):
    people = record['people']
    pixels, _ = backend.estimate(rgb, people.boxes)
    world = backend.last_world_landmarks.astype(np.float64)
    mesh = record[STREAMS[0]][0]
    if len(mesh) == len(people):
        hips = 0.5 * (mesh[:, 11] + mesh[:, 12])
    else:                                       # no meshes this frame: any root will do
        hips = np.tile([0.0, 0.0, 5.0], (len(people), 1))
    placed = world - 0.5 * (world[:, 11:12] + world[:, 12:13]) + hips[:, None]
    stream = (placed, pixels.astype(np.float64))
    return {'people': people, 'camera': record['camera'], STREAMS[0]: stream, STREAMS[1]: stream}


def report_reference(clip, ref):
    people = [p for frame in ref.frames for p in frame]
    err = np.concatenate([p.error[np.isfinite(p.error)] for p in people]) if people else []
    views = np.concatenate([p.views.sum(0)[np.isfinite(p.error)] for p in people]) \
        if people else []
    ids = {p.person_id for p in people}
    print(f'{clip} reference: {len(people)} person-frames over {len(ref.frames)} frames, '
          f'{len(ids)} people; triangulated keypoints {len(err)}: reprojection error median '
          f'{np.median(err):.1f} px (p90 {np.percentile(err, 90):.1f}), views per keypoint '
          f'mean {np.mean(views):.2f}', flush=True)


def print_tables(table):
    def fmt(v):
        return f'{v:.1f}' if isinstance(v, float) else str(v)
    head = ['variant', 'clip', 'reference', 'group', 'stream', 'person-frames', 'MPJPE',
            'PA-MPJPE', 'ACC-ERR', 'template PA-MPJPE', 'MPJPE median', 'PA-MPJPE median',
            'mesh-ref 2D %', 'keypoints-ref 2D %', 'PA-MPJPE, reference depth',
            'PA-MPJPE, reference rays', *WHAT_IF, FACING, LEAN, POSITION, DEPTH, POSITION_ACC,
            TURNED,
            'reprojection px, simulated', 'reprojection px, real']
    rows = [r for r in table if r['table'] == '3d']
    print('\n3D per view and per person (same units):')
    _print([r for r in rows if r['group'] != 'all'], head, fmt)
    print('\n3D, multi-view reference (mm; MPJPE at the hip centre and PA-MPJPE on the 12 COCO '
          'body joints, means over person-frames; ACC-ERR mm/frame^2; reference triangulated '
          'from all views, or held-out: without the scored view):')
    _print([r for r in rows if r['group'] in ('all', 'frames with a delayed estimate')], head,
           fmt)
    print('\n2D agreement (mesh COCO keypoints vs confident keypoints; % of box height):')
    head = ['variant', 'clip', 'stream', 'keypoints', 'median %', 'PCK@0.05', 'PCK@0.1']
    rows = [r for r in table if r['table'] == '2d']
    _print(rows, head, lambda v: f'{v:.3f}' if isinstance(v, float) and v <= 1 else fmt(v))
    by = {(r['variant'], r['clip'], r['stream']): r['median %'] for r in rows}
    print('\nsmoothed (and delayed) / per-frame median 2D error:')
    for (var, clip, stream), v in by.items():
        if stream != 'per-frame' and (var, clip, 'per-frame') in by:
            print(f'  {var:10s} {clip:34s} {stream:9s} {v / by[(var, clip, "per-frame")]:.2f}')
    print('\npeople and speed:')
    for r in table:
        if r['table'] in ('people', 'speed'):
            print('  ' + ', '.join(f'{k} {fmt(v)}' for k, v in r.items() if k != 'table'))


def _print(rows, head, fmt):
    widths = [max(len(h), *(len(fmt(r.get(h, ''))) for r in rows)) if rows else len(h)
              for h in head]
    print('  '.join(h.rjust(w) for h, w in zip(head, widths)))
    for r in rows:
        print('  '.join(fmt(r.get(h, '')).rjust(w) for h, w in zip(head, widths)))


if __name__ == '__main__':
    sys.exit(main())
