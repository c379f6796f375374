"""Leaderboard reports: calibration, operating points and high-confidence error galleries.

Each report is a function ``report(ctx) -> {dataset label or "comparison": markdown section}`` that
also writes its figures and CSVs under ``ctx.fig_dir``. Reports are views of saved results: the tidy
rows (``results.parquet``) and each run's folder (``predictions.csv``); they train nothing and import
no torch (matplotlib and scikit-learn are imported inside the functions that draw or score).

A *model* is a configuration up to the post-hoc choices: (dataset, encoder, ssl, ssl_augmentation,
regime, augmentation, fraction). Calibrator, threshold selector and seed vary within a model. Tables
give mean ± std over seeds; figures use the lowest seed (seed 0) to stay readable.

Listing or validating reports imports nothing heavy: ``REPORTS`` resolves a name to its module's
``report`` function only when it is looked up.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..components import Split
    from ..suite import Suite


@dataclass
class ReportContext:
    """What a report reads and where it writes.

    Attributes:
        suite: the suite being reported.
        df: all tidy rows of the suite (``results.parquet``: label columns, split, metric, value, run_id).
        runs_dir: ``results/<suite>/runs``; one folder per cell (``predictions.csv``, ``spec.json``, ...).
        out_dir: ``leaderboards/<suite>``; figures and CSVs go under ``out_dir / "figures"``.
        load_split: ``(dataset label, split) -> Split`` with uint8 images, for galleries.
    """

    suite: "Suite"
    df: pd.DataFrame
    runs_dir: Path
    out_dir: Path
    load_split: Callable[[str, str], "Split"]

    @property
    def fig_dir(self) -> Path:
        d = Path(self.out_dir) / "figures"
        d.mkdir(parents=True, exist_ok=True)
        return d


Report = Callable[[ReportContext], "dict[str, str]"]


class _LazyReports(Mapping):
    """name -> report function, importing ``harness.reports.<module>`` on first lookup."""

    def __init__(self, targets: dict[str, str]):
        self._targets = targets

    def __getitem__(self, name: str) -> Report:
        return importlib.import_module(f"{__name__}.{self._targets[name]}").report

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def __repr__(self) -> str:
        return f"REPORTS({', '.join(self._targets)})"


#: report name (as written in a suite's ``leaderboard: {reports: [...]}``) -> report function
REPORTS: Mapping[str, Report] = _LazyReports({"calibration": "calibration", "operating_points": "operating_points",
                                              "errors": "errors"})

__all__ = ["REPORTS", "Report", "ReportContext"]
