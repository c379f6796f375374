"""Print each cell's test AUROC (uncalibrated, clean) from a suite's results.csv, one line per cell.

    python benchmarks/auroc_table.py OUT/results/SUITE/results.csv
"""
import sys

import pandas as pd

df = pd.read_csv(sys.argv[1])
sel = df[(df.split == "test") & (df.metric == "auroc") & (df.stat == "value") & (df.condition == "clean")
         & (df.calibrated.astype(str) == "False")]
cols = [c for c in ("dataset", "encoder", "ssl", "regime", "fraction", "seed") if c in sel]
out = sel[cols + ["value"]].sort_values(cols)
print(out.to_string(index=False))
agg = out.groupby([c for c in cols if c != "seed"])["value"].agg(["mean", "std", "count"])
print(agg.round(4).to_string())
