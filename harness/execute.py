"""Execute a suite: plan stage tasks, run them through an executor, write results and leaderboards."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .runner import (CellResult, Options, StageTask, TaskResult, is_cached, plan_tasks, run_cell, stage_task,
                     write_run_dir)
from .store import Store, atomic_write_bytes, atomic_write_json, atomic_write_text
from .suite import RunSpec, Suite


@dataclass
class RunSummary:
    total: int
    cached: int
    failed: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0
    results_dir: Path | None = None
    leaderboards: list[Path] = field(default_factory=list)
    tasks: int = 0


def cache_dir_for(out: Path, cache_dir: str | None) -> Path:
    import os

    return Path(cache_dir or os.environ.get("BENCH_CACHE_DIR") or (Path(out) / ".bench_cache"))


def plan(suite: Suite, store: Store) -> list[tuple[RunSpec, bool]]:
    """Every cell in suite order, with whether all its result stages are cached."""
    from .runner import cell_graph, result_stages

    from ._config import no_gc

    snap = store.snapshot()
    out = []
    with no_gc():
        for r in suite.runs:
            nodes = cell_graph(r, store)
            out.append((r, all(snap.has(n, nodes[n].key) for n in result_stages(nodes))))
    return out


def get_executor(name: str | None, options: dict | None = None):
    """The executor plugin ``name`` (default: the registered default one), built with ``options``."""
    from ._config import ConfigError, from_dict
    from .errors import UserError
    from .plugins import get_registry
    from .registry import UnknownComponentError

    reg = get_registry("executors")
    if name is None:
        defaults = [n for n in reg.names() if reg.get(n).default]
        if not defaults:
            raise UserError("no executor is registered")
        name = defaults[0]
    try:
        cls = reg.get(name)
    except UnknownComponentError as exc:
        raise UserError(f"--executor: {exc}") from None
    try:
        return cls(from_dict(cls.Config, options or {}, ""))
    except ConfigError as exc:
        raise UserError(f"executor {name}: {exc}") from None


class _Trackers:
    """Calls every tracker; one that raises is reported once and then left out (never fails a cell)."""

    def __init__(self, trackers: list):
        self.live = list(trackers)

    def call(self, method: str, *args) -> None:
        for t in list(self.live):
            try:
                getattr(t, method)(*args)
            except Exception as exc:  # noqa: BLE001 - trackers only observe
                self.live.remove(t)
                print(f"warning: tracker {type(t).__name__} failed in {method} ({type(exc).__name__}: {exc}); "
                      f"it is off for the rest of this run", file=sys.stderr)


def get_trackers(suite: Suite, names: list[str] | None = None) -> list:
    """The suite's ``track:`` trackers plus those named on the command line (``--track NAME``)."""
    from ._config import from_dict
    from .errors import UserError
    from .plugins import get_registry
    from .registry import UnknownComponentError

    out = [t.build() for t in suite.track]
    reg = get_registry("trackers")
    for n in names or []:
        if any(type(t) is (reg.get(n) if n in reg else None) for t in out):
            continue
        try:
            cls = reg.get(n)
        except UnknownComponentError as exc:
            raise UserError(f"--track: {exc}") from None
        out.append(cls(from_dict(cls.Config, {}, "")))
    return out


def run_suite(suite: Suite, *, out: Path, store: Store, data_root: str | None, progress: bool = True,
              executor=None, retry_failed: bool = False, device: str = "cpu", trackers: list | None = None) -> RunSummary:
    """Run every cell of ``suite``: shared upstream stages first (once each), then each cell's results."""
    from tqdm.auto import tqdm

    t0 = time.time()
    executor = executor or get_executor(None)
    cells = plan(suite, store)
    results_dir = Path(out) / "results" / suite.name
    runs_dir = results_dir / "runs"
    summary = RunSummary(total=len(cells), cached=sum(c for _, c in cells), results_dir=results_dir)
    options = Options(data_root=data_root, progress=False, retry_failed=retry_failed, device=device)
    levels = plan_tasks(suite.runs, store, retry_failed=retry_failed)
    n_tasks = sum(len(lvl) for lvl in levels)
    summary.tasks = n_tasks
    bar = tqdm(total=n_tasks, desc=f"{suite.name} stages", unit="stage", disable=not progress or not n_tasks,
               dynamic_ncols=True)
    failed_tasks = 0
    try:
        for i, level in enumerate(levels):
            tasks = [StageTask(spec, stage, str(store.root), options) for spec, stage in level]
            left = len(tasks)
            for res in executor.map(stage_task, tasks):
                res: TaskResult
                bar.update(1)
                left -= 1
                failed_tasks += not res.ok
                # done / failed / still running or queued (this level), across every worker of the executor
                bar.set_postfix_str(f"level {i + 1}/{len(levels)}: {res.stage} {res.seconds:.0f} s, {left} running or "
                                    f"queued" + (f", {failed_tasks} failed" if failed_tasks else ""))
                for e in res.events:
                    bar.write(e, file=sys.stderr)
                if not res.ok:
                    bar.write(f"stage failed: {res.reason}", file=sys.stderr)
    finally:
        bar.close()
        executor.close()

    rows: list[dict] = []
    failures: list[dict] = []
    cell_options = Options(data_root=data_root, progress=progress, retry_failed=False, device=device)
    track = _Trackers(trackers or [])
    track.call("start", suite, Path(out))
    from .store import CorruptEntry

    for spec, cached in cells:
        for attempt in range(3):
            res = run_cell(spec, store, cell_options)
            if res.status != "ok":
                break
            try:
                d = write_run_dir(res, store, runs_dir, cell_options)
                break
            except CorruptEntry as exc:  # an exported artifact failed its digest: recompute that entry
                store.quarantine(exc.stage, exc.key, exc.reason)
                if attempt == 2:
                    raise
        if res.status != "ok":
            summary.failed.append(res)
            failures.append({**spec.labels(), "stage": res.failed_stage, "reason": res.reason})
            continue
        cell_rows = [{**r, "run_id": d.name} for r in res.rows]
        rows += cell_rows
        if track.live:
            from .components import TrackedCell

            track.call("log_cell", TrackedCell(spec=spec, run_id=d.name, run_dir=d, rows=cell_rows,
                                               stage_keys=dict(res.keys), cached=cached))
    for e in store.events:
        print(e, file=sys.stderr)
    df = pd.DataFrame(rows)
    fdf = pd.DataFrame(failures)
    write_results(results_dir, df, fdf)
    prune_runs(runs_dir, set(df["run_id"]) if len(df) else set())
    summary.leaderboards = build_leaderboards(suite, out, data_root, df, fdf)
    summary.seconds = time.time() - t0
    track.call("finish", summary)
    atomic_write_json(results_dir / "run_summary.json",
                      {"cells": summary.total, "cached_before": summary.cached, "failed": len(summary.failed),
                       "stage_tasks": n_tasks, "seconds": summary.seconds})
    return summary


def prune_runs(runs_dir: Path, keep: set[str]) -> list[Path]:
    """Remove run folders that no cell of the current suite wrote (left by earlier suite versions)."""
    import shutil

    removed = []
    if runs_dir.is_dir():
        for d in runs_dir.iterdir():
            if d.is_dir() and d.name not in keep and (d / "spec.json").is_file():
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    return removed


def write_results(results_dir: Path, df: pd.DataFrame, failures: pd.DataFrame) -> None:
    """Tidy rows as CSV and Parquet (one row per run x split x metric x calibrated x stat)."""
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
    try:
        df = pd.read_parquet(d / "results.parquet")
    except Exception as exc:  # noqa: BLE001 - a damaged results file: say which and how to fix it
        raise UserError(f"{d / 'results.parquet'}: cannot read it ({exc}); rerun `bench run {suite.path}` "
                        f"(cached stages make that quick)") from None
    missing = {"split", "metric", "calibrated", "stat", "condition", "value"} - set(df.columns)
    if len(df) and missing:
        raise UserError(f"{d / 'results.parquet'} was written by an older version (no {', '.join(sorted(missing))} "
                        f"columns); rerun `bench run {suite.path}` to rewrite it (cached stages make that quick)")
    f = d / "failures.csv"
    fdf = pd.read_csv(f) if f.is_file() and f.stat().st_size > len("reason\n") else pd.DataFrame()
    from .reporting import with_axis_columns

    return with_axis_columns(df), fdf


def remember_labels(suite: Suite) -> None:
    """Record the label of every component of ``suite`` (``harness.suite.LABELS``), so that reports
    show "MoCo v2 (queue_size=256)" rather than the raw label "moco(queue_size=256)". `bench run`
    records them while it plans; `bench leaderboard` reads saved results and plans nothing."""
    for run in suite.runs:
        run.labels()


def build_leaderboards(suite: Suite, out: Path, data_root: str | None, df: pd.DataFrame,
                       fdf: pd.DataFrame) -> list[Path]:
    """Per-dataset and comparison markdown, with the sections of every report that applies."""
    remember_labels(suite)
    from .leaderboard import write_leaderboards
    from .plugins import get_registry
    from .reporting import ReportContext

    lb_dir = Path(out) / "leaderboards" / suite.name
    (lb_dir / "figures").mkdir(parents=True, exist_ok=True)
    reg = get_registry("reports")
    names = [n for n in reg.names() if reg.get(n).always or n in {r.name for r in suite.reports}]
    names.sort(key=lambda n: (reg.get(n).order, n))
    sections: dict[str, list[str]] = {}
    ctx = ReportContext(suite=suite, df=df, runs_dir=Path(out) / "results" / suite.name / "runs", out_dir=lb_dir,
                        data_root=data_root)
    by_name = {r.name: r for r in suite.reports}
    for name in names:
        spec = by_name.get(name)
        report = spec.build() if spec is not None else reg.get(name)()
        if report.needs_results and not len(df):
            continue
        for key, md in report.build(ctx).items():
            sections.setdefault(key, []).append(md)
    return write_leaderboards(suite, df, lb_dir, fdf, sections)
