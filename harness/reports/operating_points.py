"""Operating-points report: each threshold selector's test operating point, ROC/PR curves, PR vs ROC.

Thresholds are chosen on val by the selector and applied unchanged to test, so the gaps
(test - val TPR/FPR at that threshold) show how well an operating point transfers. On imbalanced
data the PR curve is the more informative view of the positive class (Saito & Rehmsmeier 2015,
PLoS ONE 10(3): e0118432, doi:10.1371/journal.pone.0118432): a no-skill model's PR-AUC is the
prevalence, not 0.5.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._common import (MODEL_AXES, _best_model_cells, _cell, _dataset_class, _datasets, _get, _link, _md, _model_cells,
                      _model_columns, _model_filter, _model_name, _models, _ordered, _predictions, _prefer,
                      _reference_calibrator, _run_dir, _seed_cells, _short, _summary, _threshold)

if TYPE_CHECKING:  # pragma: no cover
    from . import ReportContext

MAX_MODELS = 8  # curves overlaid in one ROC/PR figure
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
#: (metric, header) of the per-dataset table (test split)
RATES = (("threshold", "threshold"), ("recall", "TPR"), ("fpr", "FPR"), ("precision", "precision"),
         ("npv", "NPV"), ("f1", "F1"), ("accuracy", "accuracy"), ("balanced_accuracy", "bal. acc."),
         ("tpr_gap", "TPR gap"), ("fpr_gap", "FPR gap"))
COUNTS = (("tp", "TP"), ("fp", "FP"), ("tn", "TN"), ("fn", "FN"))
COMPARE = (("recall", "TPR"), ("fpr", "FPR"), ("precision", "precision"), ("f1", "F1"),
           ("tpr_gap", "TPR gap"), ("fpr_gap", "FPR gap"))


def report(ctx: "ReportContext") -> dict[str, str]:
    """Operating-point tables, ROC/PR figure, confusion-matrix grid and PR-vs-ROC table per dataset.

    Args:
        ctx: the suite's results and output folders.

    Returns:
        ``{dataset label: markdown, "comparison": markdown}``; writes ``roc_pr_<dataset>.png`` and
        ``confusion_<dataset>.png`` to ``ctx.fig_dir``.
    """
    df = ctx.df
    if df.empty:
        return {}
    cols = _model_columns(df)
    cal_col = df["calibrator"].nunique() > 1  # a row never averages two calibrators
    by = list(MODEL_AXES) + ["calibrator", "threshold"]
    summary = _summary(df, by, [m for m, _ in RATES + COUNTS], "test")
    out = {}
    for ds in _datasets(df):
        d = df[df["dataset"] == ds]
        keys = _ordered((k, c, t) for k in _models(df, ds) for c, t in
                        _model_filter(d, k)[["calibrator", "threshold"]].astype(str).itertuples(index=False))
        rows = []
        for key, cal, thr in keys:
            cells = [_cell(summary, *key, cal, thr, m) for m, _ in RATES]
            cells += [_count(summary, *key, cal, thr, m) for m, _ in COUNTS]
            n = max(_get(summary, *key, cal, thr, m)[2] for m, _ in RATES)
            rows.append(_model_cells(key, cols) + ([cal] if cal_col else []) + [thr] + cells + [str(n)])
        head = cols + (["calibrator"] if cal_col else []) + ["selector"] + [h for _, h in RATES] + \
            [f"{h} (mean)" for _, h in COUNTS] + ["n"]
        parts = ["\n## Operating points\n",
                 "Each selector picks its threshold on val (on the calibrated val probabilities); the "
                 "threshold is then applied unchanged to test. TPR = recall of the positive class. "
                 "Gap = test − val at that threshold. Mean ± std over seeds; counts are means over seeds.\n",
                 _md(head, rows) + "\n"]
        roc = roc_pr_figure(ctx, ds)
        if roc:
            parts.append(roc)
        cm = confusion_grid(ctx, ds)
        if cm:
            parts.append(cm)
        parts.append(_pr_vs_roc(df, ds, cols))
        out[ds] = "\n".join(parts)
    out["comparison"] = _comparison(df, summary, cols, cal_col)
    return out


def _count(summary: dict, *key) -> str:
    mean, _, n = _get(summary, *key)
    return f"{mean:.1f}" if n and np.isfinite(mean) else ""


def _operating_point(y: np.ndarray, p: np.ndarray, thr: float) -> tuple[float, float, float]:
    """(FPR, TPR, precision) predicting positive iff ``p >= thr`` (NaN where undefined)."""
    pred = p >= thr
    pos, neg = (y == 1).sum(), (y == 0).sum()
    tp, fp = (pred & (y == 1)).sum(), (pred & (y == 0)).sum()
    return (fp / neg if neg else np.nan, tp / pos if pos else np.nan, tp / (tp + fp) if tp + fp else np.nan)


def roc_pr_figure(ctx: "ReportContext", ds: str) -> str:
    """ROC and PR curves of the positive class on test, models overlaid, selectors' points marked.

    Uses the reference calibrator (``none`` when present) at each model's lowest seed. Returns the
    markdown that embeds the figure, or "" when no run folder holds predictions.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    from ..figures import _plt, _save

    df = ctx.df[ctx.df["dataset"] == ds]
    cal = _reference_calibrator(df)
    models = _models(df)
    chosen = [m for m in models if m in _prefer(models, MAX_MODELS)]
    selectors = _ordered(df["threshold"].astype(str))
    marker = {s: MARKERS[i % len(MARKERS)] for i, s in enumerate(selectors)}
    plt = _plt()
    fig, (a_roc, a_pr) = plt.subplots(1, 2, figsize=(11, 4.6))
    drawn, prevalence, seeds = 0, None, set()
    for i, key in enumerate(chosen):
        cells = _seed_cells(df, key, cal)
        curve = None
        for sel in _ordered(cells["threshold"].astype(str)):
            cell = cells[cells["threshold"].astype(str) == sel]
            run = _run_dir(ctx, cell)
            if run is None or not (run / "predictions.csv").is_file():
                continue
            pr = _predictions(run, "test")
            y, p = pr["is_positive"].to_numpy().astype(int), pr["prob_positive"].to_numpy(dtype=float)
            if y.min() == y.max():
                continue
            color = f"C{i % 10}"
            if curve is None:
                fpr, tpr, _ = roc_curve(y, p)
                prec, rec, _ = precision_recall_curve(y, p)
                auc, ap = roc_auc_score(y, p), average_precision_score(y, p)
                a_roc.plot(fpr, tpr, color=color, lw=1.2, label=f"{_model_name(key)} (AUC {auc:.3f})")
                a_pr.step(rec, prec, where="post", color=color, lw=1.2, label=f"{_model_name(key)} (AP {ap:.3f})")
                curve, prevalence = True, float(y.mean())
                seeds.add(int(cell["seed"].iloc[0]))
                drawn += 1
            x, t, pr_ = _operating_point(y, p, _threshold(cell))
            a_roc.plot([x], [t], marker=marker[sel], color=color, mec="k", ms=8, ls="none")
            if np.isfinite(pr_):
                a_pr.plot([t], [pr_], marker=marker[sel], color=color, mec="k", ms=8, ls="none")
    if not drawn:
        _plt().close(fig)
        return ""
    a_roc.plot([0, 1], [0, 1], "k:", lw=0.8, label="no skill (AUC 0.5)")
    a_pr.axhline(prevalence, color="k", ls=":", lw=0.8, label=f"no skill (AP = prevalence {prevalence:.3f})")
    for s in selectors:  # proxy handles: one legend entry per selector, independent of colour
        a_roc.plot([], [], marker=marker[s], color="lightgrey", mec="k", ls="none", label=f"selector: {s}")
    cls = _dataset_class(ds)
    pos = cls.positive_name if cls is not None else "positive"
    a_roc.set(xlabel="FPR (1 − specificity)", ylabel=f"TPR (recall of {pos})", xlim=(0, 1), ylim=(0, 1.02),
              title="ROC")
    a_pr.set(xlabel=f"recall of {pos}", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision-recall")
    for a in (a_roc, a_pr):
        a.grid(alpha=0.3)
    a_roc.legend(fontsize=7, loc="lower right")
    a_pr.legend(fontsize=7, loc="lower left")
    seed = min(seeds)
    fig.suptitle(f"{ds}: test, positive class {pos}, calibrator {cal}, seed {seed}", fontsize=9)
    name = f"roc_pr_{ds}.png"
    _save(fig, ctx.fig_dir / name)
    capped = f" Showing {len(chosen)} of {len(models)} models (fractions 1 and 0.1 first)." \
        if len(models) > len(chosen) else ""
    return (f"ROC and PR curves of the positive class on test (calibrator {cal}, seed {seed}); markers: "
            f"each selector's operating point at its val-chosen threshold.{capped}\n\n"
            f"![ROC and PR curves]({_link('figures/' + name)})\n")


def confusion_grid(ctx: "ReportContext", ds: str) -> str:
    """One confusion matrix per selector for the best model (highest mean test AUROC), lowest seed."""
    from ..figures import _plt, _save

    found = _best_model_cells(ctx.df, ds)
    if found is None:
        return ""
    best, cal, cells = found
    cells = cells[cells["split"] == "test"]
    selectors = _ordered(cells["threshold"].astype(str))
    mats = []
    for sel in selectors:
        c = cells[cells["threshold"].astype(str) == sel]
        v = {m: c.loc[c["metric"] == m, "value"] for m in ("tp", "fn", "fp", "tn")}
        if any(s.empty for s in v.values()):
            continue
        mats.append((sel, _threshold(c), np.array([[v["tp"].iloc[0], v["fn"].iloc[0]],
                                                   [v["fp"].iloc[0], v["tn"].iloc[0]]])))
    if not mats:
        return ""
    cls = _dataset_class(ds)
    if cls is not None:
        neg = [n for k, n in cls.label_names.items() if k != cls.positive_label][0]
        labels = [f"{cls.positive_name} (+)", neg]
    else:
        labels = ["positive (+)", "negative"]
    plt = _plt()
    fig, axes = plt.subplots(1, len(mats), figsize=(3.2 * len(mats), 3.2), squeeze=False)
    for ax, (sel, thr, cm) in zip(axes[0], mats):
        ax.imshow(cm, cmap="Blues", vmin=0)
        for i in range(2):
            for j in range(2):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
        ax.set_xticks(range(2), labels, fontsize=7)
        ax.set_yticks(range(2), labels, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(f"{sel}\nt = {thr:.3f}", fontsize=8)
    seed = int(cells["seed"].iloc[0])
    fig.suptitle(f"{ds}: {_model_name(best)} (best mean test AUROC), calibrator {cal}, seed {seed}, test",
                 fontsize=9)
    fig.tight_layout()
    name = f"confusion_{ds}.png"
    _save(fig, ctx.fig_dir / name)
    return (f"Confusion matrices on test of the best model by mean test AUROC ({_model_name(best)}; "
            f"calibrator {cal}, seed {seed}), one per selector; rows true, columns predicted.\n\n"
            f"![confusion matrices]({_link('figures/' + name)})\n")


def _pr_vs_roc(df: pd.DataFrame, ds: str, cols: list[str]) -> str:
    """Per model: test prevalence, ROC-AUC, PR-AUC and a no-skill model's PR-AUC (= prevalence)."""
    d = df[df["dataset"] == ds]
    cal = _reference_calibrator(d)
    d = d[d["calibrator"].astype(str) == cal]
    s = _summary(d, list(MODEL_AXES), ["auroc", "pr_auc", "tp", "fn", "fp", "tn"], "test")
    rows = []
    for key in _models(d):
        counts = [_get(s, *key, m)[0] for m in ("tp", "fn", "fp", "tn")]
        total = sum(counts)
        prev = (counts[0] + counts[1]) / total if total and np.isfinite(total) else float("nan")
        p = f"{prev:.3f}" if np.isfinite(prev) else "n/a"
        n = max(_get(s, *key, m)[2] for m in ("auroc", "pr_auc"))
        rows.append(_model_cells(key, cols) + [p, _cell(s, *key, "auroc"), _cell(s, *key, "pr_auc"), p, str(n)])
    cls = _dataset_class(ds)
    pos = cls.positive_name if cls is not None else "the positive class"
    return ("\n### PR vs ROC\n\n"
            f"Positive class: {pos}. A no-skill model has ROC-AUC 0.5 but PR-AUC equal to the test "
            f"prevalence, so PR-AUC is read against that baseline (calibrator {cal}; PR-AUC = average "
            "precision).\n\n"
            + _md(cols + ["test prevalence", "ROC-AUC", "PR-AUC", "no-skill PR-AUC", "n"], rows) + "\n")


def _comparison(df: pd.DataFrame, summary: dict, cols: list[str], cal_col: bool) -> str:
    datasets = _datasets(df)
    keys = _ordered((k[1:], c, t) for ds in datasets for k in _models(df, ds) for c, t in
                    _model_filter(df, k)[["calibrator", "threshold"]].astype(str).itertuples(index=False))
    rows = []
    for rest, cal, thr in keys:
        cells = [_cell(summary, ds, *rest, cal, thr, m) for m, _ in COMPARE for ds in datasets]
        rows.append(_model_cells(("",) + rest, cols) + ([cal] if cal_col else []) + [thr] + cells)
    head = cols + (["calibrator"] if cal_col else []) + ["selector"] + \
        [f"{h} [{_short(ds)}]" for _, h in COMPARE for ds in datasets]
    return (f"\n## Operating points: {' vs '.join(_short(ds) for ds in datasets)}\n\n"
            "Test split at each selector's val-chosen threshold, mean ± std over seeds; gap = test − val.\n\n"
            + _md(head, rows) + "\n")


__all__ = ["report", "roc_pr_figure", "confusion_grid"]
