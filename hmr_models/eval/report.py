"""One self-contained HTML report of a replay evaluation (plots inline as PNG, works offline).

`write_report(path, result, sequences, images, other=None)`: a summary table, detection and
tracking, timing, error over time per track, error by joint and by occlusion level, a latency
histogram, a track timeline with ID switches marked, thumbnails of the worst frames (ground
truth green, estimate red), per-sequence figures and, with `other` (an earlier evaluation
folder's metrics.json and people.csv), an A/B table with bootstrap intervals.
"""
import base64
import datetime
import html
import io
import math

import numpy as np

from hmr_models.eval.metrics import cluster_bootstrap_difference

STREAM_LABELS = {'persons': '~/persons (per frame)',
                 'persons_smoothed': '~/persons_smoothed (DiffMesh)',
                 'persons_delayed': '~/persons_delayed'}
MESH_KEYS = ('MPJPE', 'PA-MPJPE', 'MPVE', 'OCC-MPJPE', 'ACC-ERR')
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20,
                21)
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;
max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.small{color:#666;font-size:12px}.thumbs img{margin:4px;border:1px solid #ccc}
figure{display:inline-block;margin:6px}figcaption{font-size:12px;color:#555}
.better{color:#080}.worse{color:#b00}
"""


def _fmt(v, digits=1):
    if v is None:
        return '-'
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f'{int(v):,}'
    if isinstance(v, (float, np.floating)):
        return '-' if not math.isfinite(v) else f'{v:.{digits}f}'
    return html.escape(str(v))


def _table(header, rows, digits=1):
    out = ['<table><tr>' + ''.join(f'<th>{html.escape(str(h))}</th>' for h in header) + '</tr>']
    for row in rows:
        out.append('<tr>' + ''.join(f'<td>{c if isinstance(c, _Raw) else _fmt(c, digits)}</td>'
                                    for c in row) + '</tr>')
    return '\n'.join(out) + '</table>'


class _Raw(str):
    """Table cell HTML that is not escaped."""


def _png(fig):
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=90, bbox_inches='tight')
    plt.close(fig)
    return '<img alt="plot" src="data:image/png;base64,' + \
        base64.b64encode(buf.getvalue()).decode() + '">'


def _figure():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


# ---- figures ------------------------------------------------------------------------------

def _error_over_time(result, max_sequences=6):
    plt = _figure()
    rows = result.people
    if not rows:
        return ''
    seqs = sorted({r['sequence'] for r in rows})
    # The sequences with the largest mean error first: those are the ones worth a look.
    err = {s: np.mean([r['MPJPE'] for r in rows if r['sequence'] == s]) for s in seqs}
    seqs = sorted(seqs, key=lambda s: -err[s])[:max_sequences]
    cols = min(3, len(seqs))
    nrows = int(math.ceil(len(seqs) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3 * nrows), squeeze=False)
    for ax, s in zip(axes.ravel(), seqs):
        for stream, style in (('persons', ':'), ('persons_smoothed', '-')):
            rs = [r for r in rows if r['sequence'] == s and r['stream'] == stream]
            for k, gid in enumerate(sorted({r['gt_id'] for r in rs})):
                tr = sorted((r['frame'], r['MPJPE']) for r in rs if r['gt_id'] == gid)
                ax.plot([f for f, _ in tr], [e for _, e in tr], style, color=f'C{k % 10}',
                        label=f'gt {gid}' if stream == 'persons' else None)
        ax.set_title(f'{s} (mean {err[s]:.0f} mm)', fontsize=9)
        ax.set_xlabel('frame')
        ax.set_ylabel('MPJPE mm')
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in axes.ravel()[len(seqs):]:
        ax.axis('off')
    fig.suptitle('error over time per ground-truth track (solid: smoothed, dotted: per frame)',
                 fontsize=10)
    return _png(fig)


def _per_joint(result):
    from hmr_models.skeleton import SMPL24_NAMES
    per_joint = result.plots.get('per_joint')
    if not per_joint:
        return ''
    plt = _figure()
    fig, ax = plt.subplots(figsize=(12, 3.2))
    x = np.arange(24)
    w = 0.8 / max(len(per_joint), 1)
    for k, (stream, err) in enumerate(per_joint.items()):
        ax.bar(x + k * w, err, w, label=STREAM_LABELS.get(stream, stream))
    ax.set_xticks(x + w * (len(per_joint) - 1) / 2)
    ax.set_xticklabels(SMPL24_NAMES, rotation=60, ha='right', fontsize=8)
    ax.set_ylabel('MPJPE mm')
    ax.set_title('error by joint (pelvis-aligned)')
    ax.legend(fontsize=8)
    return _png(fig)


def _by_occlusion(result):
    occ = result.plots.get('occlusion')
    if not occ:
        return ''
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    labels = next(iter(occ.values()))['labels']
    x = np.arange(len(labels))
    w = 0.8 / len(occ)
    for k, (stream, d) in enumerate(occ.items()):
        ax.bar(x + k * w, d['mpjpe'], w, label=STREAM_LABELS.get(stream, stream))
        for xi, (v, n) in enumerate(zip(d['mpjpe'], d['count'])):
            if n:
                ax.text(xi + k * w, 0, f'{n}', ha='center', va='bottom', fontsize=6)
    ax.set_xticks(x + w * (len(occ) - 1) / 2)
    ax.set_xticklabels(labels)
    ax.set_xlabel("share of the person's joints occluded (numbers: person-frames)")
    ax.set_ylabel('MPJPE mm')
    ax.set_title('error by occlusion level')
    ax.legend(fontsize=8)
    return _png(fig)


def _latency(result):
    lat = np.asarray(result.plots.get('latency_ms', []), np.float64)
    lat = lat[np.isfinite(lat)]
    if not len(lat):
        return ''
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(lat, bins=40, color='C0')
    for q, style in ((50, '-'), (95, '--'), (99, ':')):
        v = np.percentile(lat, q)
        ax.axvline(v, color='k', linestyle=style, label=f'p{q} {v:.0f} ms')
    ax.set_xlabel('latency ms (image arrival -> ~/persons arrival)')
    ax.set_ylabel('frames')
    ax.set_title('latency')
    ax.legend(fontsize=8)
    return _png(fig)


def _timeline(result, max_sequences=6):
    timeline = result.plots.get('timeline', {})
    if not timeline:
        return ''
    plt = _figure()
    switches = result.plots.get('switches', {})
    gt_of = result.plots.get('gt_of_track', {})
    seqs = sorted(timeline, key=lambda s: (-len(switches.get(s, [])), s))[:max_sequences]
    fig, axes = plt.subplots(len(seqs), 1, figsize=(11, 0.5 + 1.3 * len(seqs)), squeeze=False)
    for ax, s in zip(axes[:, 0], seqs):
        tracks = timeline[s]
        for row, (tid, frames) in enumerate(sorted(tracks.items())):
            gid = gt_of.get(s, {}).get(tid)
            color = 'lightgray' if gid is None else f'C{gid % 10}'
            ax.scatter(frames, [row] * len(frames), s=6, color=color, marker='s')
            ax.text(-1, row, f'{tid}', ha='right', va='center', fontsize=6)
        ids = sorted(tracks)
        for f, g, old, new in switches.get(s, []):
            if new in tracks:
                ax.plot(f, ids.index(new), 'kx', markersize=8)
        ax.set_yticks([])
        ax.set_title(f'{s}: {len(tracks)} tracks, {len(switches.get(s, []))} ID switches (x); '
                     'colour = ground-truth person', fontsize=9)
        ax.set_xlabel('frame')
    return _png(fig)


def _thumb(image, gt, pred, camera, caption):
    import cv2
    im = np.ascontiguousarray(image.copy())
    for frame, color in ((gt, (0, 200, 0)), (pred, (230, 40, 40))):
        if frame is None or camera is None:
            continue
        for k in range(len(frame)):
            if not frame.has_mesh[k]:
                continue
            px = camera.project(frame.joints[k])
            for j, parent in enumerate(SMPL_PARENTS):
                if parent < 0 or not np.isfinite(px[[j, parent]]).all():
                    continue
                cv2.line(im, tuple(int(v) for v in px[j]), tuple(int(v) for v in px[parent]),
                         color, 2, cv2.LINE_AA)
            if color[0] > 100 and np.isfinite(px[15]).all():
                cv2.putText(im, str(int(frame.track_ids[k])), tuple(int(v) for v in px[15]),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, 2)
    scale = 380 / im.shape[1]
    im = cv2.resize(im, (380, int(im.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(im[..., ::-1]))
    return (f'<figure><img src="data:image/png;base64,{base64.b64encode(buf).decode()}">'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


def worst_frames(result, n):
    """[(sequence, stamp, stream, value)] of the n worst frames (MPJPE, else 2D agreement)."""
    rows = result.people
    if rows:
        stream = 'persons_smoothed' if any(r['stream'] == 'persons_smoothed' for r in rows) \
            else 'persons'
        per = {}
        for r in rows:
            if r['stream'] == stream:
                per.setdefault((r['sequence'], r['stamp']), []).append(r['MPJPE'])
        ranked = sorted(((float(np.mean(v)), k) for k, v in per.items()), reverse=True)
        return [(k[0], k[1], stream, v) for v, k in ranked[:n]]
    frames = result.plots.get('agreement_frames', [])
    ranked = sorted(frames, key=lambda x: -x[2])[:n]
    return [(s, stamp, 'persons', v) for s, stamp, v in ranked]


def _thumbnails(result, sequences, images, n):
    by_name = {s.name: s for s in sequences}
    out = []
    for seq_name, stamp, stream, value in worst_frames(result, n):
        image = images.get((seq_name, stamp))
        seq = by_name.get(seq_name)
        if image is None or seq is None:
            continue
        gt = seq.ground_truth.get(stamp) if seq.ground_truth else None
        pred = seq.streams.get(stream, {}).get(stamp)
        order = np.sort(np.asarray(seq.image_stamps, np.int64))
        frame = int(np.searchsorted(order, stamp))
        what = 'MPJPE' if result.people else '2D disagreement'
        unit = 'mm' if result.people else '% of box height'
        out.append(_thumb(image, gt, pred, seq.camera,
                          f'{seq_name} frame {frame}: {stream} {what} {value:.0f} {unit}'))
    return '<div class="thumbs">' + ''.join(out) + '</div>' if out else ''


# ---- comparison ---------------------------------------------------------------------------

def compare_rows(result, other, resamples=2000):
    """[(stream, metric, A, B, B - A, low, high)] of this run (B) against `other` (A).

    Clusters for the bootstrap: sequences when both runs share two or more, else blocks of 30
    frames of the one sequence; the people each run matched need not be the same.
    """
    mine = result.people
    theirs = other['people']
    if not mine or not theirs:
        return []
    seqs = sorted({r['sequence'] for r in mine} & {r['sequence'] for r in theirs})

    def cluster(r):
        if len(seqs) >= 2:
            return r['sequence']
        return f"{r['sequence']}:{int(r['frame']) // 30}"
    rows = []
    for stream in ('persons', 'persons_smoothed', 'persons_delayed'):
        a_rows = [r for r in theirs if r['stream'] == stream]
        b_rows = [r for r in mine if r['stream'] == stream]
        if not a_rows or not b_rows:
            continue
        for metric in ('MPJPE', 'PA-MPJPE', 'MPVE', 'CAM-MPJPE'):
            keys = sorted({cluster(r) for r in a_rows} | {cluster(r) for r in b_rows})
            idx = {k: i for i, k in enumerate(keys)}
            sums = np.zeros((2, len(keys)))
            counts = np.zeros((2, len(keys)))
            for side, rs in ((0, a_rows), (1, b_rows)):
                for r in rs:
                    v = float(r[metric]) if r[metric] not in ('', None) else math.nan
                    if math.isfinite(v):
                        sums[side, idx[cluster(r)]] += v
                        counts[side, idx[cluster(r)]] += 1
            if not counts.sum(1).all():
                continue
            d, lo, hi = cluster_bootstrap_difference(sums[0], counts[0], sums[1], counts[1],
                                                     resamples=resamples)
            a = sums[0].sum() / counts[0].sum()
            rows.append((stream, metric, a, a + d, d, lo, hi))
    return rows


def _compare_section(result, other):
    rows = compare_rows(result, other)
    out = [f'<h2>Comparison with {html.escape(other["name"])} (A) - this run is B</h2>']
    if rows:
        body = []
        for stream, metric, a, b, d, lo, hi in rows:
            cls = 'better' if hi < 0 else 'worse' if lo > 0 else ''
            body.append((STREAM_LABELS.get(stream, stream), metric, a, b,
                         _Raw(f'<span class="{cls}">{d:+.1f}</span>'),
                         _Raw(f'[{lo:+.1f}, {hi:+.1f}]' if math.isfinite(lo) else '-')))
        out.append(_table(['stream', 'metric (mm)', 'A', 'B', 'B - A', '95 % interval'], body))
        out.append('<p class="small">Paired cluster bootstrap (2,000 resamples) over sequences '
                   '(or 30-frame blocks of a single sequence); an interval that excludes 0 is '
                   'a difference these bags support.</p>')
    a_sum, b_sum = other['metrics'].get('summary', {}), result.summary
    flat = []
    for section in ('tracking', 'runtime', 'people'):
        for k, v in b_sum.get(section, {}).items():
            av = a_sum.get(section, {}).get(k)
            if isinstance(v, (int, float)) and isinstance(av, (int, float)):
                flat.append((section, k, av, v, v - av))
    if flat:
        out.append(_table(['section', 'figure', 'A', 'B', 'B - A'], flat, digits=3))
    return '\n'.join(out), rows


# ---- the page -----------------------------------------------------------------------------

def _summary_tables(result):
    s = result.summary
    streams = [k for k in STREAM_LABELS if k in s]
    parts = []
    mesh_rows = []
    for key, unit in (('person-frames', ''), ('MPJPE', 'mm'), ('PA-MPJPE', 'mm'),
                      ('MPVE', 'mm'), ('CAM-MPJPE', 'mm'), ('OCC-MPJPE', 'mm'),
                      ('ACC-ERR', 'mm/frame^2')):
        if any(key in s[st] for st in streams):
            mesh_rows.append([f'{key} {unit}'.strip()] + [s[st].get(key) for st in streams])
    for key, sub, unit in (('jitter', 'joints mm/frame^2', 'joint jitter mm/frame^2'),
                           ('jitter', 'pelvis mm/frame^2', 'pelvis jitter mm/frame^2'),
                           ('2D agreement %', 'mean', '2D agreement, % of box height')):
        mesh_rows.append([unit] + [s[st].get(key, {}).get(sub) for st in streams])
    parts.append(_table(['figure'] + [STREAM_LABELS[st] for st in streams], mesh_rows))
    if 'tracking' in s:
        t = s['tracking']
        parts.append('<h3>Detection and tracking</h3>' + _table(
            ['recall', 'precision', 'MOTA', 'IDF1', 'ID switches', 'fragmentations',
             'GT people', 'FN', 'FP'],
            [[t['recall'], t['precision'], t['MOTA'], t['IDF1'], t['ID switches'],
              t['fragmentations'], t['GT people'], t['FN'], t['FP']]], digits=3))
    rt = s.get('runtime', {})
    parts.append('<h3>Timing (as a subscriber saw it)</h3>' + _table(
        ['mode', 'frames', 'processed', 'dropped', 'never acknowledged', 'FPS in', 'FPS out',
         'latency p50 ms', 'p95 ms', 'p99 ms'],
        [[rt.get('mode'), rt.get('frames'), rt.get('processed'), rt.get('dropped'),
          rt.get('never acknowledged'), rt.get('FPS in'), rt.get('FPS out'),
          rt.get('latency p50 ms'), rt.get('latency p95 ms'), rt.get('latency p99 ms')]]))
    pp = s.get('people', {})
    parts.append('<h3>People and tracks</h3>' + _table(
        ['people per frame', 'tracks', 'mean track length (frames)', 'fragments per track',
         'tracks shorter than 5 frames'],
        [[pp.get('people per frame'), pp.get('tracks'), pp.get('mean track length'),
          pp.get('fragments per track'), pp.get('tracks shorter than 5 frames')]]))
    return '\n'.join(parts)


def _sequence_table(result):
    keys = ['frames', 'processed', 'people per frame', 'tracks']
    if result.has_ground_truth:
        keys += ['persons: MPJPE', 'persons_smoothed: MPJPE', 'persons_smoothed: ACC-ERR',
                 'MOTA', 'IDF1', 'ID switches']
    rows = [[s['name']] + [s.get(k) for k in keys] for s in result.sequences]
    return _table(['sequence'] + keys, rows)


def write_report(path, result, sequences, images, other=None, title='hmr_node evaluation',
                 thumbnails=6):
    """Write the HTML report; returns {'compare': rows} (empty without `other`)."""
    runs = [s.run for s in sequences]
    info = {
        'written': datetime.datetime.now().isoformat(timespec='seconds'),
        'sequences': len(sequences),
        'mode': ', '.join(sorted({r.get('mode', '?') for r in runs})),
        'model profile': ', '.join(sorted({r.get('model_profile', '') or '?' for r in runs})),
        'parameters file': ', '.join(sorted({r.get('params_file', '') or '?' for r in runs})),
        'commit': ', '.join(sorted({(r.get('commit') or '?')[:12] for r in runs})),
        'ground truth': 'yes' if result.has_ground_truth else 'none (label-free figures only)',
    }
    body = [f'<h1>{html.escape(title)}</h1>',
            _table(['run', ''], [[k, v] for k, v in info.items()]),
            '<h2>Summary</h2>', _summary_tables(result)]
    extra = {}
    if other is not None:
        section, extra['compare'] = _compare_section(result, other)
        body.append(section)
    if result.has_ground_truth:
        body += ['<h2>Error over time per track</h2>', _error_over_time(result),
                 '<h2>Error by joint and by occlusion level</h2>', _per_joint(result),
                 _by_occlusion(result)]
    body += ['<h2>Latency</h2>', _latency(result) or '<p>no latency measured</p>',
             '<h2>Track timeline</h2>', _timeline(result)]
    thumbs = _thumbnails(result, sequences, images, thumbnails)
    if thumbs:
        body += ['<h2>Worst frames</h2><p class="small">ground truth green, estimate red '
                 '(SMPL joints projected with the camera_info)</p>', thumbs]
    body += ['<h2>Per sequence</h2>', _sequence_table(result),
             '<h2>Conventions</h2><pre class="small">'
             + html.escape(result.conventions.get('doc', '')) + '</pre>']
    page = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>' + html.escape(title)
            + f'</title><style>{CSS}</style></head><body>' + '\n'.join(body)
            + '</body></html>')
    path.write_text(page)
    return extra
