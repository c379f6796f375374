"""High-confidence error galleries: the best model's most confident false positives and negatives.

For each dataset, the model with the highest mean test AUROC is taken at its lowest seed with the
reference calibrator (``none`` when present). At each threshold selector's val-chosen threshold, the
k test false positives with the highest P(positive) and the k false negatives with the lowest are
shown with their images, and listed in a CSV whose blank ``note`` column is for a reader's error
taxonomy (what the model gets confidently wrong, and why).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._common import (_best_model_cells, _dataset_class, _datasets, _link, _model_name, _ordered, _predictions, _run_dir,
                      _slug, _threshold)

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from . import ReportContext

K = 8  # errors of each kind per gallery
MAX_SELECTORS = 4  # more selectors than this: only the first non-fixed one gets a gallery
CSV_COLUMNS = ["kind", "rank", "index", "prob_positive", "true_label", "pred_label", "note"]


def report(ctx: "ReportContext") -> dict[str, str]:
    """Error galleries (PNG) and taxonomy sheets (CSV) per dataset and selector.

    Args:
        ctx: the suite's results and output folders; ``ctx.load_split`` supplies the test images.

    Returns:
        ``{dataset label: markdown}``; writes ``errors_<dataset>_<selector>.png`` and ``.csv`` to
        ``ctx.fig_dir``.
    """
    df = ctx.df
    out = {}
    for ds in _datasets(df):
        section = _dataset_section(ctx, ds)
        if section:
            out[ds] = section
    return out


def _selectors(names: list[str]) -> list[str]:
    if len(names) <= MAX_SELECTORS:
        return names
    non_fixed = [s for s in names if s.split("(")[0] != "fixed"]
    return non_fixed[:1] or names[:1]


def _label_names(ds: str) -> tuple[dict, int, str]:
    """(label -> name, positive label, negative class name) from the dataset plugin."""
    cls = _dataset_class(ds)
    if cls is None:
        return {0: "negative", 1: "positive"}, 1, "negative"
    names = dict(cls.label_names)
    neg = [n for k, n in names.items() if k != cls.positive_label][0]
    return names, int(cls.positive_label), neg


def top_errors(pred: pd.DataFrame, threshold: float, k: int, label_names: dict, positive_label: int) -> pd.DataFrame:
    """The k most confident false positives and false negatives at ``threshold``.

    Args:
        pred: one split of a run's ``predictions.csv`` (index, label, is_positive, prob_positive).
        threshold: predict positive iff ``prob_positive >= threshold``.
        k: errors of each kind.
        label_names: original dataset label -> name.
        positive_label: the dataset's positive label.

    Returns:
        Rows with CSV_COLUMNS: FPs by descending ``prob_positive``, then FNs by ascending; ties by index.
    """
    neg_name = [n for lab, n in label_names.items() if lab != positive_label][0]
    pos_name = label_names[positive_label]
    predicted = pred["prob_positive"] >= threshold
    fp = pred[predicted & (pred["is_positive"] == 0)].sort_values(["prob_positive", "index"],
                                                                  ascending=[False, True], kind="stable")
    fn = pred[~predicted & (pred["is_positive"] == 1)].sort_values(["prob_positive", "index"],
                                                                   ascending=[True, True], kind="stable")
    rows = []
    for kind, d, pred_name in (("FP", fp.head(k), pos_name), ("FN", fn.head(k), neg_name)):
        for rank, r in enumerate(d.to_dict("records"), start=1):
            rows.append({"kind": kind, "rank": rank, "index": int(r["index"]),
                         "prob_positive": float(r["prob_positive"]),
                         "true_label": label_names.get(int(r["label"]), str(r["label"])), "pred_label": pred_name,
                         "note": ""})
    out = pd.DataFrame(rows, columns=CSV_COLUMNS)
    out.attrs["n_fp"], out.attrs["n_fn"] = len(fp), len(fn)
    return out


def _dataset_section(ctx: "ReportContext", ds: str) -> str:
    from ..store import atomic_write_text

    found = _best_model_cells(ctx.df, ds)
    if found is None:
        return ""
    best, cal, cells = found
    seed = int(cells["seed"].min())
    names, positive, _ = _label_names(ds)
    images = None
    rows, figs = [], []
    for sel in _selectors(_ordered(cells["threshold"].astype(str))):
        cell = cells[cells["threshold"].astype(str) == sel]
        run = _run_dir(ctx, cell)
        if run is None or not (run / "predictions.csv").is_file():
            continue
        thr = _threshold(cell)
        errs = top_errors(_predictions(run, "test"), thr, K, names, positive)
        stem = f"errors_{ds}_{_slug(sel)}"
        atomic_write_text(ctx.fig_dir / f"{stem}.csv", errs.to_csv(index=False))
        if images is None:
            images = ctx.load_split(ds, "test").images
        gallery(errs, images, ctx.fig_dir / f"{stem}.png", positive_name=names[positive],
                title=f"{ds}: {_model_name(best)}, calibrator {cal}, seed {seed}, selector {sel} "
                      f"(t = {thr:.3f}), test")
        n_fp, n_fn = errs.attrs["n_fp"], errs.attrs["n_fn"]
        shown = errs["kind"].value_counts()
        rows.append(f"| {sel} | {thr:.3f} | {shown.get('FP', 0)} / {n_fp} | {shown.get('FN', 0)} / {n_fn} | "
                    f"[png]({_link(f'figures/{stem}.png')}) | [csv]({_link(f'figures/{stem}.csv')}) |")
        figs.append(f"![errors {sel}]({_link(f'figures/{stem}.png')})")
    if not rows:
        return ""
    pos = names[positive]
    return ("\n## High-confidence errors\n\n"
            f"Best model by mean test AUROC: {_model_name(best)} (calibrator {cal}, seed {seed}, test split). "
            f"Per selector, the {K} most confident false positives (highest P({pos})) and false negatives "
            f"(lowest P({pos})) at its threshold. The CSV's blank `note` column is for an error taxonomy.\n\n"
            "| selector | threshold | FP shown / all | FN shown / all | gallery | sheet |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n" + "\n".join(figs) + "\n")


def gallery(errs: pd.DataFrame, images: np.ndarray, path: "Path", positive_name: str = "positive",
            title: str = "") -> None:
    """Two rows of thumbnails (FP, FN), each titled with index, probability, true and predicted label.

    Args:
        errs: rows from :func:`top_errors`.
        images: the split's uint8 images, (N, H, W) or (N, H, W, C).
        path: the PNG written.
        positive_name: the positive class's name, for the probability label.
        title: figure title.
    """
    from ..figures import _plt, _save

    plt = _plt()
    k = max(K, int(errs.groupby("kind").size().max()) if len(errs) else 0)
    fig, axes = plt.subplots(2, k, figsize=(1.45 * k, 4.6), squeeze=False)
    for r, kind in enumerate(("FP", "FN")):
        d = errs[errs["kind"] == kind].reset_index(drop=True)
        for j in range(k):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(d):
                ax.axis("off")
                if j == 0:
                    ax.text(0.5, 0.5, f"no {kind}", ha="center", va="center", transform=ax.transAxes)
                continue
            e = d.iloc[j]
            img = np.asarray(images[int(e["index"])])
            if img.ndim == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_title(f"#{int(e['index'])} p={e['prob_positive']:.3f}\ntrue: {e['true_label']}\n"
                         f"pred: {e['pred_label']}", fontsize=6)
        axes[r, 0].set_ylabel({"FP": "false positives\n(highest p)", "FN": "false negatives\n(lowest p)"}[kind],
                              fontsize=8)
    fig.suptitle(title + f"\np = P({positive_name})", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


__all__ = ["report", "top_errors", "gallery"]
