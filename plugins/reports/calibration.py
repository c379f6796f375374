"""Calibration report: calibration metrics before and after each calibrator, fitted params, reliability.

Top-label reliability diagrams follow Guo et al. 2017, "On Calibration of Modern Neural Networks"
(arXiv:1706.04599): the confidence of the predicted class against how often that class is right.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness import Report, hookimpl, reporting

from . import _plots
from ._common import (BINS, best_keys, bold_cell, figure_md, get, heading_datasets, lowest_seed_rows, model_axes,
                      model_cells, model_header, model_name, model_rows, models, ordered, prefer,
                      reference_calibrator, reference_selector, reliability_bins, shown_axes, slug)


@dataclass(frozen=True)
class CalibrationConfig:
    """Options of the calibration report.

    Attributes:
        metrics: calibration-family metrics to show; empty: all of the family.
        max_figures: reliability figures per dataset (one per model; fractions 100 % and 10 % first).
    """

    metrics: tuple = ()
    max_figures: int = 6

    def __post_init__(self):
        object.__setattr__(self, "metrics", tuple(self.metrics))
        known = reporting.metric_names("calibration")
        bad = [m for m in self.metrics if m not in known]
        if bad:
            raise ValueError(f"not calibration metrics: {bad}; available: {', '.join(known)}")
        if self.max_figures < 0:
            raise ValueError("max_figures must be >= 0")


class Calibration(Report):
    """Calibration metrics on test before vs after each calibrator (fitted on val), reliability diagrams."""

    order = 50

    Config = CalibrationConfig

    def metrics(self) -> list[str]:
        return list(self.config.metrics) or reporting.metric_names("calibration")

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        df = ctx.df
        if df.empty:
            return {}
        metrics = self.metrics()
        ranking = reporting.primary_metric()
        by = list(model_axes()) + ["calibrator"]
        test = {cal: reporting.summary(reporting.select(df, metric=metrics + [ranking], split="test",
                                                        calibrated=cal), by + ["metric"])
                for cal in (False, True)}
        params = reporting.select(df, split="val", calibrated=None)
        params = params[params["family"] == "calibrator"]
        fitted = reporting.summary(params, by + ["metric"])
        param_names = ordered(params["metric"])
        head, shown = model_header(df)
        out, per_ds = {}, {}
        for ds in ctx.datasets():
            d = df[df["dataset"].astype(str) == str(ds)]
            pairs = [(k, c) for k in models(d) for c in ordered(model_rows(d, k)["calibrator"].astype(str))]
            if not pairs:
                continue
            per_ds[ds] = pairs
            best = {m: best_keys(test[True], [(*k, c, m) for k, c in pairs], reporting.direction(m))
                    for m in metrics}
            rows = []
            for key, cal in pairs:
                cells = []
                for m in metrics:
                    cells += [reporting.cell(test[False], *key, cal, m), bold_cell(test[True], (*key, cal, m), best[m])]
                fit = [f"{p}={get(fitted, *key, cal, p)[0]:.3g}" for p in param_names if get(fitted, *key, cal, p)[2]]
                cells.append(", ".join(fit) or "-")
                cells += [reporting.cell(test[False], *key, cal, ranking), reporting.cell(test[True], *key, cal, ranking)]
                n = max(get(test[True], *key, cal, m)[2] for m in metrics + [ranking])
                rows.append(model_cells(key, shown) + [reporting.readable("calibrators", cal)] + cells + [str(n)])
            title = reporting.metric_title
            cols = head + ["calibrator"] + [f"{title(m)} {w}" for m in metrics for w in ("before", "after")] + \
                ["fitted params (mean)", f"{title(ranking)} before", f"{title(ranking)} after", "n"]
            arrows = ", ".join(f"{title(m)} {_dir(m)}" for m in metrics if _dir(m))
            parts = ["\n## Calibration\n",
                     "Calibrators are fitted on the val split only; every number here is on test. Before = the "
                     "model's raw probabilities, after = calibrated; the reference calibrator "
                     f"({_ref_name()}) leaves them unchanged. Mean ± std over seeds; "
                     f"n = seeds; bold = best after calibration per column ({arrows}). "
                     f"{title(ranking)} is shown to catch a calibrator that changes the ranking (ties from binning).\n",
                     reporting.md_table(cols, rows) + "\n"]
            figs = self._reliability(ctx, ds, d)
            if figs:
                parts.append(figs)
            out[ds] = "\n".join(parts)
        if per_ds:
            out["comparison"] = _comparison(per_ds, test, metrics, shown)
        return out

    def _reliability(self, ctx: "reporting.ReportContext", ds: str, d: pd.DataFrame) -> str:
        """One figure per model: raw probabilities, then each calibrator (lowest seed, test split)."""
        keys = models(d)
        chosen = prefer(keys, self.config.max_figures)
        shown = shown_axes(ctx.df)
        lines, seeds = [], set()
        for key in chosen:
            rows = model_rows(d, key)
            cals = ordered(rows["calibrator"].astype(str))
            if len(cals) < 2 and cals == [reporting.default_name("calibrators")]:
                continue  # nothing calibrated: the raw panel alone is in the table already
            rows = lowest_seed_rows(rows)
            seed = str(rows["seed"].iloc[0])
            rows = rows[rows["threshold"].astype(str) == reference_selector(rows)]
            panels, y = [], None
            for cal in cals:
                run = ctx.run_dir(rows[rows["calibrator"].astype(str) == cal])
                if run is None or not (run / "predictions.csv").is_file():
                    continue
                p = reporting.predictions(run, "test")
                if y is None:
                    y = p["is_positive"].to_numpy()
                    panels.append(("before (raw model)", p["prob_positive_uncalibrated"].to_numpy(dtype=float)))
                if cal != reporting.default_name("calibrators"):
                    panels.append((f"after: {cal}", p["prob_positive"].to_numpy(dtype=float)))
            if y is None or len(panels) < 2:
                continue
            name = f"reliability_{slug(ds)}_{slug(model_name(key, shown))}.png"
            _plots.reliability(y, panels, reliability_bins, ctx.fig_dir / name,
                               title=f"{ds}: {model_name(key, shown)} (test, seed {seed})")
            seeds.add(seed)
            lines.append(figure_md(f"reliability {model_name(key, shown)}", name))
        if not lines:
            return ""
        capped = (f" Showing {len(chosen)} of {len(keys)} models (labelled fractions 100 % and 10 % first)."
                  if len(keys) > len(chosen) else "")
        return (f"Reliability diagrams on test (top-label, {BINS} equal-width bins; seed "
                f"{', '.join(sorted(seeds))}): the raw model, then each calibrator; bars = accuracy per "
                f"confidence bin, hatched = gap to the bin's mean confidence; histogram of confidences underneath."
                f"{capped}\n\n" + "\n".join(lines) + "\n")


def _dir(metric: str) -> str:
    return {"max": "↑", "min": "↓"}.get(reporting.direction(metric) or "", "")


def _comparison(per_ds: dict, test: dict, metrics: list[str], shown: list[str]) -> str:
    """One table of calibrated test values per (model, calibrator), datasets side by side.

    Rows are keyed by the model's readable name, so the same method lines up across datasets even
    where a dataset-dependent axis (e.g. its SSL augmentation) differs.
    """
    datasets = list(per_ds)
    index = {}  # (model cells, calibrator) -> {dataset: model key}
    for ds, pairs in per_ds.items():
        for key, cal in pairs:
            index.setdefault((tuple(model_cells(key, shown)), cal), {})[ds] = key
    head = ["model"] + (["labelled"] if "fraction" in shown else []) + ["calibrator"] + \
        [f"{reporting.metric_title(m)} {_dir(m)} [{reporting.short_name(ds)}]" for m in metrics for ds in datasets]
    rows = []
    for (cells, cal), keys in index.items():
        rows.append(list(cells) + [reporting.readable("calibrators", cal)] + [reporting.cell(test[True], *keys[ds], cal, m) if ds in keys else ""
                                           for m in metrics for ds in datasets])
    return (f"\n## Calibration: {heading_datasets(datasets)}\n\n"
            f"Test split, after calibration (the {_ref_name()} rows are the raw model, i.e. before), mean ± std "
            "over seeds; calibrators fitted on val only.\n\n" + reporting.md_table(head, rows) + "\n")


def _ref_name() -> str:
    """The reference calibrator as readers see it (``no calibration``)."""
    ref = reporting.default_name("calibrators")
    return f"`{reporting.readable('calibrators', ref)}`" if ref else "reference"


@hookimpl
def register_reports(register):
    register("calibration", Calibration)
