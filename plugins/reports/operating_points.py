"""Operating-points report: each threshold selector's test operating point, its val→test drift, ROC/PR.

Thresholds are chosen on val by the selector and applied unchanged to test, so the gaps (test − val
of the same metric, per run) show how well an operating point transfers. On imbalanced data the PR
curve is the more informative view of the positive class (Saito & Rehmsmeier 2015, PLoS ONE 10(3):
e0118432, doi:10.1371/journal.pone.0118432): a no-skill model's PR-AUC is the prevalence, not 0.5.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from harness import Report, hookimpl, reporting

from . import _plots
from ._common import (best_keys, best_model_cells, bold_cell, dataset_names, figure_md, gaps, get, heading_datasets,
                      lowest_seed_rows, model_axes, model_cells, model_header, model_name, model_rows, models,
                      operating_point, ordered, prefer, reference_calibrator, shown_axes, slug, threshold_of)


@dataclass(frozen=True)
class OperatingPointsConfig:
    """Options of the operating-points report.

    Attributes:
        metrics: threshold-family metrics to show; empty: all of the family.
        max_models: models overlaid in one ROC/PR figure (fractions 100 % and 10 % first).
    """

    metrics: tuple = ()
    max_models: int = 8

    def __post_init__(self):
        object.__setattr__(self, "metrics", tuple(self.metrics))
        known = reporting.metric_names("threshold")
        bad = [m for m in self.metrics if m not in known]
        if bad:
            raise ValueError(f"not threshold metrics: {bad}; available: {', '.join(known)}")
        if self.max_models < 1:
            raise ValueError("max_models must be >= 1")


class OperatingPoints(Report):
    """Per threshold selector: val-chosen threshold, test metrics there, test − val gaps, ROC/PR, confusions."""

    order = 60

    Config = OperatingPointsConfig

    def metrics(self) -> list[str]:
        return list(self.config.metrics) or reporting.metric_names("threshold")

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        df = ctx.df
        if df.empty:
            return {}
        metrics = self.metrics()
        by = list(model_axes()) + ["calibrator", "threshold", "metric"]
        test = reporting.summary(reporting.select(df, metric=metrics + ["threshold"], split="test"), by)
        gap = reporting.summary(gaps(df, metrics), by)
        cal_col = df["calibrator"].astype(str).nunique() > 1  # a row never averages two calibrators
        head, shown = model_header(df)
        out, per_ds = {}, {}
        for ds in ctx.datasets():
            d = df[df["dataset"].astype(str) == str(ds)]
            triples = ordered((k, c, t) for k in models(d) for c, t in
                              model_rows(d, k)[["calibrator", "threshold"]].astype(str).itertuples(index=False))
            if not triples:
                continue
            per_ds[ds] = triples
            cols = head + (["calibrator"] if cal_col else []) + ["selector"]

            def ident(k, c, t):
                return model_cells(k, shown) + ([reporting.readable("calibrators", c)] if cal_col else []) + \
                    [reporting.readable("threshold-selectors", t)]

            rows = [ident(k, c, t) + [reporting.cell(test, *k, c, t, "threshold")]
                    + [reporting.cell(test, *k, c, t, m) for m in metrics]
                    + [str(get(test, *k, c, t, "threshold")[2])] for k, c, t in triples]
            grows = [ident(k, c, t) + [bold_cell(gap, (*k, c, t, m)) for m in metrics] for k, c, t in triples]
            parts = ["\n## Operating points\n",
                     "Each selector picks its threshold on val (on the calibrated val probabilities) and the "
                     "threshold is applied unchanged to test. Test values at that threshold, mean ± std over "
                     "seeds; n = seeds. Not bolded: selectors trade one rate for another by design.\n",
                     reporting.md_table(cols + ["threshold"] + [_title(m) for m in metrics] + ["n"], rows) + "\n",
                     "\n### Val → test drift\n\n"
                     "Gap = test − val of the same metric at the same threshold, per run, then mean ± std over "
                     "seeds: how far the val-chosen operating point moves on unseen data. A degenerate threshold "
                     "(every case one class) has no gap by construction, so small is not always good.\n",
                     reporting.md_table(cols + [f"{_title(m)} gap" for m in metrics], grows) + "\n"]
            for sec in (self._roc_pr(ctx, ds, d), confusion_grid(ctx, ds), _ranking(ctx, ds, d, shown, head)):
                if sec:
                    parts.append(sec)
            out[ds] = "\n".join(parts)
        if per_ds:
            out["comparison"] = _comparison(per_ds, test, gap, metrics, shown, cal_col)
        return out

    def _roc_pr(self, ctx: "reporting.ReportContext", ds: str, d: pd.DataFrame) -> str:
        found = roc_pr_curves(ctx, d, self.config.max_models)
        if found is None:
            return ""
        curves, selectors, prevalence, cal, seed, n_models = found
        _, _, pos, _ = dataset_names(ds)
        name = f"roc_pr_{slug(ds)}.png"
        _plots.roc_pr(curves, selectors, prevalence, pos, ctx.fig_dir / name,
                      title=f"{ds}: test, positive class {pos}, calibrator {cal}, seed {seed}")
        capped = (f" Showing {len(curves)} of {n_models} models (labelled fractions 100 % and 10 % first)."
                  if n_models > len(curves) else "")
        return (f"\nROC and PR curves of the positive class on test (calibrator {cal}, seed {seed}); markers: "
                f"each selector's operating point at its val-chosen threshold.{capped}\n\n"
                + figure_md("ROC and PR curves", name) + "\n")


def roc_pr_curves(ctx: "reporting.ReportContext", d: pd.DataFrame, max_models: int) -> Optional[tuple]:
    """``(curves, selectors, prevalence, calibrator, seed, number of models)`` for ``_plots.roc_pr``.

    One curve per model (reference calibrator, the model's lowest seed), with each selector's
    (FPR, TPR, precision) at its threshold recomputed from the run's test predictions.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    cal = reference_calibrator(d)
    keys = models(d)
    shown = shown_axes(ctx.df)
    selectors = ordered(d["threshold"].astype(str))
    curves, prevalence, seeds = [], None, set()
    for key in prefer(keys, max_models):
        rows = lowest_seed_rows(model_rows(d, key))
        rows = rows[rows["calibrator"].astype(str) == cal]
        curve = None
        for sel in ordered(rows["threshold"].astype(str)):
            cell = rows[rows["threshold"].astype(str) == sel]
            if curve is None:
                run = ctx.run_dir(cell)
                if run is None or not (run / "predictions.csv").is_file():
                    continue
                p = reporting.predictions(run, "test")
                y, prob = p["is_positive"].to_numpy().astype(int), p["prob_positive"].to_numpy(dtype=float)
                if y.min() == y.max():
                    break
                fpr, tpr, _ = roc_curve(y, prob)
                prec, rec, _ = precision_recall_curve(y, prob)
                curve = {"name": model_name(key, shown), "fpr": fpr, "tpr": tpr, "precision": prec, "recall": rec,
                         "auc": roc_auc_score(y, prob), "ap": average_precision_score(y, prob), "points": {}}
                prevalence = float(y.mean())
                seeds.add(str(cell["seed"].iloc[0]))
            curve["points"][sel] = operating_point(y, prob, threshold_of(cell))
        if curve is not None:
            curves.append(curve)
    if not curves:
        return None
    return curves, selectors, prevalence, cal, ", ".join(sorted(seeds)), len(keys)


def confusion_matrices(ctx: "reporting.ReportContext", ds: str) -> Optional[tuple]:
    """``(best model key, calibrator, seed, labels, [(selector, threshold, [[tp, fn], [fp, tn]])])``.

    The best model by the headline metric, at its lowest seed, from each run's ``confusion_matrix.json``.
    """
    found = best_model_cells(ctx.df, ds)
    if found is None:
        return None
    best, cal, cells = found
    mats, labels = [], None
    for sel in ordered(cells["threshold"].astype(str)):
        run = ctx.run_dir(cells[cells["threshold"].astype(str) == sel])
        f = run / "confusion_matrix.json" if run is not None else None
        if f is None or not f.is_file():
            continue
        cm = json.loads(f.read_text())
        labels = labels or [f"{cm['labels'][0]} (+)", cm["labels"][1]]
        mats.append((sel, float(cm["threshold"]), np.asarray(cm["rows_true_cols_pred"])))
    if not mats:
        return None
    return best, cal, str(cells["seed"].iloc[0]), labels, mats


def confusion_grid(ctx: "reporting.ReportContext", ds: str) -> str:
    found = confusion_matrices(ctx, ds)
    if found is None:
        return ""
    best, cal, seed, labels, mats = found
    who = model_name(best, shown_axes(ctx.df))
    name = f"confusion_{slug(ds)}.png"
    _plots.confusion_grid(mats, labels, ctx.fig_dir / name,
                          title=f"{ds}: {who} (best mean test {_title(reporting.primary_metric())}), "
                                f"{reporting.readable('calibrators', cal)}, "
                                f"seed {seed}, test")
    return (f"\nConfusion matrices on test of the best model by mean test {_title(reporting.primary_metric())} "
            f"({who}; {reporting.readable('calibrators', cal)}, seed {seed}), one per selector; rows true, columns predicted.\n\n"
            + figure_md("confusion matrices", name) + "\n")


def _ranking(ctx: "reporting.ReportContext", ds: str, d: pd.DataFrame, shown: list[str], head: list[str]) -> str:
    """Threshold-free ranking metrics per model next to the no-skill PR baseline (the test prevalence)."""
    ranking = reporting.metric_names("ranking")
    cal = reference_calibrator(d)
    r = reporting.select(d, metric=ranking, split="test")
    r = r[r["calibrator"].astype(str) == cal]
    if r.empty:
        return ""
    s = reporting.summary(r, list(model_axes()) + ["metric"])
    keys = models(r)
    best = {m: best_keys(s, [(*k, m) for k in keys], reporting.direction(m)) for m in ranking}
    rows = [model_cells(k, shown) + [bold_cell(s, (*k, m), best[m]) for m in ranking]
            + [str(max(get(s, *k, m)[2] for m in ranking))] for k in keys]
    prevalence = _prevalence(ctx, r)
    _, _, pos, _ = dataset_names(ds)
    base = (f"The test prevalence of {pos} is {prevalence:.3f}: a no-skill model's PR-AUC (average precision), "
            "against 0.5 for ROC-AUC." if np.isfinite(prevalence) else "")
    return ("\n### Ranking quality (threshold-free)\n\n"
            f"Calibrator: {reporting.readable('calibrators', cal)}; mean ± std over seeds; bold = best per column. {base}\n\n"
            + reporting.md_table(head + [_title(m) for m in ranking] + ["n"], rows) + "\n")


def _prevalence(ctx: "reporting.ReportContext", rows: pd.DataFrame) -> float:
    run = ctx.run_dir(rows.iloc[:1])
    if run is None or not (run / "predictions.csv").is_file():
        return float("nan")
    return float(reporting.predictions(run, "test")["is_positive"].mean())


def _comparison(per_ds: dict, test: dict, gap: dict, metrics: list[str], shown: list[str], cal_col: bool) -> str:
    """One table: each (model, calibrator, selector) row, threshold and test metrics, datasets side by side."""
    datasets = list(per_ds)
    index: dict = {}
    for ds, triples in per_ds.items():
        for k, c, t in triples:
            index.setdefault((tuple(model_cells(k, shown)), c, t), {})[ds] = k
    head = ["model"] + (["labelled"] if "fraction" in shown else []) + (["calibrator"] if cal_col else []) + \
        ["selector"] + [f"{_title(m)} [{reporting.short_name(ds)}]" for m in ["threshold"] + metrics for ds in datasets]
    rows = []
    for (cells, c, t), keys in index.items():
        vals = [reporting.cell(test, *keys[ds], c, t, m) if ds in keys else ""
                for m in ["threshold"] + metrics for ds in datasets]
        rows.append(list(cells) + ([reporting.readable("calibrators", c)] if cal_col else [])
                    + [reporting.readable("threshold-selectors", t)] + vals)
    return (f"\n## Operating points: {heading_datasets(datasets)}\n\n"
            "Test values at each selector's val-chosen threshold, mean ± std over seeds (val → test gaps: "
            "see each dataset's page).\n\n" + reporting.md_table(head, rows) + "\n")


def _title(metric: str) -> str:
    return reporting.metric_title(metric)


@hookimpl
def register_reports(register):
    register("operating_points", OperatingPoints)
