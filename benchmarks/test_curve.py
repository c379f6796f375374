"""Diagnostic: a supervised cell's val and test AUROC at every epoch, to compare selection rules.

The harness picks the epoch with the best val AUROC and never looks at test. This script trains one
supervised-from-scratch cell (regime ``all``) of a suite exactly as ``bench run`` would (the
``train`` stage itself, with the cell's settings, augmentation and val split) and also scores the test split after every epoch, so that a selection rule (best
val, last epoch) can be judged by where it lands on the test curve. Never select on the test column:
it is here to show what each rule leaves on the table.

    python benchmarks/test_curve.py benchmarks/long_pneumonia_supervised/constant.yaml \
        --data-root DIR --device cpu [--dataset pneumoniamnist] [--seed 1] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

# as `bench run` does, before torch loads: spinning OpenMP threads make a shared CPU 10x slower
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("suite")
    p.add_argument("--data-root", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=None, help="the cell with this seed (default: the first cell)")
    p.add_argument("--dataset", default=None, help="the cell of this dataset (default: any)")
    p.add_argument("--epochs", type=int, default=None, help="override the cell's train epochs")
    p.add_argument("--json", default=None, help="also write the curve here")
    args = p.parse_args(argv)

    import dataclasses

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from harness import load_suite
    from harness.device import resolve
    from harness.runner import run_id
    from harness.stage import StageContext
    from harness.stages import train as train_mod
    from harness.suite import resolve_data_root

    suite = load_suite(args.suite)
    # regime `all` only: a finetune cell starts from a pretrained encoder, an upstream cache entry
    cells = [s for s in suite.runs if s.regime == "all" and (args.seed is None or s.seed == args.seed)
             and (args.dataset is None or s.dataset.name == args.dataset)]
    if not cells:
        print("no supervised-from-scratch cell (regime all) with that seed and dataset", file=sys.stderr)
        return 2
    spec = cells[0]
    st = spec.settings_for("train")
    if args.epochs:
        st = dataclasses.replace(st, epochs=args.epochs)
        spec = spec.replace(train=st)

    test_auroc: list[float] = []
    real = train_mod.batched_forward

    with tempfile.TemporaryDirectory() as tmp:
        # the stage itself, as the runner calls it: same splits (val: match included), labels and subset
        ctx = StageContext(spec=spec, stage="train", out=Path(tmp), data_root=resolve_data_root(args.data_root),
                           device=resolve(args.device))
        val_images, y_test = ctx.splits["val"].images, ctx.y["test"]

        def spying(module, images, *a, **kw):
            out = real(module, images, *a, **kw)
            if images is val_images and len(test_auroc) < st.epochs:  # once per epoch, not the final re-score
                test_auroc.append(float(roc_auc_score(y_test, real(module, ctx.splits["test"].images, *a, **kw))))
            return out

        train_mod.batched_forward = spying
        try:
            train_mod.Train().run(ctx)
        finally:
            train_mod.batched_forward = real
        info = json.loads((Path(tmp) / "train.json").read_text())
        hist = json.loads((Path(tmp) / "history.json").read_text())
        selected_test = float(roc_auc_score(y_test, np.load(Path(tmp) / "predictions.npz")["test_logit"]))
        n_labelled = json.loads((Path(tmp) / "subset.json").read_text())["n"]
    test_auroc = test_auroc[: len(hist["epoch"])]
    print(f"cell: {run_id(spec)}  ({n_labelled} labelled images, {info['train_seconds']:.0f} s)")
    print("| epoch | train loss | val AUROC | test AUROC |\n|---:|---:|---:|---:|")
    for e, tl, va, ta in zip(hist["epoch"], hist["train_loss"], hist["val_auroc"], test_auroc):
        mark = f" (kept: {st.select})" if e == info["best_epoch"] else ""
        print(f"| {e}{mark} | {tl:.4f} | {va:.4f} | {ta:.4f} |")
    last = test_auroc[-1]
    mean_last5 = float(np.mean(test_auroc[-5:]))
    print(f"\ntest AUROC: kept epoch {info['best_epoch']} ({st.select}) {selected_test:.4f}; last epoch {last:.4f}; "
          f"mean of the last five epochs {mean_last5:.4f}; max over epochs {max(test_auroc):.4f} "
          f"(epoch {int(np.argmax(test_auroc)) + 1}, diagnostic only)")
    if args.json:
        Path(args.json).write_text(json.dumps({"cell": run_id(spec), "history": hist, "test_auroc": test_auroc,
                                               "best_epoch": info["best_epoch"], "selected_test": selected_test}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
