"""Calibration report: ECE/Brier/NLL before and after each calibrator, reliability diagrams.

Top-label ECE follows Guo et al. 2017, "On Calibration of Modern Neural Networks" (arXiv:1706.04599):
the confidence of the predicted class against how often that class is right, 15 equal-width bins.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._common import (MODEL_AXES, _cell, _dataset_class, _datasets, _get, _link, _md, _model_cells,
                      _model_columns, _model_filter, _model_id, _model_name, _models, _ordered, _predictions,
                      _prefer, _run_dir, _select, _short, _slug, _summary)

if TYPE_CHECKING:  # pragma: no cover
    from . import ReportContext

BINS = 15
MAX_FIGURES = 12  # reliability PNGs per dataset
#: (metric, column header) of the per-dataset table, all on the test split
COLUMNS = (("ece_uncal", "ECE top-label before"), ("ece", "ECE top-label after"),
           ("ece_pos_uncal", "ECE pos. before"), ("ece_pos", "ECE pos. after"),
           ("brier", "Brier after"), ("nll", "NLL after"))
AUROC_COLUMNS = (("auroc_uncal", "AUROC before"), ("auroc", "AUROC after"))


def report(ctx: "ReportContext") -> dict[str, str]:
    """Calibration tables and reliability diagrams per dataset, ECE before/after side by side.

    Args:
        ctx: the suite's results and output folders.

    Returns:
        ``{dataset label: markdown, "comparison": markdown}``; PNGs are written to ``ctx.fig_dir``
        as ``reliability_<dataset>_<model id>_<calibrator>.png``.
    """
    df = ctx.df
    if df.empty:
        return {}
    cols = _model_columns(df)
    by = list(MODEL_AXES) + ["calibrator"]
    metrics = [m for m, _ in COLUMNS + AUROC_COLUMNS]
    test = _summary(df, by, metrics, "test")
    params = sorted({m for m in df["metric"].unique() if str(m).startswith("cal_")})
    fitted = _summary(df, by, params, "val")
    out = {}
    for ds in _datasets(df):
        d = df[df["dataset"] == ds]
        pairs = [(m, c) for m in _models(df, ds) for c in _ordered(_model_filter(d, m)["calibrator"].astype(str))]
        rows = []
        for key, cal in pairs:
            cells = [_cell(test, *key, cal, m) for m, _ in COLUMNS]
            fit = [f"{p[len('cal_'):]}={_get(fitted, *key, cal, p)[0]:.3g}" for p in params
                   if _get(fitted, *key, cal, p)[2]]
            cells.append(", ".join(fit) or "-")
            cells += [_cell(test, *key, cal, m) for m, _ in AUROC_COLUMNS]
            n = max(_get(test, *key, cal, m)[2] for m in metrics)
            rows.append(_model_cells(key, cols) + [cal] + cells + [str(n)])
        head = cols + ["calibrator"] + [h for _, h in COLUMNS] + ["fitted params (mean)"] + \
            [h for _, h in AUROC_COLUMNS] + ["n"]
        cls = _dataset_class(ds)
        pos = f"P({cls.positive_name})" if cls is not None else "P(positive)"
        parts = ["\n## Calibration\n",
                 "Calibrators were fitted on the val split only; every number here is on test. "
                 f"ECE over {BINS} equal-width bins: top-label = confidence of the predicted class "
                 f"(p ≥ 0.5) vs its accuracy; pos. = {pos} vs the positive rate. Before = raw model "
                 "output, after = calibrated. Mean ± std over seeds; n = seeds.\n",
                 _md(head, rows) + "\n"]
        figs = _reliability_figures(ctx, ds, [p for p in pairs if p[1] != "none"])
        if figs:
            parts.append(figs)
        out[ds] = "\n".join(parts)
    out["comparison"] = _comparison(df, test, cols)
    return out


def _reliability_figures(ctx: "ReportContext", ds: str, pairs: list[tuple]) -> str:
    """One before/after reliability PNG per (model, calibrator), lowest seed, test split."""
    if not pairs:
        return ""
    chosen = _prefer(pairs, MAX_FIGURES)
    lines = []
    seed_used = None
    d = ctx.df[ctx.df["dataset"] == ds]
    for key, cal in [p for p in pairs if p in chosen]:
        cell = _select(_model_filter(d, key), calibrator=cal)
        seed = int(cell["seed"].min())
        cell = cell[cell["seed"] == seed]
        run = _run_dir(ctx, cell[cell["threshold"].astype(str) == str(cell["threshold"].iloc[0])])
        if run is None or not (run / "predictions.csv").is_file():
            continue
        p = _predictions(run, "test")
        name = f"reliability_{ds}_{_model_id(key)}_{_slug(cal)}.png"
        reliability_figure(p["is_positive"].to_numpy(), p["prob_positive_uncalibrated"].to_numpy(),
                           p["prob_positive"].to_numpy(), ctx.fig_dir / name,
                           title=f"{ds}: {_model_name(key)}, calibrator {cal} (test, seed {seed})")
        seed_used = seed if seed_used is None else min(seed_used, seed)
        lines.append(f"![{_model_name(key)} / {cal}]({_link('figures/' + name)})")
    if not lines:
        return ""
    capped = f" Showing {len(lines)} of {len(pairs)} (fractions 1 and 0.1 first)." if len(pairs) > len(chosen) else ""
    return (f"Reliability diagrams (top-label, test split, seed {seed_used}; left before, right after "
            f"calibration; confidence histogram underneath).{capped}\n\n" + "\n".join(lines) + "\n")


def reliability_figure(labels: np.ndarray, before: np.ndarray, after: np.ndarray, path: Path,
                       title: str = "") -> None:
    """Top-label reliability diagram with a confidence histogram underneath, before | after.

    Args:
        labels: 1 for the positive class, 0 otherwise.
        before: P(positive) from the model.
        after: P(positive) after calibration.
        path: the PNG written.
        title: figure title.
    """
    from ..calibration import reliability_bins

    from ..figures import _plt, _save

    plt = _plt()
    y = np.asarray(labels).astype(np.int64)
    fig = plt.figure(figsize=(9, 5.2))
    gs = fig.add_gridspec(2, 2, height_ratios=[3, 1], hspace=0.08, wspace=0.25)
    for col, (name, probs) in enumerate((("before", before), ("after", after))):
        p = np.asarray(probs, dtype=np.float64)
        b = reliability_bins(y, p, bins=BINS, binning="equal_width", form="top_label")
        edges, count = b["edges"], b["count"]
        left, width, filled = edges[:-1], np.diff(edges), count > 0
        conf = np.where(p >= 0.5, p, 1.0 - p)
        acc = float(np.mean((p >= 0.5) == (y == 1)))
        lo = max(0.0, min(edges[np.searchsorted(edges, 0.5, side="right") - 1], acc - 0.03))
        ax = fig.add_subplot(gs[0, col])
        axh = fig.add_subplot(gs[1, col], sharex=ax)
        ax.bar(left[filled], b["accuracy"][filled], width[filled], align="edge", color="C0", edgecolor="k",
               lw=0.5, label="accuracy")
        ax.bar(left[filled], (b["confidence"] - b["accuracy"])[filled], width[filled],
               bottom=b["accuracy"][filled], align="edge", color="C3", alpha=0.3, hatch="//", edgecolor="C3",
               lw=0.5, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect calibration")
        ax.set_xlim(lo, 1.0)
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy")
        ax.set_title(f"{name}: ECE {b['ece']:.3f}, MCE {b['mce']:.3f}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        ax.tick_params(labelbottom=False)
        axh.bar(left, count, width, align="edge", color="grey", edgecolor="k", lw=0.5)
        axh.axvline(conf.mean(), color="C1", ls="--", lw=1, label=f"mean confidence {conf.mean():.2f}")
        axh.axvline(acc, color="C2", lw=1, label=f"accuracy {acc:.2f}")
        axh.set_xlabel("top-label confidence")
        axh.set_ylabel("count")
        axh.legend(fontsize=6, loc="upper left")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def _comparison(df, test: dict, cols: list[str]) -> str:
    """ECE before/after per model x calibrator, datasets side by side."""
    datasets = _datasets(df)
    keys = _ordered((k[1:], c) for ds in datasets for k in _models(df, ds)
                    for c in _ordered(_model_filter(df, k)["calibrator"].astype(str)))
    rows = []
    for rest, cal in keys:
        cells = [_cell(test, ds, *rest, cal, m) for m in ("ece_uncal", "ece") for ds in datasets]
        rows.append(_model_cells(("",) + rest, cols) + [cal] + cells)
    head = cols + ["calibrator"] + [f"ECE {w} [{_short(ds)}]" for w in ("before", "after") for ds in datasets]
    return (f"\n## Calibration: ECE before/after, {' vs '.join(_short(ds) for ds in datasets)}\n\n"
            f"Top-label ECE ({BINS} equal-width bins) on test, mean ± std over seeds; calibrators fitted on "
            "val only.\n\n" + _md(head, rows) + "\n")


__all__ = ["report", "reliability_figure"]
