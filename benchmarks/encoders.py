"""The cost of one cell of ``suites/encoders.yaml`` per encoder and dataset, on this machine.

For each encoder of the suite (side by side, in interleaved rounds so that background load hits
every arm alike) it times what the train stage does per epoch, with the stage's own pieces:
``build_model`` (backbone + linear head), the cell's augmentation, AdamW and BCE on batches of the
suite's size (a training step), and ``batched_forward`` over the val split (per-epoch model
selection). A cell's cost is then ``epochs x (steps per epoch x step + val scoring) + test scoring``
with the suite's own epochs and the stage's batching (at least ``min_steps_per_epoch`` steps).

Usage::

    python benchmarks/encoders.py [--suite suites/encoders.yaml] [--data-root DIR] [--steps 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default=str(ROOT / "suites" / "encoders.yaml"))
    ap.add_argument("--data-root", default=os.environ.get("BENCH_DATA_ROOT"))
    ap.add_argument("--steps", type=int, default=3, help="timed training steps per arm and round")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    from harness.data import load_splits
    from harness.stages.train import build_model
    from harness.suite import load_suite
    from harness.tensors import as_uint8_tensor, batched_forward, normalize, set_threads, to_unit

    set_threads()
    suite = load_suite(args.suite)
    cells = {}  # (dataset, encoder label) -> one RunSpec
    for run in suite.runs:
        cells.setdefault((run.dataset.name, run.encoder.label()), run)
    datasets = sorted({d for d, _ in cells})
    encoders = list(dict.fromkeys(e for _, e in cells))
    splits = {d: load_splits(next(r.dataset for (dd, _), r in cells.items() if dd == d), args.data_root) for d in datasets}
    print(f"machine: {platform.machine()}, nproc={os.cpu_count()}, torch {torch.__version__} threads={torch.get_num_threads()}, "
          f"python {platform.python_version()}")
    print(f"suite: {Path(args.suite).name}; {args.steps} timed steps x {args.rounds} rounds per arm after 1 warm-up step; "
          f"1-min load before: {os.getloadavg()[0]:.2f}")

    # one model per encoder (the step time does not depend on the dataset: same batch, same 28 px)
    run0 = {e: next(r for (d, ee), r in cells.items() if ee == e) for e in encoders}
    arms = {}
    for e, run in run0.items():
        torch.manual_seed(0)
        model = build_model(run, 1, 28)
        aug = run.augmentation.build().build()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        arms[e] = (model, aug, opt, run.settings_for("train").batch_size)
    x_all = as_uint8_tensor(np.ascontiguousarray(splits[datasets[0]]["train"].images))
    y_all = torch.as_tensor(splits[datasets[0]]["train"].labels, dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(0)

    def step(e):
        model, aug, opt, bs = arms[e]
        model.train()
        idx = torch.randint(0, len(x_all), (bs,), generator=gen)
        with torch.no_grad():
            xb = normalize(aug(to_unit(x_all[idx])))
        loss = loss_fn(model(xb).float().reshape(-1), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step_s = {e: [] for e in encoders}
    score_s = {e: {d: [] for d in datasets} for e in encoders}
    for e in encoders:
        step(e)  # warm-up
    for _ in range(args.rounds):
        for e in encoders:
            t = time.perf_counter()
            for _ in range(args.steps):
                step(e)
            step_s[e].append((time.perf_counter() - t) / args.steps)
            for d in datasets:
                t = time.perf_counter()
                batched_forward(arms[e][0], splits[d]["val"].images)
                score_s[e][d].append((time.perf_counter() - t) / len(splits[d]["val"].images))

    base = encoders[0]
    print()
    print("| encoder | train step (s) | step / " + base + " | " +
          " | ".join(f"{d} cell (min)" for d in datasets) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in datasets) + " |")
    total = 0.0
    for e in encoders:
        st = float(np.median(step_s[e]))
        row = [f"{st:.3f}", f"{st / np.median(step_s[base]):.1f}x"]
        for d in datasets:
            run = cells[(d, e)]
            tr = run.settings_for("train")
            n_train = math.floor(len(splits[d]["train"].labels) * run.fraction) or 1
            steps = max(math.ceil(n_train / min(tr.batch_size, n_train)), tr.min_steps_per_epoch)
            per_img = float(np.median(score_s[e][d]))
            cell = tr.epochs * (steps * st + len(splits[d]["val"].labels) * per_img) + len(splits[d]["test"].labels) * per_img
            n_cells = sum(1 for r in suite.runs if r.dataset.name == d and r.encoder.label() == e)
            total += cell * n_cells
            row.append(f"{cell / 60:.1f} ({tr.epochs} ep x {steps} steps)")
        print(f"| {e} | " + " | ".join(row) + " |")
    print(f"\nwhole suite ({len(suite.runs)} cells): {total / 3600:.1f} h; 1-min load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
