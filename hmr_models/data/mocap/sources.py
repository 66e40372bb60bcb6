"""The mocap collections we read, their files, licences and how to parse each clip.

Layout expected under the mocap folder (``../shared/data/mocap`` in the development checkout,
else ``--mocap-dir`` / ``$HMR_MOCAP_DIR``)::

    cmu/*.bvh                    CMU Graphics Lab (free for research and commercial use)
    deepmimic/*.txt + humanoid.urdf   DeepMimic reference motions (zlib, from pybullet)
    bandai_bvh.tar.xz            Bandai Namco Research Motiondataset 1 + 2 (CC BY-NC 4.0)

The Bandai archive is unpacked once into the cache (``<cache>/bandai``), never into the repo.
"""
from dataclasses import dataclass, field
import logging
import math
import os
from pathlib import Path
import tarfile

from .bvh import read_bvh
from .deepmimic import read_deepmimic
from .rigs import find_rig

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Collection:
    """A mocap collection and the terms its data (and weights trained on it) come with."""

    name: str
    licence: str
    free: bool  # usable commercially (weights trained on it may ship without NC terms)
    attribution: str
    rigs: tuple


COLLECTIONS = {
    'cmu': Collection(
        'cmu', 'CMU Graphics Lab Motion Capture Database: free for research and commercial '
        'use', True, 'The data used in this project was obtained from mocap.cs.cmu.edu '
        '(NSF EIA-0196217).', ('cmu', 'cmu_asf')),
    'deepmimic': Collection(
        'deepmimic', 'zlib (DeepMimic reference motions as shipped in pybullet 3.2.7)', True,
        'DeepMimic (Peng et al. 2018) reference motions, from CMU and SFU mocap.',
        ('deepmimic',)),
    'bandai': Collection(
        'bandai', 'CC BY-NC 4.0 (non-commercial)', False,
        'Bandai Namco Research Motiondataset 1 and 2, (c) Bandai Namco Research Inc., '
        'CC BY-NC 4.0.', ('bandai',)),
}


@dataclass(frozen=True)
class ClipSource:
    """One clip to parse: collection, unique id, file and labels."""

    collection: str
    clip_id: str
    path: str
    labels: dict = field(default_factory=dict)
    aux_path: str = ''  # DeepMimic: the URDF

    def load(self, deepmimic_min_seconds=4.0):
        """Parse the file: (SourceMotion, Rig)."""
        c = COLLECTIONS[self.collection]
        meta = dict(self.labels, collection=c.name, licence=c.licence, free=c.free)
        if self.collection == 'deepmimic':
            motion = read_deepmimic(self.path, self.aux_path, name=self.clip_id, meta=meta)
            if motion.meta.get('loop') == 'wrap' and motion.times[-1] > 0:
                cycles = max(1, math.ceil(deepmimic_min_seconds / motion.times[-1]))
                if cycles > 1:
                    motion = read_deepmimic(self.path, self.aux_path, name=self.clip_id,
                                            meta=meta, cycles=cycles)
        else:
            # CMU BVH units: 1/0.45 inch per unit (cgspeed); Bandai: centimetres.
            units = 0.0254 / 0.45 if self.collection == 'cmu' else 0.01
            motion = read_bvh(self.path, units_to_m=units, name=self.clip_id, meta=meta)
        return motion, find_rig(motion, c.rigs)


def default_mocap_dir():
    """$HMR_MOCAP_DIR, else the shared data folder beside the development checkout."""
    env = os.environ.get('HMR_MOCAP_DIR')
    return Path(env) if env else REPO_ROOT.parent / 'shared' / 'data' / 'mocap'


def _require_dir(path, what):
    if not Path(path).is_dir():
        raise FileNotFoundError(
            f'{what} not found: {path}. Pass --mocap-dir (or set $HMR_MOCAP_DIR) to the folder '
            'holding cmu/, deepmimic/ and bandai_bvh.tar.xz.')
    return Path(path)


def unpack_bandai(archive, cache_dir):
    """Unpack the Bandai tar.xz into ``<cache_dir>/bandai`` once; returns that folder."""
    out = Path(cache_dir) / 'bandai'
    marker = out / '.unpacked'
    if marker.is_file():
        return out
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(f'Bandai archive not found: {archive} (expected in the mocap '
                                'folder; pass --mocap-dir or leave bandai out with --datasets)')
    log.info('unpacking %s into %s (once, ~550 MB)', archive, out)
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, 'r:xz') as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and m.name.endswith(('.bvh', '.txt', '.md', 'LICENSE'))]
        try:
            tar.extractall(out, members=members, filter='data')
        except TypeError:  # Python < 3.10.12 / 3.11.4: no extraction filters (files checked)
            if any(m.name.startswith('/') or '..' in Path(m.name).parts for m in members):
                raise ValueError(f'{archive}: unsafe paths in the archive') from None
            tar.extractall(out, members=members)
    marker.write_text('ok\n')
    return out


def _bandai_labels(stem):
    """'dataset-2_walk-left_happy_003' -> {'set': 2, 'content': 'walk-left', 'style': ...}."""
    parts = stem.split('_')
    labels = {'set': parts[0]}
    if len(parts) >= 4:
        labels.update(content=parts[1], style=parts[2], take=parts[3])
    return labels


def list_clips(collections, mocap_dir=None, cache_dir=None):
    """Every clip of the named collections, sorted by id.

    Args:
        collections: names from :data:`COLLECTIONS`.
        mocap_dir: the mocap folder (default :func:`default_mocap_dir`).
        cache_dir: where the Bandai archive is unpacked (required for 'bandai').
    """
    mocap_dir = _require_dir(mocap_dir or default_mocap_dir(), 'mocap folder')
    clips = []
    for name in collections:
        if name not in COLLECTIONS:
            raise ValueError(f'unknown mocap collection {name!r} (known: '
                             f'{", ".join(COLLECTIONS)})')
        if name == 'cmu':
            for p in sorted(_require_dir(mocap_dir / 'cmu', 'CMU folder').glob('*.bvh')):
                subject = p.stem.split('_')[0]
                clips.append(ClipSource('cmu', f'cmu/{p.stem}', str(p), {'subject': subject}))
        elif name == 'deepmimic':
            folder = _require_dir(mocap_dir / 'deepmimic', 'DeepMimic folder')
            urdf = folder / 'humanoid.urdf'
            for p in sorted(folder.glob('*.txt')):
                clips.append(ClipSource('deepmimic', f'deepmimic/{p.stem}', str(p),
                                        {'content': p.stem.replace('humanoid3d_', '')},
                                        aux_path=str(urdf)))
        elif name == 'bandai':
            if cache_dir is None:
                raise ValueError('cache_dir is needed to unpack the Bandai archive')
            root = unpack_bandai(mocap_dir / 'bandai_bvh.tar.xz', cache_dir)
            for p in sorted(root.rglob('*.bvh')):
                clips.append(ClipSource('bandai', f'bandai/{p.stem}', str(p),
                                        _bandai_labels(p.stem)))
    return clips
