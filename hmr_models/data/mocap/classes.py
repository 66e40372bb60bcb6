"""Motion classes: what kind of body posture a clip shows, from its labels.

Real footage has people sitting, kneeling and lying; the mocap we have is mostly upright. The
classes make that visible (SynthOcc scored per class) and let the scene generator sample them
in chosen proportions instead of in proportion to how much of each the collections happen to
hold (Bandai alone is ~80 % waving and walking).
"""
import numpy as np

MOTION_CLASSES = ('standing_walking', 'jumping_sports', 'sitting', 'crouching_kneeling',
                  'lying')

# Scene sampling share of each class when training: upright people still dominate real footage,
# but every posture is seen often enough to be learnt.
TRAINING_CLASS_WEIGHTS = {'standing_walking': 0.35, 'jumping_sports': 0.2, 'sitting': 0.2,
                          'crouching_kneeling': 0.15, 'lying': 0.1}

_BANDAI_ATHLETIC = ('kick', 'punch', 'slash', 'dance')
_DEEPMIMIC = {'backflip': 'jumping_sports', 'cartwheel': 'jumping_sports',
              'dance_a': 'jumping_sports', 'dance_b': 'jumping_sports',
              'jump': 'jumping_sports', 'kick': 'jumping_sports', 'punch': 'jumping_sports',
              'spin': 'jumping_sports', 'spinkick': 'jumping_sports',
              'crawl': 'crouching_kneeling', 'getup_facedown': 'lying',
              'getup_faceup': 'lying', 'roll': 'lying'}
# cmu_more's index.csv categories.
_CMU_MORE = {'dance': 'jumping_sports', 'jump': 'jumping_sports',
             'martial_arts': 'jumping_sports', 'sports': 'jumping_sports',
             'acrobatics': 'jumping_sports', 'exercise_stretch': 'jumping_sports',
             'bend_pickup': 'crouching_kneeling'}
# The generated postures (postures.py) carry their class themselves.


def motion_class(collection, labels):
    """The class of a clip (one of :data:`MOTION_CLASSES`) from its collection and labels."""
    labels = labels or {}
    if labels.get('class') in MOTION_CLASSES:
        return labels['class']
    if collection == 'bandai':
        content = labels.get('content', '')
        return 'jumping_sports' if content.startswith(_BANDAI_ATHLETIC) else 'standing_walking'
    if collection == 'deepmimic':
        return _DEEPMIMIC.get(labels.get('content', ''), 'standing_walking')
    if collection == 'cmu_more':
        return _CMU_MORE.get(labels.get('category', ''), 'standing_walking')
    return 'standing_walking'    # cmu/ (walks, hops, playground) and anything unlabelled


def motion_class_of(meta):
    """The class of a loaded motion, from its `meta` (collection and labels)."""
    meta = meta or {}
    return motion_class(meta.get('collection', ''), meta)


def parse_class_weights(spec):
    """'balanced' | 'training' | 'name=w,...' | '' -> {class: weight} or None (per clip).

    'balanced' gives every class the same share; 'training' is
    :data:`TRAINING_CLASS_WEIGHTS`; '' keeps the old rule (clips by length, no classes).
    """
    spec = (spec or '').strip()
    if not spec:
        return None
    if spec == 'balanced':
        return {c: 1.0 for c in MOTION_CLASSES}
    if spec == 'training':
        return dict(TRAINING_CLASS_WEIGHTS)
    out = {}
    for part in spec.split(','):
        name, _, value = part.partition('=')
        name = name.strip()
        if name not in MOTION_CLASSES:
            raise ValueError(f'unknown motion class {name!r} (known: {", ".join(MOTION_CLASSES)})')
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f'class weight {part!r} is not name=number') from None
        if out[name] < 0:
            raise ValueError(f'class weight {part!r} is negative')
    return out


def clip_sampling_weights(lengths, classes, class_weights=None, power=0.5):
    """Probability of drawing each clip.

    Within a class, clips are drawn by their length to `power` (0.5: long clips, not too
    often; 1: every frame alike); across classes by `class_weights` (classes without clips drop
    out and the rest are renormalised). None: the length rule over all clips, classes ignored.
    """
    w = np.asarray(lengths, np.float64) ** power
    if class_weights is None:
        return w / w.sum()
    classes = np.asarray(classes)
    out = np.zeros_like(w)
    for name, share in class_weights.items():
        members = classes == name
        if share > 0 and members.any():
            out[members] = share * w[members] / w[members].sum()
    if out.sum() <= 0:
        raise ValueError(f'no clips of the weighted classes {sorted(class_weights)} '
                         f'(present: {sorted(set(classes.tolist()))})')
    return out / out.sum()
