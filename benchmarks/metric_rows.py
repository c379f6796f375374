"""Bootstrap cost per robustness condition: the metrics' vectorised ``rows`` vs one call per resample.

The robustness stage scores, per condition, every metric on raw and calibrated probabilities for
each paired-bootstrap resample; the study report does the same per model. This times both forms on
the same resamples (Pneumonia's test size) and checks that they agree.

Usage::

    python benchmarks/metric_rows.py [--n 624] [--resamples 200] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ("auroc", "balanced_accuracy", "ece", "recall", "fpr")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=624)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    from harness import get_registry

    reg = get_registry("metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, args.n)
    probs = {cal: np.clip(y * 0.3 + rng.random(args.n) * 0.7, 0, 1) for cal in (False, True)}
    idx = rng.integers(0, args.n, (args.resamples, args.n))
    print(f"machine: {platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}; "
          f"1-min load {os.getloadavg()[0]:.2f}")
    print(f"per condition: {len(METRICS)} metrics x raw/calibrated x {args.resamples} resamples of n={args.n}")
    t = time.perf_counter()
    for _ in range(args.repeat):
        vec = {(m, c): reg.get(m)().rows(y[idx], p[idx], 0.5) for m in METRICS for c, p in probs.items()}
    t_vec = (time.perf_counter() - t) / args.repeat
    t = time.perf_counter()
    loop = {(m, c): np.array([reg.get(m)()(y[i], p[i], 0.5) for i in idx]) for m in METRICS for c, p in probs.items()}
    t_loop = time.perf_counter() - t
    worst = max(float(np.nanmax(np.abs(vec[k] - loop[k]))) for k in vec)
    print(f"| form | ms per condition | row-by-row / this |\n| --- | ---: | ---: |\n"
          f"| Metric.rows (vectorised) | {t_vec * 1000:.0f} | {t_loop / t_vec:.0f}x |\n"
          f"| one metric call per resample | {t_loop * 1000:.0f} | 1x |")
    print(f"largest difference between the two forms: {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
