#!/usr/bin/env bash
# The GPU checks of issue 13 in one go (< 8 minutes on an H100/H200), for a session that has a GPU.
#
#   bash bench/gpu_check.sh            # results in $OUT (when set) or ./gpu_check_out
#
# Steps, each under its own time limit (a step that runs out is cut and marked, the rest still run):
#   1. the device (nvidia-smi, torch, compute capability, what precision auto picks)
#   2. bench/inference.py --device cuda for flood and crops in bf16, fp16 and fp32 (windows/s of the engine
#      vs the demo path, GFLOP/s, class-map agreement with fp32), then bf16 with torch.compile
#   3. bench/memory.py --device cuda: peak MiB per window per model and precision (paste into config.py)
#   4. bench/precision.py --device cuda: bf16/fp16 agreement on the published-layout random weights with the
#      bench and stand-in inputs, and fp16 headroom
#   5. bench/shared.py --device cuda: 4 concurrent small-area runs sharing batches vs one at a time
#   6. bench/inference.py with torch.compile (bf16)
#   7. bench/e2e.py --device cuda: the pipeline on the stand-in, stage times for 10 x 10 km and 50 x 50 km
#      (gets what is left of the budget)
#   region_tests, region_bench (issue 12): tests/region/test_region.py with every run on the GPU (GEOFM_TEST_DEVICE=cuda:
#      pixel-exact equality with `geofm run`, batch, two zones, resume, failing chunk), and bench/region.py --device
#      cuda (one worker vs two sharing the GPU, bytes vs the region's blocks)
#
#   GPU_CHECK_STEPS="device region_tests ..." runs only the steps named (default: all but the region ones).
# Targets (issue 13): >= 1,500 flood and >= 450 crop windows/s with bf16 class maps >= 99.5 % identical to fp32.
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-gpu_check_out}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
BUDGET=${GPU_CHECK_BUDGET_S:-460}
START=$SECONDS
: > "$LOG"

STEPS=" ${GPU_CHECK_STEPS:-device infer_bf16 infer_fp16 infer_fp32 memory precision shared infer_bf16_compile e2e} "

step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2
  shift 2
  [[ "$STEPS" == *" $name "* ]] || return 0
  local left=$(( BUDGET - (SECONDS - START) ))
  if (( left < 15 )); then
    echo "== $name: skipped (time budget spent)" | tee -a "$LOG"
    return
  fi
  (( limit > left )) && limit=$left
  echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
  local t0=$SECONDS
  timeout --signal=INT --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT_DIR/$name.txt" | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $(( SECONDS - t0 ))s$( (( rc == 124 )) && echo ' (TIMED OUT)')" | tee -a "$LOG"
}

step device 20 bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1;
python - <<EOF
import torch
from geofm.inference.precision import resolve_precision
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    dev = torch.device("cuda")
    print("gpu", torch.cuda.get_device_name(dev), "capability", torch.cuda.get_device_capability(dev))
    print("auto precision:", resolve_precision("auto", dev))
EOF'

step region_tests 200 env GEOFM_TEST_DEVICE=cuda python -m pytest -x -q -p no:cacheprovider tests/region/test_region.py
step region_bench 240 python bench/region.py --device cuda

COMMON=(--device cuda --windows 512 --demo-windows 32 --rounds 3)
step infer_bf16 60 python bench/inference.py "${COMMON[@]}" --precision bf16 --json "$OUT_DIR/infer_bf16.json"
step infer_fp16 50 python bench/inference.py "${COMMON[@]}" --precision fp16 --json "$OUT_DIR/infer_fp16.json"
step infer_fp32 50 python bench/inference.py "${COMMON[@]}" --precision fp32 --json "$OUT_DIR/infer_fp32.json"
step memory 35 python bench/memory.py --device cuda --precisions fp32 bf16 fp16
step precision 40 python bench/precision.py --device cuda --windows 64 --batch-size 32
step shared 25 python bench/shared.py --device cuda --runs 4 --area 448 448 --rounds 2
step infer_bf16_compile 120 python bench/inference.py "${COMMON[@]}" --precision bf16 --compile \
  --json "$OUT_DIR/infer_bf16_compile.json"
step e2e 90 python bench/e2e.py --device cuda --km 10 49.9

echo "== total $(( SECONDS - START ))s; results in $OUT_DIR" | tee -a "$LOG"
