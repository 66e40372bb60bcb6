#!/usr/bin/env python3
"""What the front-end's part rule drops, and whom it must not drop: a smaller person in front.

The part rule (`hmr_models.frontend.frontend.part_of_taller`) drops a box that lies on part of a
taller person (the legs, an arm, the upper body) and whose keypoints sit on that person's. A
child in front of a parent, or a seated person in front of a standing one, looks the same to
the box and keypoint tests; only their own face, away from the taller person's, tells them
apart. Two checks, each with faces looked at (the default) and not (`own_face` infinite):

1. Real clips (the bundled one; Pose2Sim's 8 views and vtest.avi where `scripts/
   fetch_eval_data.sh` has put them in data/real): every box the rule drops, per clip, with
   its face scores and how far its nose lies from the taller person's face. Every one of these
   was looked at: all are parts (docs/RESULTS.md).
2. A smaller person in front: people cut out (GrabCut, once each) of the bundled clip (frame
   60: the woman walking on the grass, the man on the roof against the sky) and of Pose2Sim's
   single-person demo are pasted, at `--scales` of a standing woman's height (the bundled
   clip's frame 154; Pose2Sim multi-person cam04 frame 20), in front of her legs at
   `--offsets` (in her heights, sideways). The pasted person must be kept where the detector
   finds them, and the woman behind must stay found.

Prints one table per check; `--out` gets the composites, without and with the face check
(green kept, red dropped).

Usage: .venv/bin/python benchmarks/check_part_rule.py [--threads 2] [--out out/part_rule]
       [--clips sample,pose2sim,vtest]
"""
import argparse
import itertools
import logging
from pathlib import Path
import sys

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hmr_models.frontend import draw_people, FrontEndConfig, PersonFrontEnd  # noqa: E402
from hmr_models.frontend.boxes import box_iou  # noqa: E402
from hmr_models.frontend.frontend import nose_to_face, OWN_FACE, part_of_taller, \
    shows_face  # noqa: E402
from hmr_models.runtime import resolve_runtime  # noqa: E402

SAMPLE = REPO / 'media' / 'sample_sports2d.mp4'
REAL = REPO / 'data' / 'real'
VTEST_FRAMES = 300          # as eval_real.py
NO_FACES = np.inf           # own_face: faces not looked at (the rule before 2026-12-06)


def real_clips(names):
    """(name, path) of the clips asked for that are here."""
    if 'sample' in names:
        yield 'sample', SAMPLE
    if 'pose2sim' in names:
        for demo in ('Demo_MultiPerson', 'Demo_SinglePerson'):
            for video in sorted((REAL / 'pose2sim' / demo / 'videos').glob('*.mp4')):
                yield f'{demo}/{video.stem}', video
    if 'vtest' in names and (REAL / 'opencv' / 'vtest.avi').exists():
        yield 'vtest', REAL / 'opencv' / 'vtest.avi'


def rule(people, config, own_face):
    return part_of_taller(people, config.body_keypoint_score, config.part_keypoint_fraction,
                          own_face=own_face)


def face_of_part(people, b, config):
    """nose_to_face of part B and the taller person it is a part of (the tallest such)."""
    for a in np.argsort(-(people.boxes[:, 3] - people.boxes[:, 1])):
        if a != b and rule(people.select(np.array([a, b])), config, NO_FACES)[1]:
            return nose_to_face(people, a, b)
    return float('nan')


def survey(names, runtime):
    """Check 1: per clip, the boxes dropped with and without the face check."""
    print('\n== boxes the part rule drops on real clips (rule off in the front-end, applied '
          'to its people)')
    print(f'{"clip":32s} {"frames":>6s} {"parts, no face check":>21s} {"with it":>8s}  '
          'nose to the taller face / height, where the part shows a face')
    totals = np.zeros(2, int)
    config = FrontEndConfig()
    for name, path in real_clips(names):
        front = PersonFrontEnd(FrontEndConfig(part_keypoint_fraction=0.0), runtime)
        video = cv2.VideoCapture(str(path))
        fps = video.get(cv2.CAP_PROP_FPS) or 30.0
        counts, faces, frame = np.zeros(2, int), [], 0
        while frame < (VTEST_FRAMES if name == 'vtest' else 10 ** 6):
            ok, bgr = video.read()
            if not ok:
                break
            people = front.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), frame / fps)
            before, now = rule(people, config, NO_FACES), rule(people, config, OWN_FACE)
            counts += before.sum(), now.sum()
            face = shows_face(people.keypoint_scores, config.body_keypoint_score)
            faces += [face_of_part(people, b, config) for b in np.nonzero(before & face)[0]]
            frame += 1
        totals += counts
        shown = ', '.join(f'{d:.2f}' for d in sorted(faces)) or '-'
        print(f'{name:32s} {frame:6d} {counts[0]:21d} {counts[1]:8d}  {shown}')
    print(f'{"all":32s} {"":6s} {totals[0]:21d} {totals[1]:8d}')


# Who is pasted: (name, video, frame, which of its people).
SOURCES = [('woman', SAMPLE, 60, 'lowest'),          # walking on the grass
           ('man', SAMPLE, 60, 'tallest'),           # on a roof, arms up, cut from the sky
           ('lab_man', REAL / 'pose2sim' / 'Demo_SinglePerson' / 'videos' / 'cam02.mp4', 30,
            'tallest')]
# Whom the pasted person stands in front of: (name, video, frame, which of its people).
TARGETS = [('bundled clip, frame 154, the woman', SAMPLE, 154, 'tallest'),
           ('Pose2Sim multi-person cam04, frame 20, the woman',
            REAL / 'pose2sim' / 'Demo_MultiPerson' / 'videos' / 'cam04.mp4', 20, 'rightmost')]


def read_frame(path, index):
    video = cv2.VideoCapture(str(path))
    video.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = video.read()
    if not ok:
        raise SystemExit(f'{path}: no frame {index}')
    return bgr


def pick(people, which):
    b = people.boxes
    key = {'tallest': b[:, 3] - b[:, 1], 'rightmost': b[:, 0] + b[:, 2], 'lowest': b[:, 3]}
    return b[np.argmax(key[which])]


def cut_out(bgr, box, pad=10):
    """The person in `box` as (crop, alpha) by GrabCut from the box."""
    x0, y0, x1, y1 = box.astype(int)
    rect = (max(x0 - pad, 0), max(y0 - pad, 0), x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
    mask = np.zeros(bgr.shape[:2], np.uint8)
    cv2.grabCut(bgr, mask, rect, np.zeros((1, 65)), np.zeros((1, 65)), 5,
                cv2.GC_INIT_WITH_RECT)
    rows, cols = slice(rect[1], rect[1] + rect[3]), slice(rect[0], rect[0] + rect[2])
    alpha = np.isin(mask[rows, cols], (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    return bgr[rows, cols], cv2.GaussianBlur(alpha, (5, 5), 0), (box[3] - box[1])


def paste(target, person, box, scale, offset):
    """`target` with `person` at `scale` x box's height, feet a little below box's feet."""
    crop, alpha, height = person
    h_box = box[3] - box[1]
    f = scale * h_box / height
    crop, alpha = cv2.resize(crop, None, fx=f, fy=f), cv2.resize(alpha, None, fx=f, fy=f)
    h, w = crop.shape[:2]
    x0 = int((box[0] + box[2]) / 2 + offset * h_box - w / 2)
    y0 = int(box[3] + 0.03 * h_box - h)          # a step nearer the camera than her
    out = target.copy()
    if x0 < 0 or y0 < 0 or x0 + w > out.shape[1] or y0 + h > out.shape[0]:
        return None, None
    roi = out[y0:y0 + h, x0:x0 + w].astype(np.float32)
    out[y0:y0 + h, x0:x0 + w] = (alpha[..., None] * crop + (1 - alpha[..., None]) * roi) \
        .astype(np.uint8)
    return out, np.array([x0, y0, x0 + w, y0 + h], np.float32)


def in_front(scales, offsets, runtime, out_dir):
    """Check 2: a smaller person pasted in front of a standing one."""
    config = FrontEndConfig()
    front = PersonFrontEnd(FrontEndConfig(part_keypoint_fraction=0.0), runtime)
    print('\n== a smaller person pasted in front of another')
    print(f'{"pasted":10s} {"in front of":50s} {"scale":>5s} {"offset":>6s}  {"found":>5s}  '
          f'{"no face check":>13s}  {"with it":>8s}  {"behind":>6s}')
    kept = np.zeros(2, int)
    found_all = 0
    people_cut, scenes = {}, {}
    behind_kept = composites = 0
    for (who, src, src_index, src_which), (name, path, index, which), scale, offset in \
            itertools.product(SOURCES, TARGETS, scales, offsets):
        if not path.exists() or not src.exists():
            continue
        if who not in people_cut:
            source = read_frame(src, src_index)
            people_cut[who] = cut_out(source, pick(front.detect(
                cv2.cvtColor(source, cv2.COLOR_BGR2RGB)), src_which))
        if name not in scenes:
            target = read_frame(path, index)
            scenes[name] = target, pick(front.detect(cv2.cvtColor(target, cv2.COLOR_BGR2RGB)),
                                        which)
        target, behind = scenes[name]
        person = people_cut[who]
        image, pasted = paste(target, person, behind, scale, offset)
        if image is None:
            continue
        people = front.detect(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        iou = box_iou(people.boxes, pasted)[:, 0]
        found = len(people) > 0 and iou.max() >= 0.5
        # the person behind must stay too (not taken for a duplicate of the one in front)
        still = len(people) > 0 and box_iou(people.boxes, behind).max() >= 0.5
        behind_kept += still
        verdict = ['-', '-']
        if found:
            found_all += 1
            b = int(np.argmax(iou))
            for i, own_face in enumerate((NO_FACES, OWN_FACE)):
                dropped = rule(people, config, own_face)[b]
                verdict[i] = 'dropped' if dropped else 'kept'
                kept[i] += not dropped
            if out_dir:
                draw(image, people, [('no face check', rule(people, config, NO_FACES)),
                                     ('with it', rule(people, config, OWN_FACE))],
                     out_dir / f'{who}_in_front_{path.stem}_{scale:.2f}_{offset:+.2f}.png')
        print(f'{who:10s} {name:50s} {scale:5.2f} {offset:+6.2f}  {"yes" if found else "no":>5s}  '
              f'{verdict[0]:>13s}  {verdict[1]:>8s}  {"yes" if still else "no":>6s}')
        composites += 1
    print(f'pasted person kept where found: no face check {kept[0]} of {found_all}, '
          f'with it {kept[1]} of {found_all}; the person behind found in {behind_kept} of '
          f'{composites} composites')


def draw(image, people, masks, path):
    """Side by side, one panel per (label, part mask): green kept, red dropped as a part."""
    panels = []
    for label, part in masks:
        panel = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for mask, colour in ((~part, (0, 200, 0)), (part, (255, 0, 0))):
            draw_people(panel, people.select(np.nonzero(mask)[0]), 0.3, copy=False,
                        label=False, colour=colour)
        cv2.putText(panel, label, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        panels.append(cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(panels, axis=1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--clips', default='sample,pose2sim,vtest')
    p.add_argument('--scales', type=float, nargs='+', default=[0.45, 0.55, 0.65])
    p.add_argument('--offsets', type=float, nargs='+', default=[-0.1, 0.0, 0.1])
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--out', type=Path, default=None, help='write the composites here')
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    runtime = resolve_runtime(threads=args.threads)
    in_front(args.scales, args.offsets, runtime, args.out)
    survey(args.clips.split(','), runtime)


if __name__ == '__main__':
    main()
