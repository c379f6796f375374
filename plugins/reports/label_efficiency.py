"""Label-efficiency report: the headline metric against the labelled share of the train split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness import Report, hookimpl, reporting

from . import _plots
from ._common import (best_keys, bold_cell, fraction_text, heading_datasets, model_axes, model_name, ordered,
                      reference_calibrator, shown_axes)


@dataclass(frozen=True)
class LabelEfficiencyConfig:
    """Options of the label-efficiency report.

    Attributes:
        metric: the metric plotted; empty: the headline ranking metric (``primary_metric()``).
        split: ``test`` or ``val``.
    """

    metric: str = ""
    split: str = "test"

    def __post_init__(self):
        if self.split not in ("val", "test"):
            raise ValueError("split must be val or test")


def curves(df: pd.DataFrame, dataset: str, metric: str, split: str = "test") -> dict:
    """``{series name: (fractions, mean, std, n)}`` for one dataset, fractions ascending.

    A series is a model without its fraction (``SimCLR probe``, ``supervised (scratch)``); mean and
    std are over seeds of the reference calibrator's rows (threshold selectors do not change a
    ranking metric, so their duplicate rows are averaged within a seed first).
    """
    d = reporting.select(df, metric=metric, split=split, dataset=dataset)
    if d.empty:
        return {}
    d = d[d["calibrator"].astype(str) == reference_calibrator(d)]
    axes = list(model_axes())
    fi = axes.index("fraction")
    stats = reporting.summary(d, axes)
    shown = [a for a in shown_axes(df[df["dataset"].astype(str) == str(dataset)]) if a != "fraction"]
    series: dict = {}
    for key, (mean, std, n) in stats.items():
        name = model_name(key, show=[a for a in shown if a not in ("ssl", "regime")])
        series.setdefault(name, []).append((float(key[fi]), mean, std, n))
    out = {}
    for name, pts in series.items():
        pts.sort()
        fr, mean, std, n = (np.array(v) for v in zip(*pts))
        out[name] = (fr, mean, std, n)
    return out


class LabelEfficiency(Report):
    """Headline metric vs labelled fraction per method (SSL probe/finetune vs supervised), in percent."""

    order = 10

    always = True
    Config = LabelEfficiencyConfig

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        df = ctx.df
        if df.empty or "fraction" not in df or df["fraction"].nunique() < 2:
            return {}
        metric = self.config.metric or reporting.primary_metric()
        split = self.config.split
        per_ds = {ds: curves(df, ds, metric, split) for ds in ctx.datasets()}
        per_ds = {ds: c for ds, c in per_ds.items() if c}
        if not per_ds:
            return {}
        out = {}
        shown = reporting.metric_title(metric)
        for ds, c in per_ds.items():
            name = f"label_efficiency_{reporting.slug(ds)}.png"
            _plots.label_efficiency({reporting.short_name(ds): _xy(c)}, ctx.fig_dir / name,
                                    title=f"{ctx.suite.name}: {split} {shown} vs labelled share "
                                          f"({reporting.short_name(ds)})",
                                    ylabel=f"{split} {shown}")
            out[ds] = ("\n## Label efficiency\n\n"
                       f"{split.capitalize()} {shown} (mean ± std over seeds, reference calibrator) against the "
                       "share of the train split whose labels were used; bold = best per column"
                       f"{_direction_note(metric)}.\n\n"
                       + _table(c, metric) + "\n\n" + f"![label efficiency]({reporting.link('figures/' + name)})\n")
        if len(per_ds) > 1:
            name = "comparison_label_efficiency.png"
            _plots.label_efficiency({reporting.short_name(ds): _xy(c) for ds, c in per_ds.items()},
                                    ctx.fig_dir / name,
                                    title=f"{ctx.suite.name}: {split} {shown} vs labelled share, side by side",
                                    ylabel=f"{split} {shown}")
            out["comparison"] = (f"\n## Label efficiency: {heading_datasets(list(per_ds))}\n\n"
                                 f"{split.capitalize()} {shown}, mean ± std over seeds.\n\n"
                                 + _comparison_table(per_ds) + "\n\n"
                                 + f"![label efficiency]({reporting.link('figures/' + name)})\n")
        return out


def _xy(c: dict) -> dict:
    return {s: (fr, mean, std) for s, (fr, mean, std, _) in c.items()}


def _direction_note(metric: str) -> str:
    return {"max": " (higher is better)", "min": " (lower is better)"}.get(reporting.direction(metric) or "", "")


def _stats(c: dict) -> tuple[dict, list[str]]:
    """``{(series, fraction text): (mean, std, n)}`` and the fraction texts, ascending."""
    stats, fracs = {}, set()
    for s, (fr, mean, std, n) in c.items():
        for f, m, sd, k in zip(fr, mean, std, n):
            stats[(s, fraction_text(f))] = (m, sd, int(k))
            fracs.add(float(f))
    return stats, [fraction_text(f) for f in sorted(fracs)]


def _table(c: dict, metric: str) -> str:
    stats, fracs = _stats(c)
    series = list(c)
    best = {f: best_keys(stats, [(s, f) for s in series], reporting.direction(metric)) for f in fracs}
    rows = [[s] + [bold_cell(stats, (s, f), best[f]) for f in fracs]
            + [str(max(int(k) for k in c[s][3]))] for s in series]
    return reporting.md_table(["method"] + [f"{f} labelled" for f in fracs] + ["n"], rows)


def _comparison_table(per_ds: dict) -> str:
    all_stats = {ds: _stats(c) for ds, c in per_ds.items()}
    fracs = sorted({f for _, fr in all_stats.values() for f in fr}, key=lambda t: float(t.split()[0]))
    series = ordered(s for c in per_ds.values() for s in c)
    head = ["method"] + [f"{f} [{reporting.short_name(ds)}]" for f in fracs for ds in per_ds]
    rows = [[s] + [reporting.cell(all_stats[ds][0], s, f) for f in fracs for ds in per_ds] for s in series]
    return reporting.md_table(head, rows)


@hookimpl
def register_reports(register):
    register("label_efficiency", LabelEfficiency)
