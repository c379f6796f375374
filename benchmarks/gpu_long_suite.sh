#!/bin/bash
# The whole long suite (suites/label_efficiency_long.yaml: 162 cells, 12 pretrainings, 54 trainings) on one GPU, inside a fixed time,
# resumable. Same install as benchmarks/gpu_session.sh (wheels in .whl/, the MedMNIST files in
# $BENCH_DATA_ROOT); writes under $OUT.
#   OUT=/some/dir BENCH_DATA_ROOT=/data [SUITE_WORKERS=8] bash benchmarks/gpu_long_suite.sh [BUDGET_S]
# The stage cache lives in .gpu_long/ under the repository root (ignored by git), so a second call on
# the same warm machine resumes where the first was cut off; each call appends its wall time to
# $OUT/long_suite.txt, and the suite's wall time is the sum of the calls' `bench run` times. At the end:
# each cell's test AUROC (benchmarks/auroc_table.py) and the two leaderboards.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
budget=${1:-560}
workers=${SUITE_WORKERS:-8}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
echo "installed after ${SECONDS} s" | tee -a "$OUT/long_suite.txt"
cap=$((budget - SECONDS - 40)); [ "$cap" -lt 30 ] && cap=30
python3 -m harness.cli run suites/label_efficiency_long.yaml --dry-run --out .gpu_long | tail -1 \
  | tee -a "$OUT/long_suite.txt"
t=$SECONDS
# --threads share: 8 workers of 16 threads each would put 128 CPU threads on 16 cores
timeout "$cap" python3 -W ignore::SyntaxWarning -m harness.cli run suites/label_efficiency_long.yaml \
  --device cuda --no-progress --out .gpu_long --executor processes --workers "$workers" --threads share \
  > "$OUT/long_suite.log" 2>&1
rc=$?
echo "label_efficiency_long: exit $rc after $((SECONDS - t)) s with $workers workers (cap $cap s; 124: cut off, call again to resume)" \
  | tee -a "$OUT/long_suite.txt"
tail -5 "$OUT/long_suite.log"
if [ -f .gpu_long/results/label_efficiency_long/results.csv ]; then
  python3 benchmarks/auroc_table.py .gpu_long/results/label_efficiency_long/results.csv > "$OUT/long_suite_auroc.txt" 2>&1
  tail -40 "$OUT/long_suite_auroc.txt"
  for d in breastmnist pneumoniamnist; do cp ".gpu_long/leaderboards/label_efficiency_long/$d.md" "$OUT/" 2>/dev/null; done
fi
