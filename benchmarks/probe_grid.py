"""Probe C grid: scikit-learn lbfgs (today's probe stage) vs harness/_logreg.py's Newton solver.

For each dataset, on frozen ResNet-18 features (random init, ``torch.manual_seed(0)``, the real
28 px images normalized as in training; extracted once and cached in ``--feature-cache``), fits the
full probe grid (fractions x seeds x Cs) both ways and reports, per (fraction, seed): the C each
picks on val AUROC, the test AUROC difference at the picked C, and the wall/CPU time of each. An
untimed third arm runs the same scikit-learn pipeline to its optimum (float64, ``tol=1e-10``):
the default lbfgs stop (``tol=1e-4``, float32 features) is itself an approximation, and where val
AUROCs nearly tie it decides the C.

    python benchmarks/probe_grid.py --data-root ../shared/data/medmnist

Random-init features are harder for the probe (slower lbfgs convergence) than SSL features.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def features(dataset: str, data_root: str | None, cache: Path) -> dict:
    """Train/val/test features and positive-class labels, cached as one .npz per dataset."""
    import numpy as np

    path = cache / f"{dataset}_resnet18_random_seed0.npz"
    if not path.is_file():
        import torch

        from harness import get_registry
        from harness.data import positive_labels
        from harness.stages.train import extract_features

        ds = get_registry("datasets").get(dataset)
        splits = ds().load(data_root)
        torch.manual_seed(0)
        enc = get_registry("encoders").get("resnet18")().build(1)
        out = {}
        for s in ("train", "val", "test"):
            out[s] = extract_features(enc, splits[s].images)
            out[f"y_{s}"] = positive_labels(splits[s].labels, ds.positive_label)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(path)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def sklearn_probe(xtr, ytr, xval, yval, cs, max_iter):
    """Today's probe stage (harness/stages/probe.py): one pipeline per C, first strictly best val AUROC."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best, aucs, iters, clfs = None, [], [], []
    for c in cs:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
        clf.fit(xtr, ytr)
        clfs.append(clf)
        iters.append(int(clf[-1].n_iter_[0]))
        val = clf.decision_function(xval)
        auc = float(roc_auc_score(yval, val)) if len(np.unique(yval)) > 1 else float("nan")
        aucs.append(auc)
        if best is None or auc > best[0]:
            best = (auc, c, clf)
    return best[1], best[2], clfs, iters


def converged_sklearn(xtr, ytr, xval, yval, cs):
    """The same pipeline run to its optimum (float64 input, tol 1e-10): the exact answer both approximate."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best = None
    for c in cs:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, tol=1e-10, max_iter=100_000))
        clf.fit(np.asarray(xtr, dtype=np.float64), ytr)
        auc = float(roc_auc_score(yval, clf.decision_function(np.asarray(xval, dtype=np.float64))))
        if best is None or auc > best[0]:
            best = (auc, c, clf)
    return best[1], best[2]


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default=os.environ.get("BENCH_DATA_ROOT"))
    p.add_argument("--feature-cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "probe_grid_features")
    p.add_argument("--datasets", nargs="+", default=["breastmnist", "pneumoniamnist"])
    p.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.02, 0.05, 0.1, 0.2, 1.0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--cs", nargs="+", type=float, default=[0.01, 0.1, 1.0, 10.0])
    p.add_argument("--max-iter", type=int, default=2000, help="scikit-learn's max_iter (the probe default)")
    args = p.parse_args()

    import numpy as np
    import sklearn
    import torch
    from sklearn.metrics import roc_auc_score

    from harness._logreg import fit_probe_grid
    from harness.data import label_subset
    from harness.tensors import set_threads

    set_threads()
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    print(f"machine: {os.cpu_count()}-core CPU VM ({cpu or platform.machine()}), python {platform.python_version()}, "
          f"torch {torch.__version__} threads={torch.get_num_threads()}, scikit-learn {sklearn.__version__}")
    print(f"grid: fractions {args.fractions} x seeds {args.seeds} x C {args.cs}; features: timm resnet18, "
          "random init (seed 0), 28 px\n")

    cs = args.cs
    summary = []
    for name in args.datasets:
        f = features(name, args.data_root, args.feature_cache)
        xtr, ytr, xv, yv, xte, yte = f["train"], f["y_train"], f["val"], f["y_val"], f["test"], f["y_test"]
        cells = [(fr, s, label_subset(ytr, fr, s)) for fr in args.fractions for s in args.seeds]
        # Warm-up both code paths (imports, BLAS/LAPACK start-up) on a small subset.
        fit_probe_grid(xtr, ytr, xv, yv, cs, [cells[0][2]])
        sklearn_probe(xtr[cells[0][2]], ytr[cells[0][2]], xv, yv, cs[:1], args.max_iter)

        def ours_per_cell():
            out, wall, cpu_s = [], [], []
            for _, _, sub in cells:
                t, c = time.perf_counter(), time.process_time()
                out.append(fit_probe_grid(xtr, ytr, xv, yv, cs, [sub])[0])  # as the probe stage calls it
                wall.append(time.perf_counter() - t)
                cpu_s.append(time.process_time() - c)
            return out, wall, cpu_s

        load0 = _load()
        ours, o_wall1, o_cpu1 = ours_per_cell()
        sk, s_wall, s_cpu = [], [], []
        for _, _, sub in cells:
            t, c = time.perf_counter(), time.process_time()
            sk.append(sklearn_probe(xtr[sub], ytr[sub], xv, yv, cs, args.max_iter))
            s_wall.append(time.perf_counter() - t)
            s_cpu.append(time.process_time() - c)
        _, o_wall2, o_cpu2 = ours_per_cell()  # again after the sklearn arm: contention drifts
        t = time.perf_counter()
        fit_probe_grid(xtr, ytr, xv, yv, cs, [sub for _, _, sub in cells])
        batched = time.perf_counter() - t
        load1 = _load()

        print(f"## {name}: train {xtr.shape}, val {len(yv)}, test {len(yte)}\n")
        print("| fraction | seed | n | C: sklearn / converged / ours | test AUROC: sklearn / converged / ours "
              "| ours - sklearn | ours - converged | lbfgs iters (max) | Newton steps / Hessians | sklearn s | ours s |")
        print("| ---: | ---: | ---: | :---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        agree = agree_conv = 0
        diffs, diffs_conv, conv_cache = [], [], {}
        for i, (fr, s, sub) in enumerate(cells):
            c_sk, clf, _, iters = sk[i]
            fit = ours[i]
            key = sub.tobytes()
            if key not in conv_cache:  # untimed: the exact optimum, to tell solver error from C choice
                conv_cache[key] = converged_sklearn(xtr[sub], ytr[sub], xv, yv, cs)
            c_cv, clf_cv = conv_cache[key]
            a_sk = roc_auc_score(yte, clf.decision_function(xte))
            a_cv = roc_auc_score(yte, clf_cv.decision_function(xte.astype(np.float64)))
            a_us = roc_auc_score(yte, fit.decision_function(xte))
            agree += c_sk == fit.c
            agree_conv += c_cv == fit.c
            diffs.append(abs(a_us - a_sk))
            diffs_conv.append(abs(a_us - a_cv))
            ow = (o_wall1[i] + o_wall2[i]) / 2
            print(f"| {fr:g} | {s} | {len(sub)} | {c_sk:g} / {c_cv:g} / {fit.c:g} | {a_sk:.4f} / {a_cv:.4f} / {a_us:.4f} "
                  f"| {a_us - a_sk:+.4f} | {a_us - a_cv:+.4f} | {max(iters)} | {fit.n_iter.sum()} / {fit.n_hessian.sum()} "
                  f"| {s_wall[i]:.2f} | {ow:.2f} |")
        sw, ow = sum(s_wall), (sum(o_wall1) + sum(o_wall2)) / 2
        sc, oc = sum(s_cpu), (sum(o_cpu1) + sum(o_cpu2)) / 2
        print(f"\n{name}: same C as sklearn {agree}/{len(cells)}, as converged sklearn {agree_conv}/{len(cells)}; "
              f"max |test AUROC diff| vs sklearn {max(diffs):.4f}, vs converged sklearn {max(diffs_conv):.4f}; "
              f"sklearn {sw:.1f} s wall ({sc:.1f} s CPU), ours per cell {ow:.2f} s wall ({oc:.2f} s CPU; runs "
              f"{sum(o_wall1):.2f} and {sum(o_wall2):.2f} s), all {len(cells)} subsets in one call {batched:.2f} s; "
              f"wall ratio {sw / ow:.0f}x, CPU ratio {sc / oc:.0f}x (1-min load {load0} before, {load1} after)\n")
        summary.append((name, agree, agree_conv, len(cells), max(diffs), max(diffs_conv), sw, ow, batched))

    print("| dataset | same C: sklearn / converged | max abs test AUROC diff: sklearn / converged "
          "| sklearn grid (s) | ours per cell (s) | ours one call (s) | wall ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, agree, agree_cv, n, d, d_cv, sw, ow, b in summary:
        print(f"| {name} | {agree}/{n} / {agree_cv}/{n} | {d:.4f} / {d_cv:.4f} | {sw:.1f} | {ow:.2f} | {b:.2f} "
              f"| {sw / ow:.0f}x |")


if __name__ == "__main__":
    main()
