#!/usr/bin/env bash
# One-command setup of hmr_ros on the pip-only path (no ROS 2 distribution needed):
#   scripts/setup.sh          runtime: venv, pinned dependencies, message build, the package
#   scripts/setup.sh --dev    the same plus the test and lint tools
# Environment: HMR_VENV (default: .venv in the repository), PYTHON (default: python3).
# Re-running is cheap: each step is skipped when its inputs have not changed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HMR_VENV:-$repo/.venv}"
python="${PYTHON:-python3}"
dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
stamp_ok() { [ -f "$venv/.hmr_stamps/$1" ] && [ "$(cat "$venv/.hmr_stamps/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$venv/.hmr_stamps"; echo "$2" > "$venv/.hmr_stamps/$1"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

for tool in cmake gcc g++; do
  command -v "$tool" >/dev/null || { echo "setup.sh: '$tool' is required (Debian: apt-get install cmake g++)" >&2; exit 1; }
done

# 1. Virtual environment and pinned dependencies (torch first: see requirements.txt).
if [ ! -x "$venv/bin/python" ]; then
  say "creating virtual environment $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
req_files=("$repo/requirements.txt")
[ "$dev" = 1 ] && req_files+=("$repo/requirements-dev.txt")
req_hash="$(hash_of "${req_files[@]}")"
if ! stamp_ok requirements "$req_hash"; then
  say "installing torch (pinned CPU build) and the pinned dependencies"
  "${pip[@]}" install "$(grep -E '^torch==' "$repo/requirements.txt")"
  for f in "${req_files[@]}"; do "${pip[@]}" install -r "$f"; done
  stamp_set requirements "$req_hash"
fi

# 2. Custom messages: rosidl + CMake into the venv prefix. The ROS wheels bake the interpreter
#    paths of their build machine into their CMake exports; point them at this venv first.
py_include="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
np_include="$("$venv/bin/python" -c 'import numpy; print(numpy.get_include())')"
{ grep -rlZ --include='*.cmake' '/opt/python/cp311-cp311' "$venv/share" 2>/dev/null || true; } \
  | xargs -0 -r sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g"
build_interfaces() {  # build_interfaces NAME SOURCE_DIR [CMAKE_ARGS...]: rosidl + CMake -> venv
  local name="$1" src="$2"; shift 2
  local build="$repo/build/interfaces_$name"
  rm -rf "$build"
  mkdir -p "$repo/build"  # a clean clone has no build/ yet; the log goes beside the tree
  (
    export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH"
    cmake -S "$src" -B "$build" "$@" -DBUILD_TESTING=OFF \
      -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$venv/bin/python" > "$build.log" 2>&1 &&
    cmake --build "$build" -j "$(nproc)" >> "$build.log" 2>&1 &&
    cmake --install "$build" >> "$build.log" 2>&1
  ) || { echo "setup.sh: the $name message build failed; see $build.log" >&2; tail -20 "$build.log" >&2; exit 1; }
}

# 2a. Standard messages the ROS 2 wheels lack (tf2_msgs, hri_msgs): the upstream definitions in
#     interfaces/ are built only where no ROS 2 distribution provides the package (a stamp marks
#     the ones built here, so an edited definition is rebuilt and a distribution's is left alone).
for name in tf2_msgs hri_msgs; do
  vendored_hash="$(hash_of "$repo/interfaces/$name"/msg/*.msg "$repo/interfaces/$name/CMakeLists.txt")"
  if "$venv/bin/python" -c "import $name.msg" 2>/dev/null; then
    [ -f "$venv/.hmr_stamps/$name" ] || continue          # a ROS 2 distribution provides it
    stamp_ok "$name" "$vendored_hash" && continue
  fi
  say "building $name from interfaces/$name (no ROS 2 distribution provides it here)"
  build_interfaces "$name" "$repo/interfaces/$name"
  stamp_set "$name" "$vendored_hash"
done

# 2b. hmr_ros's own messages.
msg_hash="$(hash_of "$repo"/msg/*.msg "$repo/CMakeLists.txt" "$repo/package.xml")"
if ! stamp_ok interfaces "$msg_hash" || ! "$venv/bin/python" -c 'import hmr_ros.msg' 2>/dev/null; then
  say "building the hmr_ros messages"
  build_interfaces hmr_ros "$repo" -DHMR_ROS_INTERFACES_ONLY=ON
  stamp_set interfaces "$msg_hash"
fi

# 3. The package itself (Python packages, lib/hmr_ros executables, share/hmr_ros).
say "installing hmr_ros into $venv"
"${pip[@]}" install --no-deps --no-build-isolation "$repo"

# 4. `ros2 launch` / `ros2 run`: the real ones where a ROS 2 installation provides them, else
#    the package's own minimal runner with the same command line.
if "$venv/bin/python" -c 'import launch_ros' 2>/dev/null; then
  say "real ROS 2 launch found: using it"
  rm -f "$venv/bin/ros2.hmr_shim"
else
  cat > "$venv/bin/ros2" <<EOF
#!$venv/bin/python
# hmr_ros's minimal stand-in for ros2 (launch, run): no ROS 2 launch was found here.
import sys
from hmr_ros.ros2_shim import main
sys.exit(main())
EOF
  chmod +x "$venv/bin/ros2"
  touch "$venv/bin/ros2.hmr_shim"
fi

# 5. The bundled models exported for onnxruntime (the CPU backend), once per machine and
#    weights; otherwise the first start of hmr_node does it (about a minute on 2 cores: DiffMesh's
#    graph is simplified with onnxslim, which makes every later start and every frame faster).
mkdir -p "$repo/build"
if ! "$venv/bin/python" -m hmr_models.onnx_runner > "$repo/build/onnx_export.log" 2>&1; then
  echo "setup.sh: exporting the models for onnxruntime failed (hmr_node will run them with" \
       "torch); see $repo/build/onnx_export.log" >&2
fi

"$venv/bin/python" -c 'import rclpy, hmr_ros.msg, tf2_msgs.msg, hri_msgs.msg, hmr_models' \
  || { echo "setup.sh: the installed environment does not import; see above" >&2; exit 1; }
say "ready: $venv (run: $venv/bin/ros2 launch hmr_ros live.launch.py)"
