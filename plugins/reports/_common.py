"""Helpers shared by the reports: model keys, seed summaries, run folders, markdown bits."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from . import ReportContext

#: the axes that identify a model (everything but calibrator, threshold selector and seed)
MODEL_AXES = ("dataset", "encoder", "ssl", "ssl_augmentation", "regime", "augmentation", "fraction")
#: labelled fractions preferred when a report caps its number of figures
PREFERRED_FRACTIONS = (1.0, 0.1)


def _datasets(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["dataset"])) if len(df) else []


def _model_columns(df: pd.DataFrame) -> list[str]:
    """Model axes (without dataset) that vary in the suite; at least ``encoder`` so a row has a name."""
    cols = [a for a in MODEL_AXES[1:] if a in df and df[a].nunique(dropna=False) > 1]
    return cols or ["encoder"]


def _models(df: pd.DataFrame, dataset: str | None = None) -> list[tuple]:
    """Model keys (tuples in MODEL_AXES order) in the order they first appear."""
    d = df if dataset is None else df[df["dataset"] == dataset]
    return list(dict.fromkeys(map(tuple, d[list(MODEL_AXES)].itertuples(index=False, name=None))))


def _select(df: pd.DataFrame, **labels) -> pd.DataFrame:
    """Rows whose label columns equal the given values (compared as strings, so 1.0 == "1.0")."""
    mask = np.ones(len(df), dtype=bool)
    for k, v in labels.items():
        mask &= (df[k].astype(str) == str(v)).to_numpy()
    return df[mask]


def _model_filter(df: pd.DataFrame, key: tuple) -> pd.DataFrame:
    return _select(df, **dict(zip(MODEL_AXES, key)))


def _model_cells(key: tuple, cols: list[str]) -> list[str]:
    lab = dict(zip(MODEL_AXES, key))
    return [_pv(lab[c]) for c in cols]


def _model_name(key: tuple) -> str:
    """Human-readable short id: ``encoder ssl(+aug) regime aug f<fraction>``."""
    lab = dict(zip(MODEL_AXES, key))
    ssl = "sup" if lab["ssl"] == "none" else f"{lab['ssl']}" + (
        f"+{lab['ssl_augmentation']}" if lab["ssl_augmentation"] not in ("-", "auto") else "")
    return " ".join([str(lab["encoder"]), ssl, str(lab["regime"]), str(lab["augmentation"]),
                     f"f{float(lab['fraction']):g}"])


def _model_id(key: tuple) -> str:
    """File-name-safe short model id (as in run ids, without seed, calibrator and selector)."""
    return _slug(_model_name(key).replace(" ", "-"))


def _slug(s: str) -> str:
    s = str(s).replace("(", "_").replace(")", "").replace("=", "").replace(",", "_").replace("/", "_")
    return re.sub(r"[^A-Za-z0-9._+-]", "_", s)


def _pv(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _prefer(keys: Iterable[tuple], limit: int) -> list[tuple]:
    """At most ``limit`` model keys (or tuples starting with one), fractions 1.0 and 0.1 first."""
    keys = list(keys)

    def rank(k):
        f = float(dict(zip(MODEL_AXES, k[0] if isinstance(k[0], tuple) else k))["fraction"])
        pref = [i for i, p in enumerate(PREFERRED_FRACTIONS) if np.isclose(f, p)]
        return pref[0] if pref else len(PREFERRED_FRACTIONS)

    return sorted(keys, key=rank)[:limit]  # sorted is stable: suite order within each fraction


def _ordered(values: Iterable) -> list:
    return list(dict.fromkeys(values))


def _reference_calibrator(d: pd.DataFrame) -> str:
    """``none`` when the suite has it (raw model output), else the first calibrator present."""
    cals = _ordered(d["calibrator"].astype(str))
    return "none" if "none" in cals else cals[0]


def _lowest_seed(d: pd.DataFrame) -> int:
    return int(pd.to_numeric(d["seed"]).min())


def _summary(df: pd.DataFrame, by: list[str], metrics: Iterable[str], split: str | None) -> dict:
    """``{(by values..., metric): (mean, std, n)}`` over seeds.

    Rows that differ only in axes outside ``by`` (e.g. threshold selectors for a calibration metric,
    which does not depend on them) are averaged within a seed first, so n counts seeds, not cells.
    """
    d = df[df["metric"].isin(list(metrics))]
    if split is not None:
        d = d[d["split"] == split]
    if d.empty:
        return {}
    per_seed = d.groupby(by + ["seed", "metric"], sort=False, dropna=False)["value"].mean().reset_index()
    g = per_seed.groupby(by + ["metric"], sort=False, dropna=False)["value"]
    # n = seeds with a row (a NaN value, e.g. recall without positives, prints as n/a rather than blank)
    agg = g.agg(mean="mean", std=lambda v: float(np.std(v.dropna(), ddof=1)) if v.notna().sum() > 1 else float("nan"),
                n="size")
    return {tuple(str(x) for x in (k if isinstance(k, tuple) else (k,))): (r["mean"], r["std"], int(r["n"]))
            for k, r in agg.iterrows()}


def _get(summary: dict, *key) -> tuple[float, float, int]:
    return summary.get(tuple(str(k) for k in key), (float("nan"), float("nan"), 0))


def _cell(summary: dict, *key) -> str:
    from ..leaderboard import _fmt

    mean, std, n = _get(summary, *key)
    return _fmt(mean, std, n) if n else ""


def _md(head: list[str], rows: list[list[str]]) -> str:
    from ..leaderboard import _md as md

    return "\n".join(md(head, rows))


def _link(path: str) -> str:
    """A markdown link destination; angle brackets when the name holds parentheses or spaces."""
    return path if re.fullmatch(r"[A-Za-z0-9._+/-]+", path) else f"<{path}>"


def _short(ds: str) -> str:
    from ..leaderboard import _short as short

    return short(ds)


def _dataset_class(ds: str):
    """The dataset plugin class for a label such as ``breastmnist(size=64)``, or None."""
    from ..plugins import get_registry

    reg = get_registry("datasets")
    name = ds.split("(")[0]
    return reg.get(name) if name in reg else None


def _run_dir(ctx: "ReportContext", cell: pd.DataFrame) -> Path | None:
    """The run folder of one cell, from the rows' ``run_id`` (else by matching spec.json labels)."""
    if "run_id" in cell and cell["run_id"].notna().any():
        ids = _ordered(cell["run_id"].dropna())
        d = Path(ctx.runs_dir) / str(ids[0])
        return d if d.is_dir() else None
    first = cell.iloc[0]
    axes = [a for a in ("dataset", "encoder", "ssl", "ssl_augmentation", "regime", "augmentation", "fraction",
                        "seed", "calibrator", "threshold") if a in cell]
    want = {a: str(first[a]) for a in axes}
    for d, labels in _spec_index(str(ctx.runs_dir)):
        if all(str(labels.get(a)) == v for a, v in want.items()):
            return Path(d)
    return None


@lru_cache(maxsize=8)
def _spec_index(runs_dir: str) -> tuple:
    import json

    out = []
    for f in sorted(Path(runs_dir).glob("*/spec.json")):
        labels = json.loads(f.read_text()).get("labels", {})
        out.append((str(f.parent), labels))
    return tuple(out)


def _predictions(run_dir: Path, split: str = "test") -> pd.DataFrame:
    p = pd.read_csv(Path(run_dir) / "predictions.csv")
    return p[p["split"] == split].reset_index(drop=True)


def _best_model(df: pd.DataFrame, dataset: str) -> tuple | None:
    """The model with the highest mean test AUROC (reference calibrator rows; ties: suite order)."""
    d = df[(df["dataset"] == dataset) & (df["split"] == "test") & (df["metric"] == "auroc")]
    if d.empty:
        return None
    d = d[d["calibrator"].astype(str) == _reference_calibrator(d)]
    per_seed = d.groupby(list(MODEL_AXES) + ["seed"], sort=False, dropna=False)["value"].mean()
    means = per_seed.groupby(level=list(MODEL_AXES), sort=False).mean()
    if means.dropna().empty:
        return None
    return tuple(means.idxmax())


def _threshold(cell: pd.DataFrame) -> float:
    t = cell[(cell["metric"] == "threshold") & (cell["split"] == "test")]["value"]
    if t.empty:
        t = cell[cell["metric"] == "threshold"]["value"]
    return float(t.iloc[0]) if len(t) else float("nan")


def _seed_cells(df: pd.DataFrame, key: tuple, cal: str) -> pd.DataFrame:
    """The rows of ``key`` with calibrator ``cal`` at the model's lowest seed."""
    d = _select(_model_filter(df, key), calibrator=cal)
    return d[d["seed"] == d["seed"].min()] if len(d) else d


def _best_model_cells(df_all: pd.DataFrame, ds: str) -> tuple[tuple, str, pd.DataFrame] | None:
    """(best model key, reference calibrator, the model's rows at that calibrator and lowest seed)."""
    best = _best_model(df_all, ds)
    if best is None:
        return None
    df = df_all[df_all["dataset"] == ds]
    cal = _reference_calibrator(df)
    return best, cal, _seed_cells(df, best, cal)
