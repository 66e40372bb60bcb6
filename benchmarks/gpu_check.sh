#!/usr/bin/env bash
# The GPU figures of issue 15 in one run, for a machine with an NVIDIA GPU (prepared without one:
# run it when a GPU is lent, and put its output in the README with the date and the GPU).
#
#   here (network to PyPI):  bash benchmarks/gpu_check.sh --download     # wheels into .whl/
#   on the GPU machine:      bash benchmarks/gpu_check.sh [OUT_DIR]       # ~6 min on an H100
#
# The GPU machine of this project has torch (CUDA), peft, onnx and onnxruntime but no diffusers
# or smplx: the small pure-Python wheels travel in .whl/ (git-ignored) and are installed into
# /tmp/site. TensorRT is not on that machine: the tensorrt backend (onnxruntime's TensorRT
# provider) is measured only where `onnxruntime-gpu` with TensorRT is installed.
# Prints: sd15 and compact DPMesh step for 1/4/8 people in fp32, fp16 and fp16 + torch.compile
# (CUDA graphs), with the bare UNet + ControlNet and the VAE encoder of the same run as baselines.
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=(diffusers==0.42.1 smplx==0.1.28)   # the pins of requirements.txt
if [ "${1:-}" = "--download" ]; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${WHEELS[@]}"
  exit $?
fi
OUT_DIR=${1:-${OUT:-out/gpu}}
mkdir -p "$OUT_DIR"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT_DIR/gpu.txt"
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())' \
  | tee -a "$OUT_DIR/gpu.txt" || exit 1
run() {   # name, args...
  local name=$1; shift
  echo "== $name: $*" | tee "$OUT_DIR/$name.txt"
  timeout 900 python3 benchmarks/bench_dpmesh.py --device cuda --people 1 4 8 --repeats 20 \
    --warmup 3 "$@" 2>&1 | grep -v Warning | tee -a "$OUT_DIR/$name.txt"
}
run dpmesh_fp32 --profiles sd15 compact --dtype float32
run dpmesh_fp16 --profiles sd15 compact --dtype float16
run dpmesh_fp16_compiled --profiles sd15 --dtype float16 --compile reduce-overhead
if python3 -c 'import onnxruntime as o; assert "TensorrtExecutionProvider" in o.get_available_providers()' 2>/dev/null; then
  timeout 900 python3 benchmarks/bench_backends.py --backends torch tensorrt --people 1 4 8 \
    2>&1 | tee "$OUT_DIR/backends_tensorrt.txt"
else
  echo "no onnxruntime TensorRT provider here: tensorrt backend not measured" \
    | tee "$OUT_DIR/backends_tensorrt.txt"
fi
echo "figures in $OUT_DIR"
