"""The public API reports are built on: a context over a suite's saved results, and small helpers.

Result rows are tidy and typed (``results.parquet``): one row per run x split x metric x calibrated
x stat x condition, with the run's axis labels as columns and its ``run_id``. Reports select metrics
by family (``metric_names("calibration")``), never by name, and components by their declared
defaults (``default_name("calibrators")``), never by name.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional

import numpy as np
import pandas as pd

from .axes import AXES, AXIS_NAMES, REPLICATE_AXES

if TYPE_CHECKING:  # pragma: no cover
    from .components import Split
    from .suite import Suite


def metric_names(family: str | None = None) -> list[str]:
    """Registered metrics of a family (all when None), in registry order."""
    from .plugins import get_registry

    reg = get_registry("metrics")
    return [n for n in reg.names() if family is None or reg.get(n).family == family]


def primary_metric() -> str:
    """The headline metric: the first ranking metric that bootstraps a CI (else the first ranking one)."""
    from .plugins import get_registry

    reg = get_registry("metrics")
    ranking = metric_names("ranking")
    boot = [n for n in ranking if reg.get(n).bootstrap]
    return (boot or ranking or reg.names())[0]


def direction(metric: str) -> Optional[str]:
    """'max', 'min' or None (counts and stage-reported quantities have no 'best')."""
    from .plugins import get_registry

    reg = get_registry("metrics")
    return reg.get(metric).direction if metric in reg else None


def default_name(kind: str) -> Optional[str]:
    """The registered default component of a kind (e.g. no calibration), or None."""
    from .plugins import get_registry

    reg = get_registry(kind)
    found = [n for n in reg.names() if reg.get(n).default]
    return found[0] if found else None


def post_model_axes() -> tuple[str, ...]:
    """Axes read only after the model is trained (calibrator, threshold selector, ...) and replicates."""
    from .plugins import stage_graph

    post = [a for st in stage_graph() if st.role in ("calibrator", "threshold") for a in st.reads]
    return tuple(dict.fromkeys(post + list(REPLICATE_AXES)))


def with_axis_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a column for every axis: rows written before an axis existed get its default label
    (e.g. ``val`` = ``full``), so reports can group by every axis."""
    from .axes import AXES

    missing = [a for a in AXES if a.name not in df.columns and a.key_if_set]
    if not missing or df.empty:
        return df
    return df.assign(**{a.name: str(a.default) for a in missing})


def model_axes() -> tuple[str, ...]:
    """Axes that identify a trained model: every axis except the post-model ones and the seed."""
    post = set(post_model_axes())
    return tuple(a for a in AXIS_NAMES if a not in post)


def select(df: pd.DataFrame, *, metric: str | Iterable[str] | None = None, split: str | None = None,
           calibrated: bool | None = True, stat: str = "value", condition: str | None = "clean",
           **labels) -> pd.DataFrame:
    """Rows matching the typed columns (None: any) and label values (compared as strings)."""
    if df.empty:
        return df
    mask = np.ones(len(df), dtype=bool)
    if metric is not None:
        mask &= df["metric"].isin([metric] if isinstance(metric, str) else list(metric)).to_numpy()
    if split is not None:
        mask &= (df["split"] == split).to_numpy()
    if calibrated is not None and "calibrated" in df:
        mask &= (df["calibrated"].astype(bool) == calibrated).to_numpy()
    if stat is not None and "stat" in df:
        mask &= (df["stat"] == stat).to_numpy()
    if condition is not None and "condition" in df:
        mask &= (df["condition"] == condition).to_numpy()
    for k, v in labels.items():
        mask &= (df[k].astype(str) == str(v)).to_numpy()
    return df[mask]


def summary(df: pd.DataFrame, by: list[str]) -> dict:
    """``{(by values...,): (mean, std, n)}`` over seeds of already-selected rows.

    Rows that differ only in axes outside ``by`` are averaged within a seed first, so n counts seeds.
    """
    if df.empty:
        return {}
    per_seed = df.groupby(by + ["seed"], sort=False, dropna=False)["value"].mean().reset_index()
    g = per_seed.groupby(by, sort=False, dropna=False)["value"]
    agg = g.agg(mean="mean", std=lambda v: float(np.std(v.dropna(), ddof=1)) if v.notna().sum() > 1 else float("nan"),
                n="size")
    return {tuple(str(x) for x in (k if isinstance(k, tuple) else (k,))): (r["mean"], r["std"], int(r["n"]))
            for k, r in agg.iterrows()}


def fmt(mean: float, std: float = float("nan"), bold: bool = False) -> str:
    """``0.812 ± 0.013`` (``n/a`` when the mean is not finite), bold if asked."""
    if not np.isfinite(mean):
        return "n/a"
    s = f"{mean:.3f}" + (f" ± {std:.3f}" if np.isfinite(std) else "")
    return f"**{s}**" if bold else s


def cell(stats: dict, *key) -> str:
    mean, std, n = stats.get(tuple(str(k) for k in key), (float("nan"), float("nan"), 0))
    return fmt(mean, std) if n else ""


def md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def link(path: str) -> str:
    """A markdown link destination; angle brackets when the name holds parentheses or spaces."""
    return path if re.fullmatch(r"[A-Za-z0-9._+/-]+", path) else f"<{path}>"


def slug(s: str) -> str:
    s = str(s).replace("(", "_").replace(")", "").replace("=", "").replace(",", "_").replace("/", "_")
    return re.sub(r"[^A-Za-z0-9._+-]", "_", s)


def pv(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def component_name(kind: str, label: str) -> Optional[str]:
    """The registered name behind a result label such as ``breastmnist(size=64)``, or None.

    The labels of every component a suite loaded in this process are recorded; a label read back from
    saved results without a suite (``name(option=value,...)``) falls back to its registered prefix.
    """
    from .plugins import get_registry
    from .suite import LABELS

    label = str(label)
    name = LABELS.get((kind, label))
    if name is None:
        head = label.split("(", 1)[0]
        if head in get_registry(kind):
            name = head
    return name


def component_class(kind: str, label: str):
    """The plugin class behind a result label, or None."""
    from .plugins import get_registry

    name = component_name(kind, label)
    return get_registry(kind).get(name) if name else None


def display_name(kind: str, label: str) -> str:
    """How readers see a component: its ``display_name`` (else class name), plus non-default options."""
    cls = component_class(kind, label)
    if cls is None:
        return str(label)
    name = component_name(kind, label)
    options = str(label)[len(name):]  # the label is the name followed by "(option=value, ...)"
    shown = cls.display_name or cls.__name__
    return shown + (f" {options}" if options else "")


def readable(kind: str, label: str) -> str:
    """A component as a reader sees it in a table cell: its ``display_name`` when the plugin declares
    one (``temperature scaling``, ``MoCo v2 (queue_size=256)``), else the label itself (``resnet18``)."""
    cls = component_class(kind, label)
    return display_name(kind, label) if cls is not None and cls.display_name else str(label)


def metric_title(metric: str) -> str:
    """A metric's ``display_name`` (``AUROC``, ``balanced accuracy``), else its name with spaces (a
    stage quantity such as ``train seconds``, or a metric plugin without a display name)."""
    from .plugins import get_registry

    reg = get_registry("metrics")
    shown = reg.get(metric).display_name if metric in reg else ""
    return shown or str(metric).replace("_", " ")


def fraction_text(v) -> str:
    """A labelled fraction as a percentage: ``0.05`` -> ``5 %``."""
    try:
        return f"{float(v) * 100:g} %"
    except (TypeError, ValueError):
        return str(v)


def method_name(ssl: str, regime: str, encoder: str = "") -> str:
    """``supervised (scratch)``, ``SimCLR probe``, ``MoCo v2 finetune``, ``probe on random init``.

    No-pretraining cells are named from the SSL registry's default component (never by name).
    """
    ssl, regime = str(ssl), str(regime)
    cls = component_class("ssl-methods", ssl)
    pretrains = cls.pretrains if cls is not None else ssl != default_name("ssl-methods")
    if pretrains:
        return f"{display_name('ssl-methods', ssl)} {regime}"
    init = "pretrained init" if "pretrained" in str(encoder) else "random init"
    if regime == "all":
        return "supervised (" + ("scratch" if init == "random init" else init) + ")"
    return f"{regime} on {init}"


def dataset_class(label: str):
    """The dataset plugin class for a dataset label such as ``breastmnist(size=64)``, or None."""
    return component_class("datasets", label)


def short_name(label: str) -> str:
    cls = dataset_class(label)
    return (cls.short_name or label) if cls is not None else label


def positive_description(label: str) -> str:
    cls = dataset_class(label)
    return f"{cls.positive_name} (label {cls.positive_label})" if cls is not None else "?"


def predictions(run_dir: Path, split: str = "test") -> pd.DataFrame:
    """A run folder's per-sample probabilities (``predictions.csv``) for one split."""
    p = pd.read_csv(Path(run_dir) / "predictions.csv")
    return p[p["split"] == split].reset_index(drop=True)


@lru_cache(maxsize=8)
def _spec_index(runs_dir: str) -> tuple:
    out = []
    for f in sorted(Path(runs_dir).glob("*/spec.json")):
        out.append((str(f.parent), json.loads(f.read_text()).get("labels", {})))
    return tuple(out)


@dataclass
class ReportContext:
    """What a report reads and where it writes.

    Attributes:
        suite: the suite being reported.
        df: all tidy rows of the suite (``results.parquet``).
        runs_dir: ``results/<suite>/runs``; one folder per cell (``predictions.csv``, ``spec.json``, ...).
        out_dir: ``leaderboards/<suite>``; figures and CSVs go under ``fig_dir``.
        data_root: where the dataset files are (for galleries and data sheets).
    """

    suite: "Suite"
    df: pd.DataFrame
    runs_dir: Path
    out_dir: Path
    data_root: Optional[str] = None

    def __post_init__(self):
        self.df = with_axis_columns(self.df)

    @property
    def fig_dir(self) -> Path:
        d = Path(self.out_dir) / "figures"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def datasets(self) -> list[str]:
        """Dataset labels in suite order (those with results first)."""
        labels = [d.label() for d in self.suite.datasets]
        return list(dict.fromkeys(self.df["dataset"])) if len(self.df) else labels

    def load_split(self, dataset: str, split: str) -> "Split":
        from .data import load_splits

        by_label = {d.label(): d for d in self.suite.datasets}
        return load_splits(by_label[dataset], self.data_root)[split]

    def run_dir(self, rows: pd.DataFrame) -> Optional[Path]:
        """The run folder of one cell's rows (by ``run_id``, else by matching spec.json labels)."""
        if "run_id" in rows and rows["run_id"].notna().any():
            d = Path(self.runs_dir) / str(rows["run_id"].dropna().iloc[0])
            return d if d.is_dir() else None
        from .axes import BY_NAME

        first = rows.iloc[0]
        # an axis added later is absent from older spec.json labels: at its default it must not count
        want = {a: str(first[a]) for a in AXIS_NAMES if a in rows
                and not (BY_NAME[a].key_if_set and str(first[a]) == str(BY_NAME[a].default))}
        for d, labels in _spec_index(str(self.runs_dir)):
            if all(str(labels.get(a)) == v for a, v in want.items()):
                return Path(d)
        return None


__all__ = ["ReportContext", "with_axis_columns", "cell", "component_class", "component_name", "dataset_class", "display_name", "default_name", "direction", "fmt", "fraction_text", "link", "md_table",
           "method_name", "metric_names", "metric_title", "readable", "model_axes", "positive_description", "post_model_axes", "predictions",
           "primary_metric", "pv", "select", "short_name", "slug", "summary"]
_ = AXES  # the axes are the one source of the label columns
