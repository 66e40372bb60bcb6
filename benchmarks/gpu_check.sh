#!/usr/bin/env bash
# The GPU figures of issue 15 in one run, for a machine with an NVIDIA GPU (prepared without one:
# run it when a GPU is lent, and put its output in the README with the date and the GPU).
#
#   here (network to PyPI):  bash benchmarks/gpu_check.sh --download     # wheels into .whl/
#   on the GPU machine:      bash benchmarks/gpu_check.sh [OUT_DIR]       # <= 8 min
#
# The GPU machine of this project has torch (CUDA), peft, onnx, onnxruntime (CPU) and OpenCV but
# not diffusers, smplx, lapx (the tracker's assignment) or importlib_metadata (diffusers needs
# it): these small wheels travel in .whl/ (git-ignored) and are installed into /tmp/site.
# TensorRT is not on that machine and its wheels (GBs) cannot travel: the tensorrt backend
# (onnxruntime's TensorRT provider) is measured only where `onnxruntime-gpu` with TensorRT is
# installed.
# Prints, most important first:
# 1. the whole pipeline (bench_pipeline.py): sd15 profile (random weights: speed only) in fp16
#    on the GPU, the front-end on the CPU, two full-size copies of the bundled clip side by side
#    (2-4 people), frames at 30 Hz, pipelined; backend cuda_graphs (every mesh network replayed
#    from CUDA graphs, hmr_models/cuda_graphs.py), then eager torch in the same run;
# 2. sd15 and compact DPMesh step for 1/4/8 people in fp16 from CUDA graphs (with the largest
#    difference from the eager step's pose), the compact pipeline with CUDA graphs, and the eager
#    fp16 step, with the bare UNet + ControlNet and the VAE encoder of the same run as baselines.
# (fp32 and torch.compile were measured on 2026-12-04: docs/RESULTS.md, "On a GPU".)
set -uo pipefail
cd "$(dirname "$0")/.."
# The pins of requirements.txt; importlib_metadata 8.7 because 10.x needs one more wheel.
WHEELS=(diffusers==0.42.1 smplx==0.1.28 lapx==0.11.1 importlib_metadata==8.7.0)
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
python3 -c 'import diffusers, smplx, lap, peft, onnxruntime, cv2; import hmr_models.pipeline
print("diffusers", diffusers.__version__, "peft", peft.__version__, "onnxruntime",
      onnxruntime.__version__, "opencv", cv2.__version__)' 2>&1 | tee -a "$OUT_DIR/gpu.txt"
pipeline() {   # name, time limit (s), args...
  local name=$1 limit=$2; shift 2
  echo "== $name: $*" | tee "$OUT_DIR/$name.txt"
  timeout "$limit" python3 benchmarks/bench_pipeline.py --device cuda --random-weights \
    --canvas 2560x720 --tile 2x1 --detector-size 832 --modes pipelined "$@" 2>&1 \
    | grep -v Warning | tee -a "$OUT_DIR/$name.txt"
}
# The same run, first the CUDA graphs backend and then eager torch (the ratio is the evidence).
pipeline pipeline_sd15_fp16_cuda_graphs 120 --profile sd15 --dtype float16 --seconds 15 \
  --backend cuda_graphs
pipeline pipeline_sd15_fp16_eager 120 --profile sd15 --dtype float16 --seconds 15 --backend torch
run() {   # name, time limit (s), args...
  local name=$1 limit=$2; shift 2
  echo "== $name: $*" | tee "$OUT_DIR/$name.txt"
  timeout "$limit" python3 benchmarks/bench_dpmesh.py --device cuda --people 1 4 8 \
    --repeats 10 --warmup 3 "$@" 2>&1 | grep -v Warning | tee -a "$OUT_DIR/$name.txt"
}
run dpmesh_fp16_cuda_graphs 90 --profiles sd15 compact --dtype float16 --compile cuda-graphs
pipeline pipeline_compact_fp16_cuda_graphs 70 --profile compact --dtype float16 --seconds 10 \
  --backend cuda_graphs
run dpmesh_fp16 90 --profiles sd15 compact --dtype float16
if python3 -c 'import onnxruntime as o; assert "TensorrtExecutionProvider" in o.get_available_providers()' 2>/dev/null; then
  timeout 200 python3 benchmarks/bench_backends.py --backends torch tensorrt --people 1 4 8 \
    2>&1 | tee "$OUT_DIR/backends_tensorrt.txt"
else
  echo "no onnxruntime TensorRT provider here: tensorrt backend not measured" \
    | tee "$OUT_DIR/backends_tensorrt.txt"
fi
echo "figures in $OUT_DIR"
