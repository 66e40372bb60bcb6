#!/usr/bin/env bash
# Fetch the real footage of the real-data benchmark (benchmarks/eval_real.py) into data/real/.
#
#   ./scripts/fetch_eval_data.sh [DEST]          # default DEST: <repo>/data/real (gitignored)
#
# Benchmark data, never needed at the node's run time and never by the tests. Sources (all freely
# licensed, all from ordinary package registries):
#   - pose2sim==0.10.49 (PyPI, BSD-3-Clause): Pose2Sim/Demo_MultiPerson and Demo_SinglePerson:
#     4 synchronised, calibrated views (Qualisys Calib.qca.txt), 1088x1920 at 60 fps.
#   - sports2d==0.8.34 (PyPI, BSD-3-Clause): Sports2D/Demo/demo.mp4 (the bundled sample clip).
#   - Debian opencv-doc (OpenCV's sample data, BSD-3-Clause package): examples/data/vtest.avi and
#     a few sample images without people (false-people check).
# Needs pip (any), and apt-get + dpkg-deb for vtest.avi (skipped with a note when absent).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$here/data/real}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip=${PIP:-pip}
[ -x "$here/.venv/bin/pip" ] && pip="$here/.venv/bin/pip"

echo "fetching pose2sim and sports2d wheels (no dependencies) ..."
"$pip" download --quiet --no-deps pose2sim==0.10.49 sports2d==0.8.34 -d "$tmp"
python3 - "$tmp" "$dest" <<'PY'
import sys, zipfile, pathlib
tmp, dest = map(pathlib.Path, sys.argv[1:])
def extract(wheel, members, out):
    with zipfile.ZipFile(next(tmp.glob(wheel))) as z:
        for name in z.namelist():
            for prefix, target in members:
                if name.startswith(prefix) and not name.endswith('/'):
                    path = out / target / name[len(prefix):]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(z.read(name))
        lic = [n for n in z.namelist() if n.endswith('licenses/LICENSE')]
        return z.read(lic[0]) if lic else b''
for demo in ('Demo_MultiPerson', 'Demo_SinglePerson'):
    lic = extract('pose2sim-*.whl', [(f'Pose2Sim/{demo}/videos/', f'pose2sim/{demo}/videos/'),
                                     (f'Pose2Sim/{demo}/calibration/Calib.qca.txt',
                                      f'pose2sim/{demo}/calibration/Calib.qca.txt')], dest)
(dest / 'pose2sim' / 'LICENSE-BSD-3-Clause').write_bytes(lic)
lic = extract('sports2d-*.whl', [('Sports2D/Demo/demo.mp4', 'sports2d/demo.mp4')], dest)
(dest / 'sports2d' / 'LICENSE-BSD-3-Clause').write_bytes(lic)
PY

if command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    echo "fetching Debian opencv-doc for vtest.avi ..."
    (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1) || true
    deb=$(ls "$tmp"/opencv-doc_*.deb 2>/dev/null | head -n 1 || true)
    if [ -n "$deb" ]; then
        src=./usr/share/doc/opencv-doc/examples/data
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "$src/"
        mkdir -p "$dest/opencv/no_people"
        cp "$tmp/$src/vtest.avi" "$dest/opencv/vtest.avi"
        # sample images without people: what the front-end must not turn into meshes
        for f in aero1.jpg aero3.jpg apple.jpg baboon.jpg building.jpg fruits.jpg home.jpg \
                 orange.jpg squirrel_cls.jpg smarties.png stuff.jpg starry_night.jpg leuvenA.jpg \
                 leuvenB.jpg graf1.png box_in_scene.png HappyFish.jpg board.jpg butterfly.jpg \
                 chicky_512.png left01.jpg blox.jpg pic1.png Blender_Suzanne1.jpg \
                 ela_original.jpg sudoku.png notes.png rubberwhale1.png licenseplate_motion.jpg; do
            [ -f "$tmp/$src/$f" ] && cp "$tmp/$src/$f" "$dest/opencv/no_people/"
        done
    else
        echo "note: apt-get download opencv-doc failed: vtest.avi skipped" >&2
    fi
else
    echo "note: no apt-get/dpkg-deb: vtest.avi skipped (Debian package opencv-doc)" >&2
fi
find "$dest" -type f | sort
