"""Breast 10 % probe test AUROC over 30 label subsets on one cached feature set, for several C grids.

Reads the features that `bench run benchmarks/long_breast_subsets.yaml --out OUT` cached (one SimCLR
encoder of the long schedule) and refits the probe (the harness's own `fit_probe`, C chosen on val
AUROC) on each label subset with each grid:

    python benchmarks/probe_c_grid_subsets.py OUT [--data-root DIR]   (DIR: else $BENCH_DATA_ROOT)
"""
import argparse
import glob
import os
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from harness.data import label_subset
from harness.stages.probe import fit_probe

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--data-root", default=os.environ.get("BENCH_DATA_ROOT"))
ap.add_argument("--subsets", type=int, default=30)
args = ap.parse_args()
feats = glob.glob(str(Path(args.out) / ".bench_cache" / "features" / "*" / "*" / "features.npz"))
assert len(feats) == 1, f"expected one cached feature set under {args.out}, found {len(feats)}"
f = np.load(feats[0])
raw = np.load(Path(args.data_root) / "breastmnist.npz")
y = {s: (raw[f"{s}_labels"].reshape(-1) == 0).astype(int) for s in ("train", "val", "test")}  # 0 = malignant
grids = {"default 0.01 .. 10": (0.01, 0.1, 1.0, 10.0),
         "1e-4 .. 10": (1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0),
         "1e-5 .. 10, half decades": tuple(10.0 ** np.arange(-5, 1.01, 0.5))}
print(f"features {feats[0].split('.bench_cache/')[1]}; {args.subsets} label subsets at 10 %")
print("| C grid | mean | std | min | subsets >= 0.80 | seeds 0, 1, 2 | C chosen (count) |")
print("|---|---|---|---|---|---|---|")
for name, cs in grids.items():
    aucs, chosen = [], []
    for seed in range(args.subsets):
        sub = label_subset(y["train"], 0.1, seed)
        probe, decision = fit_probe(f["train"][sub], y["train"][sub], f["val"], y["val"], cs)
        aucs.append(roc_auc_score(y["test"], decision(f["test"])))
        chosen.append(probe["c"])
    a = np.array(aucs)
    vals, counts = np.unique(chosen, return_counts=True)
    picks = ", ".join(f"{v:.2g}: {c}" for v, c in zip(vals, counts))
    print(f"| {name} | {a.mean():.3f} | {a.std(ddof=1):.3f} | {a.min():.3f} | {(a >= 0.8).sum()}/{len(a)} | "
          f"{', '.join(f'{v:.3f}' for v in a[:3])} | {picks} |")
