"""hmr-eval: run bags through the real hmr_node, record what it publishes, score it, report.

    hmr-eval BAG [BAG ...] --out DIR [--mode lockstep|realtime] [--ground-truth GT]
             [--params-file F] [--model-profile P] [--people-topic T] [--compare OTHER_DIR]
    hmr-eval score DIR [--ground-truth GT] [--compare OTHER_DIR] [--match oks|iou|ids]

A BAG may be a folder of bags (e.g. `hmr-synth --bags` output, `bags/scene_*`): each is one
sequence. Each bag runs through `eval.launch.py` (bag_play -> hmr_node -> eval_record) into
DIR/sequences/<name>/ (an MCAP result bag + run.json), then all of them are scored together
into DIR/report.html, DIR/metrics.json and CSV tables (people.csv: every matched person-frame;
frames.csv; tracks.csv). Ground truth: the input bag's /ground_truth/persons by default, another
topic of it (`--ground-truth /topic`), or a side bag (`--ground-truth PATH`); without any, the
label-free figures are still reported.

Bags are read here (rosbags, the project's message definitions) and handed to
hmr_models.eval as numpy: the scoring and the report stay ROS-free and reusable.
"""
import argparse
import csv
import json
from pathlib import Path
import shutil
import subprocess
import sys
import time

import numpy as np

from hmr_ros.bags import BagError, iter_messages, open_reader, typestore

GT_TOPIC = '/ground_truth/persons'
PERSON_ARRAY = 'hmr_ros/msg/SMPLPersonArray'
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


# ---- reading bags -------------------------------------------------------------------------

def _stamp_ns(header):
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def frame_from_msg(msg, received=float('nan')):
    """hmr_models.eval PeopleFrame of a deserialized SMPLPersonArray (rosbags or rclpy)."""
    from hmr_models.eval.sequence import PeopleFrame
    ps = list(msg.persons)
    n = len(ps)

    def stack(name, shape, dtype=np.float32):
        return np.array([np.asarray(getattr(p, name), dtype) for p in ps],
                        dtype).reshape(n, *shape)
    keypoints = stack('keypoints_2d', (17, 2))
    return PeopleFrame(
        stamp=_stamp_ns(msg.header), track_ids=np.array([p.track_id for p in ps], np.int64),
        boxes=stack('bbox', (4,)), scores=np.array([p.score for p in ps], np.float32),
        keypoints=keypoints, keypoint_scores=stack('keypoint_scores', (17,)),
        has_mesh=np.array([p.has_mesh for p in ps], bool), pose=stack('pose', (72,)),
        betas=stack('betas', (10,)),
        translation=np.array([[p.translation.x, p.translation.y, p.translation.z]
                              for p in ps], np.float32).reshape(n, 3),
        joints=stack('joints_3d', (24, 3)), joint_confidence=stack('joint_confidence', (24,)),
        temporal=np.array([p.temporal for p in ps], bool),
        body_model=ps[0].body_model if n else '', received=float(received))


def is_bag(path):
    path = Path(path)
    return path.is_file() and path.suffix in ('.mcap', '.db3') or \
        (path.is_dir() and (path / 'metadata.yaml').is_file())


def find_bags(paths):
    """Bags named, or found one level inside folders that are not bags themselves."""
    bags = []
    for p in paths:
        p = Path(p).expanduser()
        if is_bag(p):
            bags.append(p)
        elif p.is_dir():
            inner = sorted(q for q in p.iterdir() if is_bag(q))
            if not inner:
                raise BagError(f'{p} is neither a bag nor a folder of bags')
            bags += inner
        else:
            raise BagError(f'bag not found: {p}')
    return bags


def read_people_topic(bag, topic=None, store=None):
    """{stamp ns: PeopleFrame} of an SMPLPersonArray topic of a bag; None if it has none.

    Default topic: /ground_truth/persons, else the bag's only SMPLPersonArray topic.
    """
    store = store or typestore()
    reader = open_reader(bag)
    try:
        arrays = [c.topic for c in reader.connections if c.msgtype == PERSON_ARRAY]
        if topic is None:
            topic = GT_TOPIC if GT_TOPIC in arrays else (
                arrays[0] if len(arrays) == 1 else None)
        if topic is None or topic not in arrays:
            return None
        out = {}
        for conn, t, raw in iter_messages(reader, {topic}):
            frame = frame_from_msg(store.deserialize_cdr(bytes(raw), conn.msgtype), t * 1e-9)
            out[frame.stamp] = frame
        return out
    finally:
        reader.close()


def read_input(bag, image_topic, store=None):
    """(image stamps (F,) ns, CameraIntrinsics or None) of an input bag."""
    from hmr_models.eval.scoring import camera_from_matrix
    store = store or typestore()
    reader = open_reader(bag)
    try:
        conns = {c.topic: c for c in reader.connections}
        topic = image_topic if image_topic in conns else image_topic.rstrip('/') + '/compressed'
        if topic not in conns or conns[topic].msgtype not in IMAGE_TYPES:
            raise BagError(f'{bag}: no image topic {image_topic} (topics: {sorted(conns)})')
        info_topic = image_topic.rstrip('/').rpartition('/')[0] + '/camera_info'
        stamps, camera = [], None
        want = {topic} | ({info_topic} if info_topic in conns else set())
        from hmr_ros.image_conversion import header_from_cdr
        for conn, _, raw in iter_messages(reader, want):
            if conn.topic == topic:
                stamps.append(_stamp_ns(header_from_cdr(bytes(raw))))
            elif camera is None:
                info = store.deserialize_cdr(bytes(raw), conn.msgtype)
                if info.k[0] > 0:
                    camera = camera_from_matrix(info.k, info.width, info.height)
        return np.array(stamps, np.int64), camera
    finally:
        reader.close()


def read_images(bag, image_topic, stamps):
    """{stamp ns: RGB uint8} of the images of `bag` with the given stamps."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage, Image

    from hmr_ros.image_conversion import compressed_to_rgb, header_from_cdr, image_to_rgb
    wanted, out = set(int(s) for s in stamps), {}
    reader = open_reader(bag)
    try:
        conns = {c.topic: c for c in reader.connections}
        topic = image_topic if image_topic in conns else image_topic.rstrip('/') + '/compressed'
        for conn, _, raw in iter_messages(reader, {topic}):
            raw = bytes(raw)
            stamp = _stamp_ns(header_from_cdr(raw))
            if stamp in wanted:
                if conn.msgtype.endswith('CompressedImage'):
                    out[stamp] = compressed_to_rgb(deserialize_message(raw, CompressedImage))
                else:
                    out[stamp] = image_to_rgb(deserialize_message(raw, Image))
                if len(out) == len(wanted):
                    break
    finally:
        reader.close()
    return out


def read_result(result_dir, store=None):
    """What a result bag written by eval_record holds, as numpy.

    Returns (streams {name: {stamp: PeopleFrame}}, image_received {stamp: s}, acknowledged
    stamps, hmr_node's last diagnostics values).
    """
    from hmr_ros.eval_record import INPUT_HEADERS_TOPIC
    store = store or typestore()
    streams, received, acked, diag = {}, {}, set(), {}
    reader = open_reader(result_dir)
    try:
        for conn, t, raw in iter_messages(reader):
            msg = store.deserialize_cdr(bytes(raw), conn.msgtype)
            if conn.msgtype == PERSON_ARRAY:
                name = conn.topic.rstrip('/').rpartition('/')[2]
                frame = frame_from_msg(msg, t * 1e-9)
                streams.setdefault(name, {})[frame.stamp] = frame
            elif conn.topic == INPUT_HEADERS_TOPIC:
                received.setdefault(_stamp_ns(msg), t * 1e-9)
            elif conn.topic.endswith('/frame_done'):
                acked.add(_stamp_ns(msg))
            elif conn.msgtype == 'diagnostic_msgs/msg/DiagnosticArray':
                for status in msg.status:
                    if status.name.endswith('pipeline'):
                        diag = {kv.key: kv.value for kv in status.values}
    finally:
        reader.close()
    return streams, received, acked, diag


def load_sequence(result_dir, ground_truth='', store=None, read_input_bag=True):
    """hmr_models.eval Sequence of one recorded sequence (DIR/sequences/<name>)."""
    from hmr_models.eval.sequence import Sequence
    result_dir = Path(result_dir)
    run = json.loads((result_dir / 'run.json').read_text()) \
        if (result_dir / 'run.json').is_file() else {}
    store = store or typestore()
    streams, received, acked, diag = read_result(result_dir, store)
    seq = Sequence(name=result_dir.name, image_stamps=np.array(sorted(received), np.int64),
                   streams=streams, image_received=received, acknowledged=acked,
                   diagnostics=diag, run=run)
    return _with_input(seq, ground_truth, store) if read_input_bag else seq


def _with_input(seq, ground_truth, store):
    """The sequence with its input bag's image stamps and camera, and its ground truth."""
    input_bag = seq.run.get('input_bag', '')
    if input_bag and Path(input_bag).exists():
        seq.image_stamps, seq.camera = read_input(
            input_bag, seq.run.get('image_topic', '/camera/image_raw'), store)
        if not ground_truth:
            gt = read_people_topic(input_bag, None, store)
            seq.ground_truth = gt if gt is not None and _looks_like_ground_truth(gt) else None
        elif ground_truth.startswith('/'):
            seq.ground_truth = read_people_topic(input_bag, ground_truth, store)
    if ground_truth and not ground_truth.startswith('/'):
        side = Path(ground_truth).expanduser()
        if side.is_dir() and not is_bag(side):   # a folder of side bags, one per sequence
            side = side / seq.name
        seq.ground_truth = read_people_topic(side, None, store)
        if seq.ground_truth is None:
            raise BagError(f'{side}: no hmr_ros/SMPLPersonArray ground-truth topic')
    return seq


def _looks_like_ground_truth(frames):
    """A topic read by default is taken as ground truth only if it carries meshes."""
    return any(len(f) and f.has_mesh.any() for f in frames.values())


# ---- running ------------------------------------------------------------------------------

def ros2_command():
    """The `ros2` of this environment (a ROS 2 installation's, or hmr_ros's runner)."""
    beside = Path(sys.executable).with_name('ros2')
    if beside.exists():
        return [str(beside)]
    found = shutil.which('ros2')
    if found:
        return [found]
    return [sys.executable, '-c', 'import sys; from hmr_ros.ros2_shim import main; '
            'sys.exit(main())']


def run_bag(bag, out, args, name):
    """One bag through eval.launch.py (record only); returns the launch's exit code."""
    cmd = ros2_command() + [
        'launch', 'hmr_ros', 'eval.launch.py', f'bag:={bag}', f'out:={out}', f'name:={name}',
        f'mode:={args.mode}', f'rate:={args.rate}', f'image_topic:={args.image_topic}',
        f'image_transport:={args.image_transport}', f'model_profile:={args.model_profile}',
        f'people_topic:={args.people_topic}', f'delay_frames:={args.delay_frames}',
        'score:=false']
    if args.params_file:
        cmd.append(f'params_file:={Path(args.params_file).resolve()}')
    log = Path(out) / 'logs' / f'{name}.log'
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    return proc.returncode, log


COMBINED = 'combined'           # the one result bag of a bag set run in one node
HEADER_GAP_NS = 1000 * 10**9    # header stamps of consecutive bags this far apart
LOG_GAP_NS = 3 * 10**9          # playback pause between bags (realtime mode)


def build_combined(bags, names, path, image_topic, people_topic=''):
    """One input bag of several: each bag's inputs, header stamps shifted HEADER_GAP_NS apart.

    A gap longer than every timeout of the tracker and the temporal model makes each bag start
    afresh in one node run (one model load for a whole set). Returns the segments
    [{name, input_bag, offset_ns, first_ns, last_ns}] that split the result again.
    """
    from hmr_ros.bags import open_writer
    store = typestore()
    writer = open_writer(path)
    conns, segments = {}, []
    log_base = 0
    info_topic = image_topic.rstrip('/').rpartition('/')[0] + '/camera_info'
    wanted = {image_topic, image_topic.rstrip('/') + '/compressed', info_topic}
    if people_topic:
        wanted.add(people_topic)
    try:
        for k, (bag, name) in enumerate(zip(bags, names)):
            reader = open_reader(bag)
            try:
                stamps = []
                offset = None
                log_first = log_last = None
                for conn, t, raw in iter_messages(reader, wanted):
                    msg = store.deserialize_cdr(bytes(raw), conn.msgtype)
                    stamp = _stamp_ns(msg.header)
                    if offset is None:
                        offset = (k + 1) * HEADER_GAP_NS
                        log_first = t
                    log_last = t
                    new = stamp + offset
                    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(new, 10**9)
                    if conn.topic not in conns:
                        conns[conn.topic] = writer.add_connection(conn.topic, conn.msgtype,
                                                                  typestore=store)
                    if conn.msgtype in IMAGE_TYPES:
                        stamps.append(stamp)
                    # camera_info a nanosecond early: the node has the intrinsics first.
                    early = 0 if conn.msgtype in IMAGE_TYPES else 1
                    writer.write(conns[conn.topic], log_base + (t - log_first) + 1 - early,
                                 store.serialize_cdr(msg, conn.msgtype))
            finally:
                reader.close()
            if not stamps:
                raise BagError(f'{bag}: no image on {image_topic}')
            segments.append(dict(name=name, input_bag=str(Path(bag).resolve()),
                                 offset_ns=offset, first_ns=min(stamps), last_ns=max(stamps)))
            log_base += (log_last - log_first) + LOG_GAP_NS
    finally:
        writer.close()
    (Path(path) / 'segments.json').write_text(json.dumps(segments, indent=1))
    return segments


def split_sequence(seq, segments):
    """The Sequences of a combined run's segments, with their own bags' stamps."""
    from dataclasses import replace as dc_replace
    out = []
    for seg in segments:
        lo, hi, off = seg['offset_ns'] + seg['first_ns'], seg['offset_ns'] + seg['last_ns'], \
            seg['offset_ns']

        def keep(d):
            return {s - off: v for s, v in d.items() if lo <= s <= hi}

        def shifted(frames):
            kept = keep(frames)
            for s, f in kept.items():
                kept[s] = dc_replace(f, stamp=s)
            return kept
        run = dict(seq.run, input_bag=seg['input_bag'], combined_offset_ns=off)
        out.append(dc_replace(
            seq, name=seg['name'],
            image_stamps=np.array([s - off for s in seq.image_stamps if lo <= s <= hi],
                                  np.int64),
            streams={k: shifted(v) for k, v in seq.streams.items()},
            image_received=keep(seq.image_received),
            acknowledged={s - off for s in seq.acknowledged if lo <= s <= hi}, run=run))
    return out


def run(args):
    out = Path(args.out).expanduser().resolve()
    bags = find_bags(args.bags)
    names = [b.stem if b.is_file() else b.name for b in bags]
    if len(set(names)) != len(names):
        names = [f'{k:03d}_{n}' for k, n in enumerate(names)]
    if len(bags) > 1 and not args.separate:
        target = out / 'sequences' / COMBINED
        if target.exists() and not args.overwrite:
            print(f'{COMBINED}: already recorded (--overwrite to record again)', flush=True)
        else:
            for old in (target, out / 'input_combined'):
                if old.exists():
                    shutil.rmtree(old)
            out.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            build_combined(bags, names, out / 'input_combined', args.image_topic,
                           args.people_topic)
            print(f'{len(bags)} bags in one input ({out / "input_combined"}, '
                  f'{time.monotonic() - t0:.0f} s); running the node once', flush=True)
            code, log = run_bag(out / 'input_combined', out, args, COMBINED)
            if code != 0 or not (target / 'run.json').is_file():
                print(f'hmr-eval: the run failed (log {log})', file=sys.stderr)
                return 1
            shutil.copy(out / 'input_combined' / 'segments.json', target / 'segments.json')
            print(f'recorded {len(bags)} sequences in {time.monotonic() - t0:.0f} s '
                  f'(log {log})', flush=True)
        return score_folder(out, args.ground_truth, args.compare, args.match,
                            args.match_threshold, args.body_model)
    failed = []
    for k, (bag, name) in enumerate(zip(bags, names)):
        target = out / 'sequences' / name
        if target.exists():
            if not args.overwrite:
                print(f'[{k + 1}/{len(bags)}] {name}: already recorded (skipped; --overwrite '
                      'to record again)', flush=True)
                continue
            shutil.rmtree(target)
        t0 = time.monotonic()
        code, log = run_bag(bag, out, args, name)
        ok = code == 0 and (target / 'run.json').is_file()
        print(f'[{k + 1}/{len(bags)}] {name}: {"recorded" if ok else "FAILED"} in '
              f'{time.monotonic() - t0:.0f} s (log {log})', flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print(f'hmr-eval: {len(failed)} bag(s) failed: {failed}', file=sys.stderr)
        if len(failed) == len(bags):
            return 1
    return score_folder(out, args.ground_truth, args.compare, args.match,
                        args.match_threshold, args.body_model)


# ---- scoring ------------------------------------------------------------------------------

def _write_csv(path, rows):
    if not rows:
        path.write_text('')
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def score_folder(out, ground_truth='', compare='', match='oks', match_threshold=0.5,
                 body_model=''):
    """Score every DIR/sequences/* and write the report; returns an exit code."""
    from hmr_models.body import load_body_model
    from hmr_models.eval.report import write_report
    from hmr_models.eval.scoring import EvalConfig, score
    out = Path(out)
    results = sorted(p for p in (out / 'sequences').glob('*') if is_bag(p))
    if not results:
        print(f'hmr-eval: no recorded sequences in {out / "sequences"}', file=sys.stderr)
        return 1
    store = typestore()
    sequences = []
    for r in results:
        if (r / 'segments.json').is_file():     # a bag set run in one node: split it again
            segments = json.loads((r / 'segments.json').read_text())
            whole = load_sequence(r, '', store, read_input_bag=False)
            for seq in split_sequence(whole, segments):
                sequences.append(_with_input(seq, ground_truth, store))
        else:
            sequences.append(load_sequence(r, ground_truth, store))
    try:
        body = load_body_model(body_model or None)
    except Exception as exc:   # the report still has everything but MPVE and 2D agreement
        print(f'hmr-eval: no body model ({exc}): MPVE and 2D agreement left out',
              file=sys.stderr)
        body = None
    config = EvalConfig(match=match, match_threshold=match_threshold)
    result = score(sequences, config, body)
    data = result.to_json()
    for key, name in (('people', 'people.csv'), ('frames', 'frames.csv'),
                      ('tracks', 'tracks.csv')):
        _write_csv(out / name, data.pop(key))
    data['runs'] = {s.name: s.run for s in sequences}
    data['diagnostics'] = {s.name: s.diagnostics for s in sequences}
    other = None
    if compare:
        other = load_saved(compare)
        data['compare'] = {'other': str(Path(compare).resolve())}
    images = _worst_frame_images(sequences, result, config)
    report = write_report(out / 'report.html', result, sequences, images, other=other,
                          title=f'hmr_node evaluation: {out.name}')
    if other is not None:
        data['compare']['table'] = report.get('compare', [])
    (out / 'metrics.json').write_text(json.dumps(data, indent=1, default=str))
    print(summary_text(result), flush=True)
    print(f'wrote {out / "report.html"} and {out / "metrics.json"}', flush=True)
    return 0


def load_saved(folder):
    """(metrics.json dict, people rows) of an earlier evaluation folder, for --compare."""
    folder = Path(folder).expanduser()
    metrics = json.loads((folder / 'metrics.json').read_text())
    rows = []
    people = folder / 'people.csv'
    if people.is_file() and people.stat().st_size:
        with open(people) as f:
            rows = list(csv.DictReader(f))
    return {'name': folder.name, 'metrics': metrics, 'people': rows}


def _worst_frame_images(sequences, result, config):
    """{(sequence, stamp): RGB} of the frames the report shows as thumbnails."""
    from hmr_models.eval.report import worst_frames
    picks = worst_frames(result, config.worst_frames)
    by_seq = {}
    for seq_name, stamp, _, _ in picks:
        by_seq.setdefault(seq_name, []).append(stamp)
    images = {}
    for seq in sequences:
        if seq.name in by_seq and seq.run.get('input_bag'):
            try:
                got = read_images(seq.run['input_bag'],
                                  seq.run.get('image_topic', '/camera/image_raw'),
                                  by_seq[seq.name])
            except Exception as exc:  # thumbnails are a nicety: never fail the report
                print(f'hmr-eval: no thumbnails from {seq.name}: {exc}', file=sys.stderr)
                continue
            images.update({(seq.name, s): im for s, im in got.items()})
    return images


def summary_text(result):
    """A few lines of the main figures (printed at the end of a run)."""
    s = result.summary
    lines = []
    rt = s.get('runtime', {})
    lines.append(f"frames {rt.get('frames')} ({rt.get('processed')} processed, "
                 f"{rt.get('dropped')} dropped); FPS in {rt.get('FPS in', float('nan')):.2f}, "
                 f"out {rt.get('FPS out', float('nan')):.2f}; latency p50/p95/p99 "
                 f"{rt.get('latency p50 ms', float('nan')):.0f}/"
                 f"{rt.get('latency p95 ms', float('nan')):.0f}/"
                 f"{rt.get('latency p99 ms', float('nan')):.0f} ms")
    for stream in ('persons', 'persons_smoothed', 'persons_delayed'):
        m = s.get(stream)
        if m and 'MPJPE' in m:
            lines.append(f"{stream}: {m['person-frames']} person-frames, MPJPE "
                         f"{m['MPJPE']:.1f}, PA-MPJPE {m['PA-MPJPE']:.1f}, MPVE "
                         f"{m['MPVE']:.1f}, OCC-MPJPE {m['OCC-MPJPE']:.1f} mm, ACC-ERR "
                         f"{m['ACC-ERR']:.1f} mm/frame^2")
    t = s.get('tracking')
    if t:
        lines.append(f"tracking: MOTA {t['MOTA']:.3f}, IDF1 {t['IDF1']:.3f}, ID switches "
                     f"{t['ID switches']}, recall {t['recall']:.3f}, precision "
                     f"{t['precision']:.3f}")
    return '\n'.join(lines)


# ---- command line -------------------------------------------------------------------------

def _common(p):
    p.add_argument('--ground-truth', default='',
                   help="'' = the input bag's /ground_truth/persons; '/topic' of the input "
                        'bag; or a side bag (or a folder of side bags named like the '
                        'sequences)')
    p.add_argument('--compare', default='', metavar='OTHER_DIR',
                   help='an earlier evaluation folder: A/B table with bootstrap intervals')
    p.add_argument('--match', default='oks', choices=('oks', 'iou', 'ids'),
                   help='prediction <-> ground truth matching: OKS of keypoints (default), '
                        'box IoU, or equal track ids (predictions with ground-truth ids)')
    p.add_argument('--match-threshold', type=float, default=0.5)
    p.add_argument('--body-model', default='',
                   help="SMPL-format .npz for MPVE and 2D agreement ('' = bundled open body)")


def build_parser():
    p = argparse.ArgumentParser(prog='hmr-eval', description=__doc__.split('\n\n')[0])
    p.add_argument('bags', nargs='+', help='bags or folders of bags to evaluate')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--mode', default='lockstep', choices=('lockstep', 'realtime'),
                   help="'lockstep': every frame processed (deterministic); 'realtime': the "
                        "bag's timing, the node drops frames as it would live")
    p.add_argument('--rate', type=float, default=1.0, help='playback speed (realtime)')
    p.add_argument('--params-file', default='', help="hmr_node's parameters file")
    p.add_argument('--model-profile', default='compact',
                   choices=('compact', 'sd15', 'frontend_only'))
    p.add_argument('--delay-frames', type=int, default=0, metavar='D',
                   help='D > 0: also score ~/persons_delayed, each frame smoothed with the D '
                        'frames after it (temporal.temporal_delay_frames; wins over the '
                        'parameters file)')
    p.add_argument('--image-topic', default='/camera/image_raw')
    p.add_argument('--image-transport', default='raw', choices=('raw', 'compressed'))
    p.add_argument('--people-topic', default='',
                   help="people from this topic of the bag instead of hmr_node's front-end "
                        '(e.g. /ground_truth/detections: the simulated detector with '
                        'ground-truth ids)')
    p.add_argument('--overwrite', action='store_true',
                   help='record sequences again that are already in --out')
    p.add_argument('--separate', action='store_true',
                   help='one node run per bag (default for several bags: one run, the bags '
                        'one after the other with their stamps 1,000 s apart, so that each '
                        'starts afresh without loading the models again)')
    _common(p)
    return p


def build_score_parser():
    p = argparse.ArgumentParser(prog='hmr-eval score',
                                description='score recorded sequences and write the report')
    p.add_argument('out', help='an evaluation folder (with sequences/)')
    _common(p)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if '--ros-args' in argv:     # started by a launch file as a node would be
        argv = argv[:argv.index('--ros-args')]
    from hmr_ros.transport import use_large_image_transport
    use_large_image_transport()     # as the launch file's processes
    try:
        if argv and argv[0] == 'score':
            ns = build_score_parser().parse_args(argv[1:])
            return score_folder(ns.out, ns.ground_truth, ns.compare, ns.match,
                                ns.match_threshold, ns.body_model)
        return run(build_parser().parse_args(argv))
    except BagError as exc:
        print(f'hmr-eval: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
