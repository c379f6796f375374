"""Helpers shared by the report plugins, on top of the public ``harness.reporting`` API.

Model keys are tuples over ``reporting.model_axes()``; reports pick metrics by family and the
reference calibrator / threshold selector by the registry's declared defaults, never by name.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Optional

import numpy as np
import pandas as pd

from harness import get_registry, reporting

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

#: labelled fractions preferred when a report caps its number of figures
PREFERRED_FRACTIONS = (1.0, 0.1)
#: reliability bins: 15 equal-width bins over [0, 1], top-label form (as the ``ece`` metric's default)
BINS = 15


# --- rows and model keys ---------------------------------------------------------------------------

def ordered(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def model_axes() -> tuple[str, ...]:
    return reporting.model_axes()


def models(df: pd.DataFrame, dataset: Optional[str] = None) -> list[tuple]:
    """Model keys (tuples over ``model_axes()``, as strings) in the order they first appear."""
    d = df if dataset is None else df[df["dataset"].astype(str) == str(dataset)]
    axes = list(model_axes())
    return ordered(tuple(str(v) for v in r) for r in d[axes].itertuples(index=False, name=None))


def model_rows(df: pd.DataFrame, key: tuple) -> pd.DataFrame:
    return reporting.select(df, calibrated=None, stat=None, condition=None, **dict(zip(model_axes(), key)))


def varying(df: pd.DataFrame, axes: Iterable[str]) -> list[str]:
    """The axes of ``axes`` that take more than one value in ``df``."""
    return [a for a in axes if a in df and df[a].astype(str).nunique() > 1]


#: a labelled fraction as a percentage (``0.05`` -> ``5 %``); the core's, shared with its tables
fraction_text = reporting.fraction_text


def reference_calibrator(df: pd.DataFrame) -> str:
    """The registry's default calibrator (no calibration) when the rows have it, else the first present."""
    cals = ordered(df["calibrator"].astype(str))
    ref = reporting.default_name("calibrators")
    return ref if ref in cals or not cals else cals[0]


def reference_selector(df: pd.DataFrame) -> str:
    sels = ordered(df["threshold"].astype(str))
    ref = reporting.default_name("threshold-selectors")
    return ref if ref in sels or not sels else sels[0]


def lowest_seed_rows(d: pd.DataFrame) -> pd.DataFrame:
    if d.empty:
        return d
    seeds = pd.to_numeric(d["seed"], errors="coerce")
    return d[seeds == seeds.min()]


def best_model(df: pd.DataFrame, dataset: str) -> Optional[tuple]:
    """The model with the best mean test primary metric (reference calibrator rows; ties: suite order)."""
    metric = reporting.primary_metric()
    d = reporting.select(df, metric=metric, split="test", dataset=dataset)
    if d.empty:
        return None
    d = d[d["calibrator"].astype(str) == reference_calibrator(d)]
    axes = list(model_axes())
    s = reporting.summary(d, axes)
    means = {k: v[0] for k, v in s.items() if np.isfinite(v[0])}
    if not means:
        return None
    best = (max if reporting.direction(metric) != "min" else min)(means.values())
    return next(k for k, v in means.items() if np.isclose(v, best))


def best_model_cells(df: pd.DataFrame, dataset: str) -> Optional[tuple[tuple, str, pd.DataFrame]]:
    """(best model key, reference calibrator, that model's rows at the calibrator and its lowest seed)."""
    key = best_model(df, dataset)
    if key is None:
        return None
    d = model_rows(df, key)
    cal = reference_calibrator(d)
    return key, cal, lowest_seed_rows(d[d["calibrator"].astype(str) == cal])


def threshold_of(cell: pd.DataFrame, calibrated: bool = True) -> float:
    """The val-chosen threshold of one cell's rows (``threshold`` quantity; the same on every split)."""
    t = reporting.select(cell, metric="threshold", calibrated=calibrated)
    return float(t["value"].iloc[0]) if len(t) else float("nan")


def gaps(df: pd.DataFrame, metrics: Iterable[str], calibrated: bool = True) -> pd.DataFrame:
    """Rows of ``test − val`` of the same metric per run (``split`` = ``"gap"``)."""
    d = reporting.select(df, metric=list(metrics), calibrated=calibrated)
    if d.empty:
        return d
    ids = [c for c in d.columns if c not in ("split", "value", "family")]
    val = d[d["split"] == "val"].set_index(ids)["value"]
    test = d[d["split"] == "test"].set_index(ids)["value"]
    out = (test - val.reindex(test.index)).rename("value").reset_index()
    out["split"] = "gap"
    return out


def summary_by_metric(rows: pd.DataFrame, by: list[str]) -> dict:
    """``reporting.summary`` keyed ``(by values..., metric)``."""
    return reporting.summary(rows, by + ["metric"])


def get(stats: dict, *key) -> tuple[float, float, int]:
    return stats.get(tuple(str(k) for k in key), (float("nan"), float("nan"), 0))


def best_keys(stats: dict, keys: list[tuple], direction: Optional[str], absolute: bool = False) -> set:
    """The keys whose mean is best (``max``/``min``; ``absolute``: closest to zero)."""
    vals = {k: get(stats, *k)[0] for k in keys}
    vals = {k: (abs(v) if absolute else v) for k, v in vals.items() if np.isfinite(v)}
    if direction is None or not vals:
        return set()
    target = max(vals.values()) if direction == "max" else min(vals.values())
    return {k for k, v in vals.items() if np.isclose(v, target)}


def bold_cell(stats: dict, key: tuple, best: set = frozenset()) -> str:
    """``reporting.fmt`` of one summary entry, bold when ``key`` is in ``best``; a mean that rounds to
    zero prints as ``0.000`` (not ``-0.000``)."""
    mean, std, n = get(stats, *key)
    if n and np.isfinite(mean) and round(mean, 3) == 0:
        mean = 0.0
    return reporting.fmt(mean, std, key in best) if n else ""


def prefer(keys: list[tuple], limit: int) -> list[tuple]:
    """At most ``limit`` model keys, fractions 1.0 then 0.1 first, suite order otherwise."""
    fi = list(model_axes()).index("fraction")

    def rank(k):
        try:
            f = float(k[fi])
        except ValueError:
            return len(PREFERRED_FRACTIONS)
        pref = [i for i, p in enumerate(PREFERRED_FRACTIONS) if np.isclose(f, p)]
        return pref[0] if pref else len(PREFERRED_FRACTIONS)

    chosen = sorted(keys, key=rank)[:limit]
    return [k for k in keys if k in chosen]


# --- names a reader understands --------------------------------------------------------------------

#: ``supervised (scratch)``, ``SimCLR probe``: the core's naming, shared with its leaderboard tables
method_name = reporting.method_name


def model_name(key: tuple, show: Iterable[str] = ("encoder", "augmentation", "ssl_augmentation", "fraction")) -> str:
    """A model's readable name: method, then the other axes in ``show`` that are set (``-``: unset)."""
    lab = dict(zip(model_axes(), key))
    parts = [method_name(lab.get("ssl", "-"), lab.get("regime", "-"), lab.get("encoder", ""))]
    for a in show:
        if a in ("dataset", "ssl", "regime"):
            continue  # in the method name already
        v = str(lab.get(a, "-"))
        if v in ("-", "", "nan"):
            continue
        parts.append(fraction_text(v) if a == "fraction" else (f"{a.replace('_', ' ')} {v}" if a != "encoder" else v))
    return ", ".join(parts)


def shown_axes(df: pd.DataFrame, keep: Iterable[str] = ("ssl", "regime")) -> list[str]:
    """Model axes (not the dataset) that vary and that the others do not already determine.

    E.g. ``ssl_augmentation`` is ``-`` without pretraining and the dataset's SSL augmentation with
    it: given ``ssl`` it adds nothing, so a name leaves it out.
    """
    axes = varying(df, [a for a in model_axes() if a != "dataset"])
    keep = [a for a in keep if a in axes]
    for a in reversed(list(axes)):
        if a in keep or a == "fraction":
            continue
        others = ["dataset"] + [x for x in axes if x != a]
        if df.groupby(others, dropna=False)[a].nunique().max() <= 1:
            axes.remove(a)
    return axes


def model_header(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(table headers, model axes they show) for the models in ``df``: ``model`` plus a varying fraction.

    ``model`` names the method (``SimCLR probe``) and every other model axis that varies.
    """
    shown = shown_axes(df)
    others = [a for a in shown if a not in ("ssl", "regime", "fraction")]
    frac = ["fraction"] if "fraction" in shown else []
    return ["model"] + (["labelled"] if frac else []), others + frac


def model_cells(key: tuple, shown: list[str]) -> list[str]:
    lab = dict(zip(model_axes(), key))
    name = model_name(key, show=[a for a in shown if a != "fraction"])
    return [name] + ([fraction_text(lab["fraction"])] if "fraction" in shown else [])


def dataset_names(ds: str) -> tuple[dict, int, str, str]:
    """(label -> name, positive label, positive name, negative name) from the dataset plugin."""
    cls = reporting.dataset_class(ds)
    if cls is None:
        return {0: "negative", 1: "positive"}, 1, "positive", "negative"
    return dict(cls.label_names), int(cls.positive_label), cls.positive_name, cls.negative_name()


# --- calibration bins ------------------------------------------------------------------------------

def reliability_bins(labels, probs, bins: int = BINS) -> dict:
    """Top-label reliability bins, equal width over [0, 1] (Guo et al. 2017, arXiv:1706.04599).

    Computed here with numpy because no public harness API exposes the bins of the registered ``ece``
    metric; the binning follows it (confidence ``max(p, 1 − p)`` of the argmax class, positive iff
    ``p ≥ 0.5``; scores clipped to [eps, 1 − eps]; a score on an inner edge goes to the upper bin),
    so ``ece`` here equals the metric's value at its default config (a unit test checks this).

    Returns:
        ``edges`` (bins + 1); per bin ``confidence``, ``accuracy`` (NaN when empty) and ``count``;
        ``ece`` and ``mce``.
    """
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    pred = p >= 0.5
    conf = np.where(pred, p, 1.0 - p)
    hit = (pred == (y == 1)).astype(np.float64)
    eps = np.finfo(np.float64).eps
    conf = np.clip(conf, eps, 1.0 - eps)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=bins) / count
        accuracy = np.bincount(idx, weights=hit, minlength=bins) / count
    filled = count > 0
    gap = np.abs(accuracy - mean_conf)
    ece = float(np.sum(gap[filled] * count[filled]) / max(count.sum(), 1))
    mce = float(gap[filled].max()) if filled.any() else float("nan")
    return {"edges": edges, "confidence": mean_conf, "accuracy": accuracy, "count": count, "ece": ece, "mce": mce}


def operating_point(y: np.ndarray, p: np.ndarray, thr: float) -> tuple[float, float, float]:
    """(FPR, TPR, precision) predicting positive iff ``p >= thr`` (NaN where undefined)."""
    y = np.asarray(y).astype(int)
    pred = np.asarray(p) >= thr
    pos, neg = (y == 1).sum(), (y == 0).sum()
    tp, fp = (pred & (y == 1)).sum(), (pred & (y == 0)).sum()
    return (fp / neg if neg else np.nan, tp / pos if pos else np.nan, tp / (tp + fp) if tp + fp else np.nan)


# --- markdown --------------------------------------------------------------------------------------

def figure_md(alt: str, name: str) -> str:
    return f"![{alt}]({reporting.link('figures/' + name)})"


def slug(s: str) -> str:
    return re.sub(r"_+", "_", reporting.slug(s)).strip("_")


def heading_datasets(datasets: list[str]) -> str:
    return " vs ".join(reporting.short_name(d) for d in datasets)


def write_text(path: "Path", text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    import os

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
