"""High-confidence error galleries: the best model's most confident false positives and negatives.

For each dataset, the model with the best mean test headline metric (``primary_metric()``) is taken
at its lowest seed with the reference calibrator. At each threshold selector's val-chosen threshold,
the k test false positives with the highest P(positive) and the k false negatives with the lowest
are shown with their images, and listed in a CSV whose blank ``note`` column is for a reader's error
taxonomy (what the model gets confidently wrong, and why).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness import Report, hookimpl, reporting

from . import _plots
from ._common import (best_model_cells, dataset_names, figure_md, model_name, ordered, shown_axes, slug, threshold_of,
                      write_text)


CSV_COLUMNS = ["kind", "rank", "index", "prob_positive", "true_label", "pred_label", "note"]


@dataclass(frozen=True)
class ErrorsConfig:
    """Options of the error-gallery report.

    Attributes:
        k: errors of each kind (FP, FN) per gallery.
        max_selectors: more selectors than this: only the first non-default one gets a gallery.
    """

    k: int = 8
    max_selectors: int = 4

    def __post_init__(self):
        if self.k < 1 or self.max_selectors < 1:
            raise ValueError("k and max_selectors must be >= 1")


def top_errors(pred: pd.DataFrame, threshold: float, k: int, label_names: dict, positive_label: int) -> pd.DataFrame:
    """The k most confident false positives and false negatives at ``threshold``.

    Args:
        pred: one split of a run's ``predictions.csv`` (index, label, is_positive, prob_positive).
        threshold: predict positive iff ``prob_positive >= threshold``.
        k: errors of each kind.
        label_names: original dataset label -> name.
        positive_label: the dataset's positive label.

    Returns:
        Rows with CSV_COLUMNS: FPs by descending ``prob_positive``, then FNs by ascending; ties by
        index. ``attrs["n_fp"]``/``attrs["n_fn"]`` hold the totals.
    """
    neg_name = " / ".join(n for lab, n in sorted(label_names.items()) if lab != positive_label)
    pos_name = label_names[positive_label]
    predicted = pred["prob_positive"] >= threshold
    fp = pred[predicted & (pred["is_positive"] == 0)].sort_values(["prob_positive", "index"],
                                                                  ascending=[False, True], kind="stable")
    fn = pred[~predicted & (pred["is_positive"] == 1)].sort_values(["prob_positive", "index"],
                                                                   ascending=[True, True], kind="stable")
    rows = []
    for kind, d, pred_name in (("FP", fp.head(k), pos_name), ("FN", fn.head(k), neg_name)):
        for rank, r in enumerate(d.to_dict("records"), start=1):
            rows.append({"kind": kind, "rank": rank, "index": int(r["index"]), "prob_positive": float(r["prob_positive"]),
                         "true_label": label_names.get(int(r["label"]), str(r["label"])), "pred_label": pred_name,
                         "note": ""})
    out = pd.DataFrame(rows, columns=CSV_COLUMNS)
    out.attrs["n_fp"], out.attrs["n_fn"] = len(fp), len(fn)
    return out


class Errors(Report):
    """Galleries and CSV sheets of the best model's most confident test errors, per threshold selector."""

    order = 70

    Config = ErrorsConfig

    def selectors(self, names: list[str]) -> list[str]:
        if len(names) <= self.config.max_selectors:
            return names
        ref = reporting.default_name("threshold-selectors")
        return [s for s in names if reporting.component_name("threshold-selectors", s) != ref][:1] or names[:1]

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        out = {}
        for ds in ctx.datasets():
            section = self._dataset(ctx, ds)
            if section:
                out[ds] = section
        return out

    def _dataset(self, ctx: "reporting.ReportContext", ds: str) -> str:
        found = best_model_cells(ctx.df, ds)
        if found is None:
            return ""
        best, cal, cells = found
        seed = str(cells["seed"].iloc[0])
        names, positive, pos, _ = dataset_names(ds)
        who = model_name(best, shown_axes(ctx.df))
        k = self.config.k
        images, rows, figs = None, [], []
        for sel in self.selectors(ordered(cells["threshold"].astype(str))):
            cell = cells[cells["threshold"].astype(str) == sel]
            run = ctx.run_dir(cell)
            if run is None or not (run / "predictions.csv").is_file():
                continue
            thr = threshold_of(cell)
            errs = top_errors(reporting.predictions(run, "test"), thr, k, names, positive)
            stem = f"errors_{slug(ds)}_{slug(sel)}"
            write_text(ctx.fig_dir / f"{stem}.csv", errs.to_csv(index=False))
            if images is None:
                try:
                    images = ctx.load_split(ds, "test").images
                except Exception:  # noqa: BLE001 - the CSV still helps when the images are not here
                    images = False
            if images is not False:
                _plots.gallery(errs, images, ctx.fig_dir / f"{stem}.png", k, pos,
                               title=f"{ds}: {who}, calibrator {cal}, seed {seed}, selector {sel} (t = {thr:.3f}), test")
                figs.append(figure_md(f"errors {sel}", f"{stem}.png"))
            shown = errs["kind"].value_counts()
            gallery = f"[png]({reporting.link(f'figures/{stem}.png')})" if images is not False else "-"
            rows.append([reporting.readable("threshold-selectors", sel), f"{thr:.3f}", f"{shown.get('FP', 0)} / {errs.attrs['n_fp']}",
                         f"{shown.get('FN', 0)} / {errs.attrs['n_fn']}", gallery,
                         f"[csv]({reporting.link(f'figures/{stem}.csv')})"])
        if not rows:
            return ""
        return ("\n## High-confidence errors\n\n"
                f"Best model by mean test {reporting.metric_title(reporting.primary_metric())}: {who} (calibrator "
                f"{reporting.readable('calibrators', cal)}, seed {seed}, test "
                f"split). Per selector, the {k} most confident false positives (highest P({pos})) and false "
                f"negatives (lowest P({pos})) at its threshold. The CSV's blank `note` column is for an error "
                "taxonomy.\n\n"
                + reporting.md_table(["selector", "threshold", "FP shown / all", "FN shown / all", "gallery", "sheet"],
                                     rows) + "\n\n" + "\n".join(figs) + "\n")


@hookimpl
def register_reports(register):
    register("errors", Errors)
