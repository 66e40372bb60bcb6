"""Pose corpus: build, cache, splits by clip, provenance, failures counted."""
import shutil
import tarfile

import numpy as np
import pytest

from hmr_models.data.mocap.build_corpus import main as build_main
from hmr_models.data.mocap.bvh import read_bvh, write_bvh
from hmr_models.data.mocap.corpus import PoseCorpus, assign_splits, build_corpus
from hmr_models.data.mocap.motion import smpl_forward_kinematics

DEEPMIMIC_CLIPS = ('humanoid3d_walk', 'humanoid3d_run', 'turn_left0', 'humanoid3d_jump',
                   'humanoid3d_kick')


def test_assign_splits_disjoint_deterministic_and_order_free():
    ids = [f'clip{i:03d}' for i in range(200)]
    a = assign_splits(ids, seed=0)
    b = assign_splits(list(reversed(ids)), seed=0)
    assert a == b
    counts = {s: sum(v == s for v in a.values()) for s in ('train', 'val', 'test')}
    assert counts == {'train': 160, 'val': 20, 'test': 20}
    assert assign_splits(ids, seed=1) != a
    # Small collections still get one val and one test clip.
    small = assign_splits(ids[:3], seed=0)
    assert sorted(small.values()) == ['test', 'train', 'val']


@pytest.fixture(scope='module')
def mocap_dir(shared_mocap, tmp_path_factory):
    root = tmp_path_factory.mktemp('mocap')
    (root / 'deepmimic').mkdir()
    shutil.copy(shared_mocap / 'deepmimic' / 'humanoid.urdf', root / 'deepmimic')
    for name in DEEPMIMIC_CLIPS:
        shutil.copy(shared_mocap / 'deepmimic' / f'{name}.txt', root / 'deepmimic')
    (root / 'cmu').mkdir()
    cmu = read_bvh(shared_mocap / 'cmu' / '131_01.bvh')
    cmu.rotations, cmu.translations = cmu.rotations[:240], cmu.translations[:240]
    cmu.times = cmu.times[:240]
    write_bvh(root / 'cmu' / '131_01.bvh', cmu)
    (root / 'cmu' / '99_99.bvh').write_text('HIERARCHY\nROOT Hips\n{\n')  # broken file
    # cmu_more's layout: an archive of BVH files in cmu/'s layout, and index.csv beside it.
    more = root / 'cmu_more'
    (more / 'cmu_more_bvh').mkdir(parents=True)
    write_bvh(more / 'cmu_more_bvh' / '13_30.bvh', cmu)
    (more / 'index.csv').write_text(
        'file,subject,trial,description,frames,fps,seconds,category\n'
        '13_30.bvh,13,30,"squats, bend over",240,120,2.0,exercise_stretch\n')
    with tarfile.open(more / 'cmu_more_bvh.tar.xz', 'w:xz') as tar:
        tar.add(more / 'cmu_more_bvh', arcname='cmu_more_bvh')
    shutil.rmtree(more / 'cmu_more_bvh')
    return root


@pytest.fixture(scope='module')
def corpus(mocap_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp('cache')
    return build_corpus(cache_dir=cache, mocap_dir=mocap_dir, collections=('cmu', 'deepmimic'),
                        progress=False)


def test_corpus_index_provenance_and_failures(corpus):
    assert len(corpus) == 6
    assert [f['clip_id'] for f in corpus.index['failed']] == ['cmu/99_99']
    clip = corpus.clips(collections=('cmu',))[0]
    assert clip.clip_id == 'cmu/131_01' and clip.free and 'CMU' in clip.licence
    assert clip.frames == 60 and clip.fps == 30.0      # 240 frames at 120 Hz -> 30 Hz
    assert clip.labels['source_file'] == '131_01.bvh'
    assert clip.stats['bone_err_mean_deg'] < 1.0
    splits = {c.clip_id: c.split for c in corpus.clips()}
    assert set(splits.values()) <= {'train', 'val', 'test'}
    by_split = [set(c.clip_id for c in corpus.clips(s)) for s in ('train', 'val', 'test')]
    assert not (by_split[0] & by_split[1] or by_split[0] & by_split[2]
                or by_split[1] & by_split[2])
    assert sum(map(len, by_split)) == len(corpus)
    assert corpus.clips(free_only=True) == corpus.clips()   # no Bandai here
    summary = corpus.summary()
    assert sum(v[0] for v in summary['deepmimic'].values()) == 5


def test_corpus_motions_are_plausible(corpus):
    poses = corpus.pose_array(split=None, stride=5)
    assert poses.shape[1] == 72 and np.isfinite(poses).all()
    for clip, motion in corpus.motions():
        joints, _ = smpl_forward_kinematics(motion.pose, motion.trans, corpus.rest_joints)
        # Feet on (not under) the floor, head above the pelvis most of the time.
        assert joints[..., 1].min() > -0.1, clip.clip_id
        assert len(motion) == clip.frames
    windows = corpus.windows(16, 8, split=None)
    assert windows and all(s + 16 <= corpus.load(c).pose.shape[0] for c, s in windows[:5])
    assert set(corpus.calibration('deepmimic')) >= {'pelvis', 'left_knee'}


def test_cmu_more_unpacks_once_with_its_labels_and_classes(mocap_dir, tmp_path):
    corpus = build_corpus(cache_dir=tmp_path, mocap_dir=mocap_dir,
                          collections=('cmu_more', 'deepmimic'), progress=False)
    clip = corpus.clips(collections=('cmu_more',))[0]
    assert clip.clip_id == 'cmu_more/13_30' and clip.free and clip.frames == 60
    assert clip.labels['category'] == 'exercise_stretch'
    assert clip.motion_class == 'jumping_sports'
    classes = {c.clip_id: c.motion_class for c in corpus.clips()}
    assert classes['deepmimic/humanoid3d_walk'] == 'standing_walking'
    assert classes['deepmimic/humanoid3d_jump'] == 'jumping_sports'
    assert corpus.load(clip).meta['class'] == 'jumping_sports'
    assert (tmp_path / 'cmu_more' / '.unpacked').is_file()
    with pytest.raises(FileNotFoundError, match='cmu_more'):
        build_corpus(cache_dir=tmp_path / 'other', mocap_dir=mocap_dir / 'deepmimic',
                     collections=('cmu_more',), progress=False)


def test_corpus_is_cached_and_rebuilt_on_new_parameters(corpus, mocap_dir):
    index = corpus.root / 'index.json'
    stamp = index.stat().st_mtime_ns
    cache = corpus.root.parents[1]
    again = build_corpus(cache_dir=cache, mocap_dir=mocap_dir,
                         collections=('cmu', 'deepmimic'), progress=False)
    assert index.stat().st_mtime_ns == stamp
    assert [c.split for c in again.clips()] == [c.split for c in corpus.clips()]
    other = build_corpus(cache_dir=cache, mocap_dir=mocap_dir, collections=('deepmimic',),
                         seed=5, progress=False)
    assert len(other) == 5 and other.index['params']['seed'] == 5


def test_cli_reports_and_errors(mocap_dir, tmp_path, capsys):
    assert build_main(['--datasets', 'nope']) == 2
    assert build_main(['--datasets', 'deepmimic', '--mocap-dir', str(tmp_path / 'missing'),
                       '--cache-dir', str(tmp_path), '--body', 'none']) == 1
    assert 'mocap-dir' in capsys.readouterr().err
    code = build_main(['--datasets', 'deepmimic', '--mocap-dir', str(mocap_dir),
                       '--cache-dir', str(tmp_path), '--body', 'none', '--workers', '1',
                       '--limit', '2'])
    assert code == 0
    out = capsys.readouterr().out
    assert 'deepmimic' in out and 'bone-direction error' in out
    with pytest.raises(FileNotFoundError, match='build_corpus'):
        PoseCorpus(tmp_path / 'nothing')
