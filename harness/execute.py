"""Execute a suite: order cells, run each through an executor, write results, figures, leaderboards."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd

from .runner import CellResult, is_cached, order_cells, run_cell, write_run_dir
from .store import Store, atomic_write_bytes, atomic_write_json, atomic_write_text
from .suite import RunSpec, Suite


class LocalExecutor:
    """Runs cells one after another in this process.

    A distributed executor (e.g. Ray) implements the same ``map``: every cell is a pure function of
    its RunSpec, the data files and the stage cache, so it can run anywhere that sees the cache.
    """

    def map(self, fn: Callable[[RunSpec], CellResult], cells: Iterable[RunSpec]) -> Iterator[CellResult]:
        for cell in cells:
            yield fn(cell)


@dataclass
class RunSummary:
    total: int
    cached: int
    failed: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0
    results_dir: Path | None = None
    leaderboards: list[Path] = field(default_factory=list)


def cache_dir_for(out: Path, cache_dir: str | None) -> Path:
    import os

    return Path(cache_dir or os.environ.get("BENCH_CACHE_DIR") or (Path(out) / ".bench_cache"))


def plan(suite: Suite, store: Store) -> list[tuple[RunSpec, bool]]:
    """Every cell in execution order, with whether its final stage is cached."""
    return [(r, is_cached(r, store)) for r in order_cells(suite.runs)]


def run_suite(suite: Suite, *, out: Path, store: Store, data_root: str | None, progress: bool = True,
              executor=None) -> RunSummary:
    from tqdm.auto import tqdm

    t0 = time.time()
    executor = executor or LocalExecutor()
    cells = plan(suite, store)
    results_dir = Path(out) / "results" / suite.name
    runs_dir = results_dir / "runs"
    summary = RunSummary(total=len(cells), cached=sum(c for _, c in cells), results_dir=results_dir)
    rows: list[dict] = []
    failures: list[dict] = []
    bar = tqdm(total=len(cells), desc=f"{suite.name}", unit="cell", disable=not progress, dynamic_ncols=True)
    for res in executor.map(lambda s: run_cell(s, store, data_root, progress), [c for c, _ in cells]):
        bar.update(1)
        bar.set_postfix_str(f"{res.spec.labels()['dataset']} {res.spec.regime} f={res.spec.fraction:g}"
                            + (" FAILED" if res.status != "ok" else ""))
        if res.status != "ok":
            summary.failed.append(res)
            failures.append({**res.spec.labels(), "reason": res.reason})
            bar.write(f"cell failed: {res.spec.labels()}: {res.reason}")
            continue
        d = write_run_dir(res, store, runs_dir, data_root)
        rows += [{**r, "run_id": d.name} for r in res.rows]
    bar.close()
    df = pd.DataFrame(rows)
    fdf = pd.DataFrame(failures)
    write_results(results_dir, df, fdf)
    summary.leaderboards = build_leaderboards(suite, out, data_root, df, fdf, store)
    summary.seconds = time.time() - t0
    atomic_write_json(results_dir / "run_summary.json",
                      {"cells": summary.total, "cached_before": summary.cached, "failed": len(summary.failed),
                       "seconds": summary.seconds})
    return summary


def write_results(results_dir: Path, df: pd.DataFrame, failures: pd.DataFrame) -> None:
    """Tidy rows as CSV and Parquet (one row per run x split x metric)."""
    import io

    results_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(results_dir / "results.csv", df.to_csv(index=False))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(results_dir / "results.parquet", buf.getvalue())
    atomic_write_text(results_dir / "failures.csv", failures.to_csv(index=False) if len(failures) else "reason\n")


def load_results(out: Path, suite: Suite) -> tuple[pd.DataFrame, pd.DataFrame]:
    from .errors import UserError

    d = Path(out) / "results" / suite.name
    if not (d / "results.parquet").is_file():
        raise UserError(f"no results for suite {suite.name!r} under {d}; run `bench run {suite.path}` first")
    df = pd.read_parquet(d / "results.parquet")
    f = d / "failures.csv"
    fdf = pd.read_csv(f) if f.is_file() and f.stat().st_size > len("reason\n") else pd.DataFrame()
    return df, fdf


def build_leaderboards(suite: Suite, out: Path, data_root: str | None, df: pd.DataFrame, fdf: pd.DataFrame,
                       store: Store | None = None) -> list[Path]:
    from . import figures
    from .leaderboard import write_leaderboards
    from .stages.data import load_splits

    lb_dir = Path(out) / "leaderboards" / suite.name
    fig_dir = lb_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for ds in suite.datasets:
        cls = ds.build()
        try:
            splits = load_splits(ds, data_root)
        except Exception:  # the EDA sheet is optional when the data is not here
            continue
        figures.eda_sheet(ds.label(), splits, cls.label_names, cls.positive_label, fig_dir / f"eda_{ds.label()}.png")
    sections: dict[str, list[str]] = {}
    if len(df):
        _label_efficiency_figures(suite, df, fig_dir)
        _ssl_loss_figure(suite, Path(out) / "results" / suite.name / "runs", fig_dir, set(df["run_id"]))
        if suite.reports:
            from .reports import REPORTS, ReportContext

            by_label = {d.label(): d for d in suite.datasets}
            ctx = ReportContext(suite=suite, df=df, runs_dir=Path(out) / "results" / suite.name / "runs",
                                out_dir=lb_dir, load_split=lambda ds, s: load_splits(by_label[ds], data_root)[s])
            for name in suite.reports:
                for key, md in REPORTS[name](ctx).items():
                    sections.setdefault(key, []).append(md)
    return write_leaderboards(suite, df, lb_dir, fdf, sections)


def _series_axes(df: pd.DataFrame) -> list[str]:
    from .suite import AXES

    from .leaderboard import drop_dependent

    axes = [a for a in AXES if a in df and a not in ("seed", "dataset", "fraction") and df[a].nunique() > 1]
    return drop_dependent(df, axes)


def _label_efficiency_figures(suite: Suite, df: pd.DataFrame, fig_dir: Path) -> None:
    from . import figures

    if "fraction" not in df or df["fraction"].nunique() < 2:
        return
    metric = "auroc"
    d = df[(df["split"] == "test") & (df["metric"] == metric)]
    series_axes = _series_axes(d)
    curves: dict = {}
    for ds, dd in d.groupby("dataset", sort=False):
        curves[ds] = {}
        groups = dd.groupby(series_axes, sort=False) if series_axes else [("all", dd)]
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            label = " / ".join(str(k) for k in key)
            agg = g.groupby("fraction")["value"].agg(["mean", "std"]).reset_index().sort_values("fraction")
            if len(agg) < 2:
                continue
            curves[ds][label] = (agg["fraction"].values, agg["mean"].values, agg["std"].fillna(0).values)
        figures.label_efficiency({ds: curves[ds]}, fig_dir / f"label_efficiency_{ds}.png",
                                 title=f"{suite.name}: test {metric} vs labeled fraction ({ds})", metric=metric)
    if len(curves) > 1:
        figures.label_efficiency(curves, fig_dir / "comparison_label_efficiency.png",
                                 title=f"{suite.name}: test {metric} vs labeled fraction, side by side", metric=metric)


def _ssl_loss_figure(suite: Suite, runs_dir: Path, fig_dir: Path, run_ids: set) -> None:
    """One SSL loss-curve panel per dataset, one line per pretrained encoder of this suite's runs."""
    from . import figures

    curves: dict = {}
    for spec_file in sorted(runs_dir.glob("*/ssl_loss.json")):
        if spec_file.parent.name not in run_ids:
            continue  # a folder left by an earlier version of the suite
        info = json.loads(spec_file.read_text())
        curves.setdefault(info["dataset"], {})[info["label"]] = info["epoch_loss"]
    if curves:
        figures.loss_curves(curves, fig_dir / "comparison_ssl_loss.png", title=f"{suite.name}: SSL loss per epoch")
