#!/bin/bash
# One GPU session's checks, in one command (see docs/benchmarks.md, "GPU"). Run from the repository root
# on a GPU machine whose Python already has torch, timm, scikit-learn, pandas, matplotlib, pluggy and
# pyyaml; the rest comes as wheels in .whl/ (lightly, kornia, kornia-rs, netcal, medmnist and their
# missing requirements) and the MedMNIST files in $BENCH_DATA_ROOT. Writes everything under $OUT.
#   OUT=/some/dir BENCH_DATA_ROOT=/data [SKIP_SMOKE=1] [SUITE_WORKERS=N] bash benchmarks/gpu_session.sh [SUITE_TIMEOUT_S]
# SUITE_WORKERS=N runs the suite with the processes executor, N cells sharing the GPU at once.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
cap=${1:-300}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
{ nvidia-smi -L; python3 -c "import torch, harness; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } 2>&1 | tee "$OUT/env.txt"
# the CUDA tests (they skip on a CPU machine) and the device-choice tests
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/unit/test_device.py tests/unit/test_logreg.py 2>&1 | tail -15 | tee "$OUT/tests.txt"
# every default stage on the GPU, end to end: the smoke suite with --device cuda
[ "${SKIP_SMOKE:-0}" = 1 ] || ( time timeout 150 python3 -m harness.cli run suites/smoke.yaml --device cuda --no-progress --out /tmp/smoke ) > "$OUT/smoke.txt" 2>&1
[ "${SKIP_SMOKE:-0}" = 1 ] || { tail -8 "$OUT/smoke.txt"; python3 - <<'PY' 2>&1 | tee -a "$OUT/smoke.txt"
import glob, json
specs = glob.glob("/tmp/smoke/**/spec.json", recursive=True)
print(len(specs), "spec.json;", sorted({(json.load(open(f)).get("device"), json.load(open(f)).get("numerics")) for f in specs}))
PY
}
# throughput of the stages and the label_efficiency suite's wall time (capped)
timeout $((cap + 200)) python3 benchmarks/gpu.py --data-root "$BENCH_DATA_ROOT" --device cuda --profile \
  --suite-timeout "$cap" --suite-workers "${SUITE_WORKERS:-1}" --log "$OUT/label_efficiency.log" 2>&1 | tee "$OUT/gpu.md"
