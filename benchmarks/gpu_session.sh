#!/bin/bash
# One GPU session's checks, in one command, inside a fixed time (see docs/benchmarks.md, "GPU"). Run from
# the repository root on a GPU machine whose Python already has torch, timm, scikit-learn, pandas,
# matplotlib, pluggy and pyyaml; the rest comes as wheels in .whl/ (lightly, kornia, kornia-rs, netcal,
# medmnist and their missing requirements; `bash benchmarks/gpu_wheels.sh` fetches them) and the MedMNIST
# files in $BENCH_DATA_ROOT. Writes under $OUT.
#   OUT=/some/dir BENCH_DATA_ROOT=/data [SUITE_WORKERS=N] bash benchmarks/gpu_session.sh [BUDGET_S]
# In order: install; the long suite's accuracy cells (benchmarks/long_check.yaml) beside the CUDA tests;
# the augmentation arms (benchmarks/augment.py); benchmarks/gpu.py --profile with the label_efficiency
# suite capped at what is left of BUDGET_S (default 560). SUITE_WORKERS=N (default 4) runs both suites
# with the processes executor, N cells sharing the GPU at once.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
budget=${1:-560}
workers=${SUITE_WORKERS:-4}
left() { echo $((budget - SECONDS)); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
{ nvidia-smi -L; python3 -c "import torch, harness; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  echo "installed after ${SECONDS} s"; } 2>&1 | tee "$OUT/env.txt"

# the long suite's accuracy cells (not timed against anything: the CUDA tests share the machine)
( start=$SECONDS
  timeout 230 python3 -m harness.cli run benchmarks/long_check.yaml --device cuda --no-progress --out /tmp/long \
    --executor processes --workers "$workers"
  echo "exit $? after $((SECONDS - start)) s"
  python3 benchmarks/auroc_table.py /tmp/long/results/long_check/results.csv ) > "$OUT/long_check.txt" 2>&1 &
long=$!
# the CUDA tests (they skip on a CPU machine) and the device-choice tests
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/unit/test_device.py tests/unit/test_logreg.py \
  > "$OUT/tests.txt" 2>&1
wait $long
tail -3 "$OUT/tests.txt"; cat "$OUT/long_check.txt" | head -30

# the SSL view augmentation alone: kornia against the fused twins, on the device
timeout 40 python3 benchmarks/augment.py --device cuda --rounds 3 --steps 10 2>&1 | tee "$OUT/augment.txt"

# stage throughput, profile and the label_efficiency suite's wall time (capped at what is left)
cap=$(( $(left) - 110 )); [ "$cap" -lt 30 ] && cap=30
echo "suite cap ${cap} s"
timeout $((cap + 100)) python3 benchmarks/gpu.py --data-root "$BENCH_DATA_ROOT" --device cuda --profile \
  --suite-timeout "$cap" --suite-workers "$workers" --log "$OUT/label_efficiency.log" 2>&1 | tee "$OUT/gpu.md"
echo "session done after ${SECONDS} s"
