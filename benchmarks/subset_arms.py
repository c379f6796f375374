"""Compare pretraining recipes by their probe's test AUROC over the same label subsets (paired).

Each arm is one run of a `benchmarks/long_breast_recipes/*.yaml` or `long_pneumonia_recipes/*.yaml` suite (one encoder, 30 label subsets
at 10 %); the first arm is the reference the others are paired against, subset by subset:

    python benchmarks/subset_arms.py [--target 0.97] NAME=OUT/results/SUITE/results.csv [NAME=...] ...

``--target`` (default 0.80, #9's Breast 10 % target) is the AUROC the "subsets >= target" column counts.
"""
import sys

import numpy as np
import pandas as pd


def aurocs(path: str) -> pd.Series:
    df = pd.read_csv(path)
    sel = df[(df.split == "test") & (df.metric == "auroc") & (df.stat == "value") & (df.condition == "clean")
             & (df.calibrated.astype(str) == "False")]
    return sel.groupby("seed")["value"].first()


argv = sys.argv[1:]
target = 0.80
if argv[:1] == ["--target"] and len(argv) > 1:
    target, argv = float(argv[1]), argv[2:]
arms = [a.split("=", 1) for a in argv]
if not arms or any(len(a) != 2 for a in arms):
    sys.exit(__doc__)
ref_name, ref = arms[0][0], aurocs(arms[0][1])
print(f"test AUROC over {len(ref)} label subsets; paired against {ref_name}\n")
print(f"| recipe | mean | std | min | subsets >= {target:.2f} | seeds 0, 1, 2 (their mean) | paired Δ mean ± se | better on |")
print("|---|---|---|---|---|---|---|---|")
for name, path in arms:
    a = aurocs(path)
    if list(a.index) != list(ref.index):
        sys.exit(f"{name}: its subsets (seeds) differ from {ref_name}'s")
    d = a - ref
    paired = "" if name == ref_name else f"{d.mean():+.3f} ± {d.std(ddof=1) / np.sqrt(len(d)):.3f}"
    better = "" if name == ref_name else f"{(d > 0).sum()}/{len(d)}"
    first = a.iloc[:3]
    print(f"| {name} | {a.mean():.3f} | {a.std(ddof=1):.3f} | {a.min():.3f} | {(a >= target).sum()}/{len(a)} | "
          f"{', '.join(f'{v:.3f}' for v in first)} ({first.mean():.3f}) | {paired} | {better} |")
