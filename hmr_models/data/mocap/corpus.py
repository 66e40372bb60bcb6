"""The SMPL pose corpus: every mocap clip retargeted once, cached as npz + a JSON index.

Layout under the cache folder (``$HMR_CACHE`` or ``~/.cache/hmr_ros`` unless given)::

    mocap_corpus/<body key>/index.json         clips, splits, provenance, figures
    mocap_corpus/<body key>/calibration_<rig>.npz
    mocap_corpus/<body key>/clips/<collection>/<clip>.npz   SMPLMotion at 30 fps

Splits are by clip: every clip goes to exactly one of train/val/test, decided per collection
by ranking a seeded hash of the clip ids (deterministic and independent of build order).
Provenance per clip (collection, licence, ``free``) selects the freely licensed variant
(CMU + DeepMimic) with ``free_only=True``.
"""
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
import hashlib
import json
import logging
import os
from pathlib import Path
import time

import numpy as np
from tqdm import tqdm

from .classes import motion_class
from .motion import SMPLMotion, resample, smpl_forward_kinematics
from .retarget import bone_direction_errors, calibrate, retarget, target_rest_joints
from .rigs import RIGS
from .sources import COLLECTIONS, list_clips

log = logging.getLogger(__name__)

INDEX_VERSION = 2  # bump when retargeting changes: cached corpora rebuild
SPLITS = ('train', 'val', 'test')
# Bones whose direction is set by one source bone; the rest (pelvis->hips, spine3->collars)
# are fixed by the target skeleton's own proportions.
_TRUNK_GEOMETRY = ('pelvis->left_hip', 'pelvis->right_hip', 'spine3->left_collar',
                   'spine3->right_collar')


def default_cache_dir():
    """$HMR_CACHE, else ~/.cache/hmr_ros."""
    return Path(os.environ.get('HMR_CACHE') or Path.home() / '.cache' / 'hmr_ros')


def assign_splits(clip_ids, seed=0, val_fraction=0.1, test_fraction=0.1):
    """Split clip ids into train/val/test by a seeded hash (call per collection).

    Collections with at least 3 clips get at least one val and one test clip.
    Returns:
        dict clip id -> 'train' | 'val' | 'test'.
    """
    def key(cid):
        return hashlib.sha1(f'{seed}:{cid}'.encode()).hexdigest()

    order = sorted(clip_ids, key=key)
    n = len(order)
    n_test = max(1, round(n * test_fraction)) if n >= 3 and test_fraction > 0 else 0
    n_val = max(1, round(n * val_fraction)) if n >= 3 and val_fraction > 0 else 0
    out = {}
    for i, cid in enumerate(order):
        out[cid] = 'test' if i < n_test else 'val' if i < n_test + n_val else 'train'
    return out


@dataclass
class CorpusClip:
    """One clip of the corpus index."""

    clip_id: str
    collection: str
    licence: str
    free: bool
    split: str
    frames: int
    fps: float
    file: str  # relative to the corpus root
    labels: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    @property
    def motion_class(self):
        """Posture class (:data:`.classes.MOTION_CLASSES`); older indexes: from the labels."""
        return motion_class(self.collection, self.labels)


class PoseCorpus:
    """A built corpus (see :func:`build_corpus`)."""

    def __init__(self, root):
        self.root = Path(root)
        index_file = self.root / 'index.json'
        if not index_file.is_file():
            raise FileNotFoundError(
                f'no pose corpus at {self.root} (index.json missing): build it with '
                '`python -m hmr_models.data.mocap.build_corpus`')
        self.index = json.loads(index_file.read_text())
        self.rest_joints = np.asarray(self.index['rest_joints'], np.float64)
        self.fps = float(self.index['fps'])
        self._clips = [CorpusClip(**c) for c in self.index['clips']]
        self._by_id = {c.clip_id: c for c in self._clips}

    def __len__(self):
        return len(self._clips)

    def clips(self, split=None, free_only=False, collections=None):
        """Clips filtered by split ('train'/'val'/'test'), licence and collection names."""
        if split is not None and split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        return [c for c in self._clips
                if (split is None or c.split == split) and (c.free or not free_only)
                and (collections is None or c.collection in collections)]

    def load(self, clip):
        """The SMPLMotion of a clip (CorpusClip or id)."""
        clip = self._by_id[clip] if isinstance(clip, str) else clip
        motion = SMPLMotion.load(self.root / clip.file)
        motion.meta['class'] = clip.motion_class
        return motion

    def motions(self, split=None, free_only=False, collections=None):
        """Iterate over (CorpusClip, SMPLMotion)."""
        for c in self.clips(split, free_only, collections):
            yield c, self.load(c)

    def pose_array(self, split='train', free_only=False, stride=1, collections=None):
        """All poses of a split stacked: (N, 72) float32 (e.g. for the VQ-VAE pose prior)."""
        poses = [m.pose[::stride] for _, m in self.motions(split, free_only, collections)]
        return np.concatenate(poses) if poses else np.zeros((0, 72), np.float32)

    def windows(self, length, stride, split='train', free_only=False, collections=None):
        """(clip id, start frame) of every `length`-frame window, `stride` frames apart."""
        out = []
        for c in self.clips(split, free_only, collections):
            out += [(c.clip_id, s) for s in range(0, c.frames - length + 1, stride)]
        return out

    def calibration(self, rig_name):
        """The rest alignment fitted for a rig at build time: {SMPL joint: (3, 3)}."""
        with np.load(self.root / self.index['calibration'][rig_name]) as z:
            return {k: z[k] for k in z.files}

    def summary(self):
        """Counts per split and collection (clips, frames)."""
        table = {}
        for c in self._clips:
            row = table.setdefault(c.collection, {s: [0, 0] for s in SPLITS})
            row[c.split][0] += 1
            row[c.split][1] += c.frames
        return table


def _body_key(rest_joints, body_name):
    digest = hashlib.sha1(np.round(rest_joints, 5).tobytes()).hexdigest()[:8]
    return f'{body_name}_{digest}'


def _clip_stats(source, smpl, rig, rest):
    """Bone-direction error figures (degrees) of one retargeted clip (before resampling)."""
    joints, _ = smpl_forward_kinematics(smpl.pose, smpl.trans, rest)
    errs = bone_direction_errors(joints, source, rig, rest)
    mapped = [v for k, v in errs.items() if k not in _TRUNK_GEOMETRY]
    allv = np.concatenate(mapped) if mapped else np.zeros(1)
    return {
        'bone_err_mean_deg': float(np.degrees(allv.mean())),
        'bone_err_p95_deg': float(np.degrees(np.percentile(allv, 95))),
        'bones': {k: float(np.degrees(v.mean())) for k, v in errs.items()},
        'scale': float(smpl.meta['scale']), 'source_fps': float(smpl.meta['source_fps']),
    }


def _process(job):
    """Worker: parse, retarget, resample and save one clip; returns an index entry."""
    clip, calib, rest, fps, root, min_seconds = job
    source, rig = clip.load(deepmimic_min_seconds=min_seconds)
    smpl = retarget(source, rig, calib[rig.name], rest)
    stats = _clip_stats(source, smpl, rig, rest)
    out = resample(smpl, fps)
    out.meta = {k: v for k, v in out.meta.items() if k not in ('times',)}
    rel = Path('clips') / f'{clip.clip_id}.npz'
    (Path(root) / rel).parent.mkdir(parents=True, exist_ok=True)
    out.save(Path(root) / rel)
    c = COLLECTIONS[clip.collection]
    labels = dict(clip.labels, source_file=Path(clip.path).name)
    labels['class'] = motion_class(clip.collection, labels)
    return dict(clip_id=clip.clip_id, collection=c.name, licence=c.licence, free=c.free,
                split='', frames=len(out), fps=float(fps), file=str(rel),
                labels=labels, stats=stats)


def _generate_postures(root, rest, fps, seed, donors, clips_per_posture):
    """Index entries of the generated posture clips (sitting, kneeling, crouching, lying)."""
    from .postures import posture_clips
    c = COLLECTIONS['postures']
    entries = []
    for m in posture_clips(rest, clips_per_posture=clips_per_posture, seed=seed, fps=fps,
                           donors=donors):
        rel = Path('clips') / f'{m.name}.npz'
        (Path(root) / rel).parent.mkdir(parents=True, exist_ok=True)
        m.meta = dict(m.meta, collection=c.name, licence=c.licence, free=c.free)
        m.save(Path(root) / rel)
        labels = {k: v for k, v in m.meta.items()
                  if k in ('posture', 'class', 'variant', 'donor')}
        entries.append(dict(
            clip_id=m.name, collection=c.name, licence=c.licence, free=c.free, split='',
            frames=len(m), fps=float(fps), file=str(rel), labels=labels,
            stats={'bone_err_mean_deg': 0.0, 'bone_err_p95_deg': 0.0, 'bones': {},
                   'scale': 1.0, 'source_fps': float(fps), 'generated': True}))
    return entries


def _calibrations(clips, rest, max_clips, seed, min_seconds):
    """Pooled rest alignment per rig, fitted on up to `max_clips` clips of it."""
    by_rig = {}
    order = sorted(clips, key=lambda c: hashlib.sha1(f'{seed}:{c.clip_id}'.encode()).digest())
    for clip in order:
        try:
            source, rig = clip.load(deepmimic_min_seconds=min_seconds)
        except ValueError as e:
            log.warning('skipping %s for calibration: %s', clip.clip_id, e)
            continue
        group = by_rig.setdefault(rig.name, [])
        if len(group) < max_clips:
            group.append(source)
    return {name: calibrate(motions, RIGS[name], rest) for name, motions in by_rig.items()}


DEFAULT_COLLECTIONS = ('cmu', 'cmu_more', 'deepmimic', 'bandai', 'postures')


def build_corpus(cache_dir=None, mocap_dir=None, collections=DEFAULT_COLLECTIONS,
                 body=None, fps=30.0, seed=0, val_fraction=0.1, test_fraction=0.1,
                 limit=None, calibration_clips=40, deepmimic_min_seconds=4.0, workers=1,
                 force=False, progress=True, postures_per_kind=40):
    """Retarget every clip of the collections once and cache the result.

    Args:
        cache_dir: cache root (default :func:`default_cache_dir`).
        mocap_dir: mocap folder (default :func:`.sources.default_mocap_dir`).
        collections: subset of :data:`DEFAULT_COLLECTIONS` ('postures' are generated, with
            upper-body motion from the free collections' training clips).
        body: target body: a BodyModel, a (24, 3) rest-joint array, or None for SMPL-like
            default proportions.
        fps: output frame rate.
        seed, val_fraction, test_fraction: the split by clip.
        limit: at most this many clips per collection (quick builds).
        calibration_clips: clips per rig used to fit the rest alignment.
        deepmimic_min_seconds: looping DeepMimic clips are tiled to at least this long.
        workers: processes (1 = in this process).
        force: rebuild even if a matching corpus is cached.
        postures_per_kind: generated clips per posture kind (see :mod:`.postures`).
    Returns:
        PoseCorpus.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    if body is None:
        rest, body_name = target_rest_joints(None), 'default_rest'
    elif isinstance(body, np.ndarray):
        rest, body_name = np.asarray(body, np.float64), 'custom_rest'
    else:
        rest, body_name = target_rest_joints(body), body.name
    root = cache_dir / 'mocap_corpus' / _body_key(rest, body_name)
    params = dict(fps=float(fps), seed=int(seed), val_fraction=val_fraction,
                  test_fraction=test_fraction, limit=limit, collections=sorted(collections),
                  calibration_clips=calibration_clips,
                  deepmimic_min_seconds=deepmimic_min_seconds, version=INDEX_VERSION)
    if 'postures' in collections:
        params['postures_per_kind'] = int(postures_per_kind)
    index_file = root / 'index.json'
    if index_file.is_file() and not force:
        cached = json.loads(index_file.read_text())
        if cached.get('params') == params:
            log.info('pose corpus already built at %s', root)
            return PoseCorpus(root)
        log.info('pose corpus at %s was built with other parameters: rebuilding', root)

    t0 = time.time()
    clips = list_clips(collections, mocap_dir, cache_dir)
    if limit:
        kept, count = [], {}
        for c in clips:
            count[c.collection] = count.get(c.collection, 0) + 1
            if count[c.collection] <= limit:
                kept.append(c)
        clips = kept
    if not clips and set(collections) != {'postures'}:
        raise FileNotFoundError(f'no mocap clips found for {collections} in '
                                f'{mocap_dir}')
    root.mkdir(parents=True, exist_ok=True)
    calib = _calibrations(clips, rest, calibration_clips, seed, deepmimic_min_seconds) \
        if clips else {}
    for name, table in calib.items():
        np.savez(root / f'calibration_{name}.npz', **table)

    jobs = [(c, calib, rest, fps, str(root), deepmimic_min_seconds) for c in clips]
    entries, failed = [], []
    bar = tqdm(total=len(jobs), desc='retargeting mocap', unit='clip', disable=not progress)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(_process, j) for j in jobs]
            for clip, fut in zip(clips, futures):
                _collect(clip, fut.result, entries, failed)
                bar.update()
    else:
        for clip, job in zip(clips, jobs):
            _collect(clip, lambda: _process(job), entries, failed)
            bar.update()
    bar.close()
    if failed:
        log.warning('%d of %d clips failed and were left out: %s', len(failed), len(clips),
                    '; '.join(f"{f['clip_id']}: {f['error']}" for f in failed[:5]))

    def split_collection(coll):
        ids = [e['clip_id'] for e in entries if e['collection'] == coll]
        splits = assign_splits(ids, seed, val_fraction, test_fraction)
        for e in entries:
            if e['clip_id'] in splits:
                e['split'] = splits[e['clip_id']]

    for coll in collections:
        split_collection(coll)
    if 'postures' in collections:
        # Upper bodies from free training clips only: the postures stay free and no test
        # motion leaks into them.
        donors = [SMPLMotion.load(root / e['file']) for e in entries
                  if e['free'] and e['split'] == 'train']
        entries += _generate_postures(root, rest, fps, seed, donors, postures_per_kind)
        split_collection('postures')
    index = dict(
        version=INDEX_VERSION, params=params, fps=float(fps), body=body_name,
        rest_joints=np.round(rest, 6).tolist(),
        collections={k: dict(licence=COLLECTIONS[k].licence, free=COLLECTIONS[k].free,
                             attribution=COLLECTIONS[k].attribution) for k in collections},
        calibration={k: f'calibration_{k}.npz' for k in calib},
        clips=entries, failed=failed, summary=_summary(entries),
        build_seconds=round(time.time() - t0, 1))
    index_file.write_text(json.dumps(index, indent=1))
    log.info('pose corpus: %d clips, %d frames in %.0f s at %s', len(entries),
             sum(e['frames'] for e in entries), time.time() - t0, root)
    return PoseCorpus(root)


def _collect(clip, run, entries, failed):
    try:
        entries.append(run())
    except (ValueError, OSError) as e:  # MocapFormatError is a ValueError
        failed.append(dict(clip_id=clip.clip_id, error=str(e)))


def _summary(entries):
    """Per collection: clips, frames, hours and mean bone-direction error per bone."""
    out = {}
    for coll in sorted({e['collection'] for e in entries}):
        es = [e for e in entries if e['collection'] == coll]
        bones = {}
        for e in es:
            for k, v in e['stats']['bones'].items():
                bones.setdefault(k, []).append(v)
        frames = sum(e['frames'] for e in es)
        out[coll] = dict(
            clips=len(es), frames=frames, hours=round(frames / es[0]['fps'] / 3600.0, 3),
            bone_err_mean_deg=float(np.mean([e['stats']['bone_err_mean_deg'] for e in es])),
            bone_err_p95_deg=float(np.mean([e['stats']['bone_err_p95_deg'] for e in es])),
            per_bone_deg={k: round(float(np.mean(v)), 2) for k, v in sorted(bones.items())})
    return out
