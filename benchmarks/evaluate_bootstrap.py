"""The evaluate stage's test-set bootstrap: one metric call per resample against ``Metric.rows``.

    python benchmarks/evaluate_bootstrap.py [--rounds 3]

For Breast's (156) and Pneumonia's (624) test-set sizes, the 95 % CIs the evaluate stage computes by
default (AUROC and accuracy, 1,000 resamples), both forms on the same synthetic labels and scores, arms
interleaved round by round; milliseconds per cell, the ratio, and the largest difference between them.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    from harness.plugins import get_registry
    from harness.stats import bootstrap_ci

    print(f"command: python benchmarks/evaluate_bootstrap.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}; "
          f"1-min load {os.getloadavg()[0]:.2f}\n")
    metrics = [get_registry("metrics").get(n)() for n in ("auroc", "accuracy")]
    print("| test cases | one call per resample, ms | Metric.rows, ms | ratio | largest difference |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in (156, 624):
        rng = np.random.default_rng(n)
        y = (rng.random(n) < 0.3).astype(int)
        s = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
        times = {"scalar": [], "rows": []}
        diff = 0.0
        for _ in range(args.rounds):
            out = {}
            for arm in ("scalar", "rows"):
                t0 = time.perf_counter()
                out[arm] = [bootstrap_ci(y, s, lambda a, b, m=m: m(a, b, 0.5), n_boot=1000, seed=0,
                                         rows=(lambda a, b, m=m: m.rows(a, b, 0.5)) if arm == "rows" else None)
                            for m in metrics]
                times[arm].append(time.perf_counter() - t0)
            diff = max(diff, max(abs(a - b) for x, z in zip(out["scalar"], out["rows"]) for a, b in zip(x, z)))
        a, b = statistics.median(times["scalar"]) * 1e3, statistics.median(times["rows"]) * 1e3
        print(f"| {n} | {a:.0f} | {b:.0f} | {a / b:.0f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
