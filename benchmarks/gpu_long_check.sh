#!/bin/bash
# The long suite's accuracy cells on a GPU (benchmarks/long_check.yaml, seed 0, then
# long_check_seeds.yaml, seeds 0-2, seed 0 from the cache), each cell's test AUROC printed. Same
# install as benchmarks/gpu_session.sh (wheels in .whl/, data in $BENCH_DATA_ROOT); writes under $OUT.
#   OUT=/some/dir BENCH_DATA_ROOT=/data bash benchmarks/gpu_long_check.sh [BUDGET_S]
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
budget=${1:-285}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
for s in long_check long_check_seeds; do
  [ "$s" = long_check ] && { cap=120; w=4; } || { cap=$((budget - SECONDS)); w=8; }
  t=$SECONDS
  timeout "$cap" python3 -W ignore::SyntaxWarning -m harness.cli run "benchmarks/$s.yaml" --device cuda --no-progress \
    --out /tmp/long --executor processes --workers "$w" 2>&1 | tee -a "$OUT/long.txt"
  echo "$s: exit ${PIPESTATUS[0]} after $((SECONDS - t)) s with $w workers (cap $cap s)" | tee -a "$OUT/long.txt"
  python3 benchmarks/auroc_table.py "/tmp/long/results/$s/results.csv" 2>&1 | tee -a "$OUT/long.txt"
  for d in breastmnist pneumoniamnist; do cp "/tmp/long/leaderboards/$s/$d.md" "$OUT/$s-$d.md" 2>/dev/null; done
done
