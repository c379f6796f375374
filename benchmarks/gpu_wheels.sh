#!/bin/bash
# Fetch, into .whl/, the wheels that benchmarks/gpu_*.sh install on a GPU machine whose Python (3.12)
# already has torch, timm, scikit-learn, pandas, matplotlib, pluggy, pyyaml, tqdm, opt-einsum and
# gpytorch but not these: the packages the harness imports and that image lacks (found by importing
# every plugin and diffing sys.modules against the image's package list), at constraints.txt's versions.
# Run here, where pip can reach the registry; keep .whl/ out of git (`echo /.whl/ >> .git/info/exclude`).
# Also copies the two MedMNIST files into .devdata/ (ignored: *.npz) when ../shared/data/medmnist has
# them, so that a device call can carry both folders and run with BENCH_DATA_ROOT=.devdata.
#   bash benchmarks/gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
pin() { grep -i -E "^$1==" constraints.txt | head -1; }
pkgs=()
for p in lightly kornia kornia_rs netcal medmnist pyro-ppl pyro-api; do
  v=$(pin "$p") || { echo "gpu_wheels: $p is not pinned in constraints.txt" >&2; exit 1; }
  pkgs+=("$v")
done
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${pkgs[@]}"
ls .whl
src=../shared/data/medmnist
if [ -f "$src/breastmnist.npz" ] && [ -f "$src/pneumoniamnist.npz" ]; then
  mkdir -p .devdata && cp "$src/breastmnist.npz" "$src/pneumoniamnist.npz" .devdata/ && ls .devdata
fi
