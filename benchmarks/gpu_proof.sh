#!/usr/bin/env bash
# Issue 23, item 4: the GPU measurements in one call on a lent GPU machine (about 8 minutes), for
# the device tool's `run` (its image has python3 with torch, torchvision, timm, pandas; no venv is
# carried, so the package is imported from the working tree):
#
#   run: bash benchmarks/gpu_proof.sh        (writes under $OUT; the last lines are the summary)
#
# 1. benchmarks/gpu_throughput.py: MGN-R50 B-F at batch 32 before (eager, per-head) and after
#    (batched heads + the step compiled into CUDA graphs), fit over image files with augmentation
#    on the GPU and in loader workers, 2 and 4 units packed on the GPU, the PS-HRNet student.
# 2. a two-unit `train-units` run (smoke profile, 2 processes on the one GPU: the code path).
# Each part has its own time limit so one that hangs does not lose the other.
set -u
OUT=${OUT:-build/gpu_proof}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONHASHSEED=0 MPLBACKEND=Agg REIDLAB_PLAIN_PROGRESS=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
"$PY" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" \
    | tee -a "$OUT/gpu.txt"

timeout 390 "$PY" benchmarks/gpu_throughput.py --iters 30 --warmup 6 --fit-iters 40 --pack 2 4 \
    --json "$OUT/throughput.json" > "$OUT/throughput.log" 2>&1
echo "gpu_throughput.py exit $?" | tee -a "$OUT/throughput.log"

start=$(date +%s)
timeout 100 "$PY" -m reidlab.study.drive.pipeline train-units --profile smoke --jobs 2 --no-speculative \
    --runs-dir "$OUT/runs" --only 01_train_bf > "$OUT/train_units.log" 2>&1
echo "train-units exit $? in $(( $(date +%s) - start )) s" | tee -a "$OUT/train_units.log"

tail -5 "$OUT/train_units.log"
sed -n '/^variant/,$p' "$OUT/throughput.log" | tail -40
