"""Stage reuse vs a naive pipeline, probe-grid time and rerun time for a finished suite.

Reads the measured stage timings that a finished ``bench run`` left in the stage cache and compares
the harness (one SSL pretraining per encoder, features extracted once per encoder and shared by every
probe) with a naive pipeline that pretrains once per downstream cell and re-extracts features for
every probe. Then it times, live: feature extraction for one encoder, the 6-fraction x 3-seed probe
grid from cached features, and a full rerun of the finished suite.

    python benchmarks/reuse.py suites/label_efficiency.yaml --data-root ../shared/data/medmnist
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("suite")
    p.add_argument("--data-root", default=os.environ.get("BENCH_DATA_ROOT"))
    p.add_argument("--out", default=".")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--skip-rerun", action="store_true")
    args = p.parse_args()

    import numpy as np

    from harness.data import label_subset, load_splits, positive_labels
    from harness.execute import cache_dir_for
    from harness.runner import cell_graph
    from harness.store import Store
    from harness.suite import load_suite

    suite = load_suite(args.suite)
    store = Store(cache_dir_for(Path(args.out), args.cache_dir))
    print(f"machine: {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}")

    pretrain_s: dict[str, float] = {}
    model_s: dict[str, float] = {}
    missing = 0
    per_dataset = defaultdict(lambda: {"naive": 0.0, "harness": 0.0, "probe_cells": 0, "encoders": set(),
                                       "features": set()})
    cells = []
    from harness import get_registry

    stages = get_registry("stages")
    for r in suite.runs:
        nodes = cell_graph(r, store)
        model = next(n for n in nodes if stages.get(n).role == "model")
        k = {"pretrain": nodes["pretrain"].key if "pretrain" in nodes else None, "model": nodes[model].key,
             "model_stage": model, "features": nodes["features"].key if "features" in nodes else None}
        if not store.has(model, k["model"]) or (k["pretrain"] and not store.has("pretrain", k["pretrain"])):
            missing += 1
            continue
        if k["pretrain"]:
            pretrain_s[k["pretrain"]] = json.loads((store.path("pretrain", k["pretrain"]) / "loss.json").read_text())["seconds"]
        model_s[k["model"]] = json.loads((store.path(model, k["model"]) / "train.json").read_text())["train_seconds"]
        cells.append((r, k))
    if missing:
        print(f"warning: {missing} cells are not cached; run the suite first for complete numbers")

    # Feature extraction is timed live once per dataset (its cost does not depend on the weights).
    feat_s = {}
    import torch

    from harness.stages.probe import fit_probe
    from harness.tensors import batched_forward, set_threads

    set_threads()
    grid = {}
    for ds in suite.datasets:
        splits = load_splits(ds, args.data_root)
        enc = next(r.encoder for r, _ in cells if r.dataset == ds)
        backbone = enc.build().build(1)
        t0 = time.perf_counter()
        feats = {s: batched_forward(backbone, splits[s].images).astype(np.float32) for s in ("train", "val", "test")}
        feat_s[ds.label()] = time.perf_counter() - t0
        # the probe grid: 6 fractions x 3 seeds from cached features
        probe_runs = [r for r, _ in cells if r.dataset == ds and r.regime == "probe"]
        if probe_runs:
            base = probe_runs[0]
            pos = base.dataset.build().positive_label
            y = {s: positive_labels(splits[s].labels, pos) for s in ("train", "val", "test")}
            fracs = sorted({r.fraction for r in probe_runs})
            seeds = sorted({r.seed for r in probe_runs})
            cs = base.probe.cs
            t0 = time.perf_counter()
            for f in fracs:
                for s in seeds:
                    sub = label_subset(y["train"], f, s)
                    fit_probe(feats["train"][sub], y["train"][sub], feats["val"], y["val"], cs, base.probe.max_iter)
            grid[ds.label()] = (len(fracs) * len(seeds), time.perf_counter() - t0)

    for r, k in cells:
        d = per_dataset[r.dataset.label()]
        pre = pretrain_s.get(k["pretrain"], 0.0)
        fe = feat_s[r.dataset.label()] if k["features"] else 0.0
        d["naive"] += pre + fe + model_s[k["model"]]
        d["harness"] += model_s[k["model"]]
        if k["pretrain"]:
            d["encoders"].add(k["pretrain"])
        if k["features"]:
            d["features"].add(k["features"])
    for ds, d in per_dataset.items():
        d["harness"] += sum(pretrain_s[e] for e in d["encoders"]) + len(d["features"]) * feat_s[ds]

    print(f"\nsuite {suite.name}: {len(cells)} cached cells; SSL pretrainings: {len(pretrain_s)} "
          f"({sum(pretrain_s.values()) / 60:.1f} min measured)\n")
    print("| dataset | naive pipeline (min) | this harness (min) | ratio | probe grid from cached features |")
    print("| --- | ---: | ---: | ---: | --- |")
    tot_n = tot_h = 0.0
    for ds, d in per_dataset.items():
        n, h = d["naive"] / 60, d["harness"] / 60
        tot_n, tot_h = tot_n + n, tot_h + h
        g = grid.get(ds)
        gtxt = f"{g[0]} fits in {g[1]:.1f} s" if g else "-"
        print(f"| {ds} | {n:.1f} | {h:.1f} | {n / h:.1f}x | {gtxt} |")
    print(f"| all | {tot_n:.1f} | {tot_h:.1f} | {tot_n / tot_h:.1f}x | |")
    print("\nnaive = every downstream cell pretrains its own encoder and every probe re-extracts features;"
          "\nboth columns use this run's measured stage times (features timed live: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in feat_s.items()) + ").")

    if not args.skip_rerun:
        cmd = [sys.executable, "-m", "harness.cli", "run", args.suite, "--out", args.out, "--no-progress"]
        if args.data_root:
            cmd += ["--data-root", args.data_root]
        if args.cache_dir:
            cmd += ["--cache-dir", args.cache_dir]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        print(f"\nrerun of the finished suite: {time.perf_counter() - t0:.1f} s wall "
              f"(exit {out.returncode}): {out.stdout.strip().splitlines()[0] if out.stdout else out.stderr[-300:]}")


if __name__ == "__main__":
    main()
