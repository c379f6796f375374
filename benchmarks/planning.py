"""Planning scales linearly: validate and dry-run a generated suite of about 100,000 cells.

    python benchmarks/planning.py [--seeds 10]

Writes the suite into a temporary folder (2 datasets x 2 encoders x 5 SSL methods x 4 regimes x 2
augmentations x 7 fractions x SEEDS seeds x 5 calibrators x 2 selectors, minus the cells that
normalise to the same one), then times `bench validate` and `bench run --dry-run` as subprocesses
(wall and CPU seconds). No data and no training are needed.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = """name: planning
version: 1
matrix:
  dataset: [breastmnist, pneumoniamnist]
  encoder: [smallcnn, resnet18]
  ssl: [none, simclr, moco, byol, vicreg]
  regime: [probe, finetune, all, head]
  augmentation: [aug_a, aug_b]
  fraction: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
  seed: {seeds}
  calibrator: [none, temperature, platt, isotonic, beta]
  threshold: [fixed, youden]
"""


def timed(cmd: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = (proc.stdout.strip().splitlines() or [proc.stderr.strip()])[-1]
    return wall, cpu, _no_paths(last)


def _no_paths(text: str) -> str:
    import re

    return re.sub(r"/\S*/(planning\.yaml)", r"\1", text)  # no machine paths in the printed table


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=10)
    args = p.parse_args()
    print(f"command: python benchmarks/planning.py --seeds {args.seeds}")
    print(f"machine: {platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}, "
          f"load average before: {os.getloadavg()[0]:.2f}\n")
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "planning.yaml"
        suite.write_text(SUITE.format(seeds=list(range(args.seeds))))
        bench = [sys.executable, "-m", "harness.cli"]
        rows = []
        for name, cmd in (("bench validate", bench + ["validate", str(suite), "--max-cells", "1000000"]),
                          ("bench run --dry-run", bench + ["run", str(suite), "--dry-run", "--max-cells", "1000000",
                                                           "--out", tmp])):
            wall, cpu, last = timed(cmd)
            rows.append((name, wall, cpu, last))
    print("| command | wall (s) | CPU (s) | last line |")
    print("|---|---:|---:|---|")
    for name, wall, cpu, last in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {last[:110]} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
