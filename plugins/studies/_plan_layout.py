"""The study plan's artifact names for Weeks 1-7 (``bench export --plan-layout DIR`` with ``ssl_study``).

A student following the plan hands in files under ``results/weekN/<dataset>/...``. This module
writes them from what the harness measured: nothing is recomputed or trained, every number comes
from a suite's ``results.parquet`` (mean, std and the per-seed values over the seeds that ran) and
every figure is copied from the suite's leaderboard or run folders.

:data:`PLAN_LAYOUT` declares every name (the test checks the list). Four of them are quoted by the
issue that asked for this export (``results/week5/<dataset>/<name>/probe_metrics_10pct.json``,
``reliability.png``, ``ssl_config.json``, ``P1_temp_scaling_table.md``); the others follow the same
pattern for the plan's tasks (P1-P4 on Pneumonia, B1-B5 on Breast) and are listed in ``INDEX.md``
beside them. An artifact whose suite has not run is skipped and named in ``INDEX.md`` with the
command that would produce it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import pandas as pd

from harness import UserError

#: metrics a ``*_metrics_*.json`` holds (test split, clean data; the model's own threshold)
METRICS = ("auroc", "pr_auc", "balanced_accuracy", "accuracy", "recall", "specificity", "f1", "ece", "brier", "nll")

#: the name of each model (folder under a week) by (ssl, regime): supervised rows add the encoder and augmentation
REGIME_FILE = {"probe": "probe", "finetune": "finetune", "all": "train", "head": "head"}


@dataclass(frozen=True)
class Artifact:
    """One name of the plan's layout: ``path`` is relative to the export folder, with ``<dataset>``,
    ``<name>`` (a model) and ``<pct>`` (a label fraction in percent) filled per result."""

    week: int
    path: str
    role: str  # the study's suite it comes from (suites/study.yaml's role)
    what: str
    write: Callable[["_Ctx"], Iterator[tuple[str, object]]]


class _Ctx:
    def __init__(self, suite, lb_dir: Path, runs_dir: Path, data_root: Optional[str]):
        from harness.reporting import with_axis_columns

        self.suite, self.df = suite.suite, with_axis_columns(suite.df)
        self.lb_dir, self.runs_dir, self.data_root = lb_dir, runs_dir, data_root

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.df["dataset"]))

    def test_rows(self) -> pd.DataFrame:
        d = self.df
        d = d[(d["split"] == "test") & (d["stat"] == "value") & (d["condition"] == "clean")]
        if "calibrated" in d and (~d["calibrated"].astype(bool)).any():
            d = d[~d["calibrated"].astype(bool)]  # the model's own probabilities (calibrator none: identical)
        return d


def pct(fraction: float) -> str:
    """0.1 -> '10', 0.01 -> '1', 0.005 -> '0.5' (the plan's ``..._10pct`` names)."""
    v = float(fraction) * 100
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"


def model_name(ssl: str, regime: str, encoder: str, augmentation: str) -> str:
    """A model's folder name: the SSL method (``simclr``), ``random_init`` for a probe on untrained
    features, ``supervised_<encoder>_<augmentation>`` for training from scratch."""
    if ssl in ("none", "-", None, ""):
        if regime == "probe":
            return "random_init"
        name = f"supervised_{encoder}" + (f"_{augmentation}" if augmentation not in ("-", "", None) else "")
        return name + ("_head" if regime == "head" else "")
    return str(ssl)


def _metrics(rows: pd.DataFrame, **about) -> dict:
    out = {**about, "split": "test", "metrics": {}}
    seeds = sorted(int(s) for s in rows["seed"].unique())
    out["seeds"] = seeds
    for m in METRICS:
        r = rows[rows["metric"] == m].groupby("seed")["value"].first()
        if not len(r):
            continue
        vals = [float(r[s]) if s in r.index else None for s in seeds]
        got = [v for v in vals if v is not None and not math.isnan(v)]
        mean = sum(got) / len(got) if got else None
        std = (math.sqrt(sum((v - mean) ** 2 for v in got) / (len(got) - 1)) if len(got) > 1 else 0.0) if got else None
        out["metrics"][m] = {"mean": mean, "std": std, "per_seed": vals}
    return out


def _fmt(vals: pd.Series) -> str:
    """Mean ± std over seeds (``reporting.fmt``); ``-`` when no seed has a value."""
    from harness.reporting import fmt

    vals = vals.dropna()
    return fmt(vals.mean(), vals.std(ddof=1) if len(vals) > 1 else float("nan")) if len(vals) else "-"


def _table(head: list[str], rows: list[list[str]]) -> str:
    from harness.reporting import md_table

    return md_table(head, rows) + "\n"


def _label(row) -> str:
    from harness.reporting import display_name

    if row["ssl"] in ("none", "-"):
        return "random-init probe" if row["regime"] == "probe" else f"supervised (scratch), {row['encoder']}"
    return f"{display_name('ssl-methods', row['ssl'])} {row['regime']}"


def _groups(d: pd.DataFrame, keys: list[str]):
    for k, rows in d.groupby(keys, sort=False, dropna=False):
        yield dict(zip(keys, k if isinstance(k, tuple) else (k,))), rows


def _first_run(ctx: _Ctx, rows: pd.DataFrame) -> Optional[Path]:
    ids = rows.sort_values("seed")["run_id"].dropna() if "run_id" in rows else []
    for rid in ids:
        d = ctx.runs_dir / str(rid)
        if d.is_dir():
            return d
    return None


# --- writers: each yields (relative path, text | dict | source file) ----------------------------------

def _week1_data(ctx: _Ctx):
    import numpy as np

    for ds in ctx.suite.datasets:
        label = ds.label()
        cls = ds.build()
        try:
            splits = cls.load(ctx.data_root)
        except UserError:
            continue  # no data root here: INDEX.md says it was skipped
        info = {"dataset": label, "positive": f"{cls.positive_name} (label {cls.positive_label})", "splits": {}}
        for s, sp in splits.items():
            y = (np.asarray(sp.labels).reshape(-1) == cls.positive_label).astype(np.int64)
            info["splits"][s] = {"n": int(len(y)), "positives": int(y.sum()), "prevalence": float(y.mean()),
                                 "image_shape": list(sp.images.shape[1:])}
        yield f"results/week1/{label}/data_summary.json", info
        fig = ctx.lb_dir / "figures" / f"eda_{label}.png"
        if fig.is_file():
            yield f"results/week1/{label}/eda.png", fig


def _week2_metrics(ctx: _Ctx):
    d = ctx.test_rows()
    for g, rows in _groups(d, ["dataset", "encoder", "augmentation", "regime", "ssl", "fraction"]):
        name = model_name(g["ssl"], g["regime"], g["encoder"], g["augmentation"])
        yield (f"results/week2/{g['dataset']}/{name}/metrics.json",
               _metrics(rows, dataset=g["dataset"], model=name, fraction=float(g["fraction"])))
        run = _first_run(ctx, rows)
        for fig in ("learning_curves.png", "confusion_matrix.png"):
            if run is not None and (run / "figures" / fig).is_file():
                yield f"results/week2/{g['dataset']}/{name}/{fig}", run / "figures" / fig


def _week3_table(ctx: _Ctx):
    for ds in ctx.datasets():
        src = ctx.lb_dir / f"{ds}.md"
        if src.is_file():
            yield f"results/week3/{ds}/baselines_table.md", src


def _week4_ssl(ctx: _Ctx):
    d = ctx.df[~ctx.df["ssl"].isin(["none", "-"])]
    for g, rows in _groups(d, ["dataset", "ssl"]):
        run = _first_run(ctx, rows)
        if run is None:
            continue
        for src, dst in (("ssl_config.json", "ssl_config.json"), ("figures/ssl_loss_curve.png", "ssl_loss_curve.png"),
                         ("ssl_loss.json", "ssl_loss.json")):
            if (run / src).is_file():
                yield f"results/week4/{g['dataset']}/{g['ssl']}/{dst}", run / src


def _week5_metrics(ctx: _Ctx):
    d = ctx.test_rows()
    for g, rows in _groups(d, ["dataset", "ssl", "regime", "encoder", "augmentation", "fraction"]):
        name = model_name(g["ssl"], g["regime"], g["encoder"], g["augmentation"])
        file = f"{REGIME_FILE.get(g['regime'], g['regime'])}_metrics_{pct(g['fraction'])}pct.json"
        yield (f"results/week5/{g['dataset']}/{name}/{file}",
               _metrics(rows, dataset=g["dataset"], model=name, regime=g["regime"], fraction=float(g["fraction"])))


def _week5_curve(ctx: _Ctx):
    for ds in ctx.datasets():
        fig = ctx.lb_dir / "figures" / f"label_efficiency_{ds}.png"
        if fig.is_file():
            yield f"results/week5/{ds}/label_efficiency.png", fig
        if (ctx.lb_dir / f"{ds}.md").is_file():
            yield f"results/week5/{ds}/label_efficiency_table.md", ctx.lb_dir / f"{ds}.md"


def _week6_reliability(ctx: _Ctx):
    # the calibration report's per-model diagrams (uncalibrated beside calibrated): reliability_<ds>_<model>.png;
    # the per-calibrator ones (reliability_<ds>_<encoder>-...-<calibrator>.png) stay in the leaderboard
    for ds in ctx.datasets():
        for fig in sorted((ctx.lb_dir / "figures").glob(f"reliability_{ds}_*.png")):
            name = fig.stem[len(f"reliability_{ds}_"):]
            if "-" in name:
                continue
            yield f"results/week6/{ds}/{name.lower()}/reliability.png", fig


def _calibration_table(ctx: _Ctx, ds: str, calibrators: Optional[list[str]], title: str) -> str:
    from harness.reporting import display_name

    d = ctx.df[(ctx.df["dataset"] == ds) & (ctx.df["split"] == "test") & (ctx.df["stat"] == "value")
               & (ctx.df["condition"] == "clean")]
    cals = calibrators or list(dict.fromkeys(d["calibrator"]))
    metrics = ("ece", "nll", "brier", "auroc")
    head = ["model", "labels"] + [f"{ {'ece': 'ECE', 'nll': 'NLL', 'brier': 'Brier', 'auroc': 'AUROC'}[m]} {display_name('calibrators', c)}"
                                  for m in metrics for c in cals]
    rows = []
    for g, r in _groups(d[d["calibrator"].isin(cals)], ["ssl", "regime", "encoder", "fraction"]):
        row = [_label(g), f"{pct(g['fraction'])} %"]
        for m in metrics:
            for c in cals:
                sel = r[(r["metric"] == m) & (r["calibrator"] == c)]
                if "calibrated" in sel and sel["calibrated"].astype(bool).any():
                    sel = sel[sel["calibrated"].astype(bool)]
                row.append(_fmt(sel.groupby("seed")["value"].first()))
        rows.append(row)
    seeds = sorted(int(s) for s in d["seed"].unique())
    return (f"# {title}: {ds}\n\nTest split, mean ± std over seeds {seeds}; every calibrator is fitted on val. "
            "From `bench export --plan-layout` (harness results).\n\n" + _table(head, rows))


def _week6_p1(ctx: _Ctx):
    if "temperature" not in set(ctx.df["calibrator"]):
        return
    for ds in ctx.datasets():
        yield (f"results/week6/{ds}/P1_temp_scaling_table.md",
               _calibration_table(ctx, ds, ["none", "temperature"], "P1: temperature scaling (before / after)"))


def _week6_p2(ctx: _Ctx):
    for ds in ctx.datasets():
        yield f"results/week6/{ds}/P2_calibrators_table.md", _calibration_table(ctx, ds, None, "P2: calibrators")


def _week7_p3(ctx: _Ctx):
    d = ctx.test_rows()
    for ds in ctx.datasets():
        dd = d[d["dataset"] == ds]
        if not len(dd):
            continue
        dd = dd[dd["threshold"] == dd["threshold"].iloc[0]]  # threshold-free metrics repeat per selector
        rows = []
        for g, r in _groups(dd, ["ssl", "regime", "encoder", "fraction"]):
            pos = r[r["metric"] == "tp"]["value"].iloc[0] + r[r["metric"] == "fn"]["value"].iloc[0] \
                if {"tp", "fn"} <= set(r["metric"]) else float("nan")
            n = sum(r[r["metric"] == m]["value"].iloc[0] for m in ("tp", "fn", "fp", "tn")) \
                if {"tp", "fn", "fp", "tn"} <= set(r["metric"]) else float("nan")
            prevalence = pos / n if n == n and n else float("nan")
            rows.append([_label(g), f"{pct(g['fraction'])} %", f"{prevalence:.3f}",
                         _fmt(r[r["metric"] == "auroc"].groupby("seed")["value"].first()),
                         _fmt(r[r["metric"] == "pr_auc"].groupby("seed")["value"].first()), f"{prevalence:.3f}"])
        text = (f"# P3: PR vs ROC: {ds}\n\nTest split, mean ± std over seeds. A no-skill model's PR-AUC equals the "
                "prevalence; its ROC-AUC is 0.5.\n\n"
                + _table(["model", "labels", "prevalence", "ROC-AUC", "PR-AUC", "no-skill PR-AUC"], rows))
        yield f"results/week7/{ds}/P3_pr_vs_roc_table.md", text


def _week7_p4(ctx: _Ctx):
    from harness.reporting import display_name

    d = ctx.test_rows()
    val = ctx.df[(ctx.df["split"] == "val") & (ctx.df["metric"] == "threshold")]
    for ds in ctx.datasets():
        rows = []
        for g, r in _groups(d[d["dataset"] == ds], ["ssl", "regime", "encoder", "fraction", "threshold"]):
            thr = val[(val["dataset"] == ds) & (val["ssl"] == g["ssl"]) & (val["regime"] == g["regime"])
                      & (val["fraction"] == g["fraction"]) & (val["threshold"] == g["threshold"])]
            if not len(thr):
                thr = r[r["metric"] == "threshold"]
            rows.append([_label(g), f"{pct(g['fraction'])} %", display_name("threshold-selectors", g["threshold"]),
                         _fmt(thr.groupby("seed")["value"].first()),
                         _fmt(r[r["metric"] == "recall"].groupby("seed")["value"].first()),
                         _fmt(r[r["metric"] == "fpr"].groupby("seed")["value"].first())])
        text = (f"# P4: thresholds chosen on val: {ds}\n\nEach selector picks its threshold on val; the test TPR "
                "(recall) and FPR at that threshold, mean ± std over seeds.\n\n"
                + _table(["model", "labels", "selector", "threshold", "test TPR", "test FPR"], rows))
        yield f"results/week7/{ds}/P4_thresholds_table.md", text


def _week7_errors(ctx: _Ctx):
    for ds in ctx.datasets():
        for fig in sorted((ctx.lb_dir / "figures").glob(f"errors_{ds}_*.png")):
            yield f"results/week7/{ds}/B5_high_confidence_errors_{fig.stem[len(f'errors_{ds}_'):]}.png", fig
        for csv in sorted((ctx.lb_dir / "figures").glob(f"errors_{ds}_*.csv")):
            yield f"results/week7/{ds}/B5_high_confidence_errors_{csv.stem[len(f'errors_{ds}_'):]}.csv", csv
        roc = ctx.lb_dir / "figures" / f"roc_pr_{ds}.png"
        if roc.is_file():
            yield f"results/week7/{ds}/roc_pr.png", roc


#: every name the export writes, in the plan's order (Weeks 1-7)
PLAN_LAYOUT: tuple[Artifact, ...] = (
    Artifact(1, "results/week1/<dataset>/data_summary.json", "baselines",
             "split sizes, positives and prevalence (needs the data root)", _week1_data),
    Artifact(1, "results/week1/<dataset>/eda.png", "baselines", "the data sheet's figure", _week1_data),
    Artifact(2, "results/week2/<dataset>/<name>/metrics.json", "baselines",
             "test metrics per supervised baseline: mean, std and per seed", _week2_metrics),
    Artifact(2, "results/week2/<dataset>/<name>/learning_curves.png", "baselines", "seed 0's curves", _week2_metrics),
    Artifact(2, "results/week2/<dataset>/<name>/confusion_matrix.png", "baselines", "seed 0's confusion matrix",
             _week2_metrics),
    Artifact(3, "results/week3/<dataset>/baselines_table.md", "baselines", "the baselines leaderboard", _week3_table),
    Artifact(4, "results/week4/<dataset>/<name>/ssl_config.json", "label_efficiency",
             "every SSL hyperparameter and augmentation", _week4_ssl),
    Artifact(4, "results/week4/<dataset>/<name>/ssl_loss_curve.png", "label_efficiency", "SSL loss per epoch",
             _week4_ssl),
    Artifact(4, "results/week4/<dataset>/<name>/ssl_loss.json", "label_efficiency", "SSL loss values", _week4_ssl),
    Artifact(5, "results/week5/<dataset>/<name>/probe_metrics_<pct>pct.json", "label_efficiency",
             "linear-probe test metrics per label fraction (B1)", _week5_metrics),
    Artifact(5, "results/week5/<dataset>/<name>/finetune_metrics_<pct>pct.json", "label_efficiency",
             "fine-tuned test metrics per label fraction (B1)", _week5_metrics),
    Artifact(5, "results/week5/<dataset>/<name>/train_metrics_<pct>pct.json", "label_efficiency",
             "supervised-from-scratch test metrics per label fraction (B3)", _week5_metrics),
    Artifact(5, "results/week5/<dataset>/label_efficiency.png", "label_efficiency", "AUROC vs labels", _week5_curve),
    Artifact(5, "results/week5/<dataset>/label_efficiency_table.md", "label_efficiency", "the leaderboard",
             _week5_curve),
    Artifact(6, "results/week6/<dataset>/<name>/reliability.png", "calibration",
             "reliability diagram per model (uncalibrated and calibrated)", _week6_reliability),
    Artifact(6, "results/week6/<dataset>/P1_temp_scaling_table.md", "calibration",
             "ECE, NLL, Brier and AUROC before and after temperature scaling (P1)", _week6_p1),
    Artifact(6, "results/week6/<dataset>/P2_calibrators_table.md", "calibration", "every calibrator (P2)", _week6_p2),
    Artifact(7, "results/week7/<dataset>/P3_pr_vs_roc_table.md", "operating_points",
             "prevalence, ROC-AUC, PR-AUC and no-skill PR-AUC (P3)", _week7_p3),
    Artifact(7, "results/week7/<dataset>/P4_thresholds_table.md", "operating_points",
             "each selector's val threshold and its test TPR/FPR (P4)", _week7_p4),
    Artifact(7, "results/week7/<dataset>/B5_high_confidence_errors_<selector>.png", "operating_points",
             "top-k false positives and negatives at the chosen operating point (P4, B5)", _week7_errors),
    Artifact(7, "results/week7/<dataset>/B5_high_confidence_errors_<selector>.csv", "operating_points",
             "the same errors as a table", _week7_errors),
    Artifact(7, "results/week7/<dataset>/roc_pr.png", "operating_points", "ROC and PR curves", _week7_errors),
)


def write_plan_layout(roles, suites: dict, missing: dict, dest: Path, data_root: Optional[str]) -> tuple[list, list]:
    """Write :data:`PLAN_LAYOUT` under ``dest`` from the study's suites (role -> StudySuite; ``missing``:
    role -> why it has no results); returns (written relative paths, [(template, reason)])."""
    from harness import atomic_write_bytes, atomic_write_text

    dest = Path(dest)
    written: list[str] = []
    skipped: list[tuple[str, str]] = []
    done_writers: dict[tuple, list[str]] = {}
    for art in PLAN_LAYOUT:
        if art.role not in roles:
            skipped.append((art.path, f"the study has no `{art.role}` suite"))
            continue
        if art.role not in suites:
            skipped.append((art.path, missing.get(art.role, f"`{art.role}` has no results")))
            continue
        key = (art.role, art.write)
        if key not in done_writers:
            s = suites[art.role]
            ctx = _Ctx(s, s.lb_dir, s.runs_dir, data_root)
            paths = []
            for rel, content in art.write(ctx):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, Path):
                    atomic_write_bytes(target, content.read_bytes())
                elif isinstance(content, dict):
                    atomic_write_text(target, json.dumps(content, indent=2, default=_json_default) + "\n")
                else:
                    atomic_write_text(target, str(content))
                paths.append(rel)
            done_writers[key] = paths
            written.extend(paths)
        if not any(_matches(art.path, p) for p in done_writers[key]):
            skipped.append((art.path, f"`{art.role}` has no result of this kind"))
    index = ["# The plan's layout, exported by `bench export --plan-layout`", "",
             "Every number comes from the harness's results (mean, std and per-seed values over the seeds that ran); "
             "every figure is copied from its leaderboard or run folder.", "",
             "| week | name | from suite | what | files |", "|---|---|---|---|---|"]
    for art in PLAN_LAYOUT:
        n = sum(_matches(art.path, p) for p in written)
        index.append(f"| {art.week} | `{art.path}` | {art.role} | {art.what} | {n} |")
    if skipped:
        index += ["", "## Not written", ""] + [f"- `{t}`: {why}" for t, why in skipped]
    atomic_write_text(dest / "results" / "INDEX.md", "\n".join(index) + "\n")
    return written, skipped


def _matches(template: str, path: str) -> bool:
    import re

    pattern = re.escape(template)
    for ph in ("<dataset>", "<name>", "<pct>", "<selector>"):
        pattern = pattern.replace(re.escape(ph), "[^/]+")
    return re.fullmatch(pattern, path) is not None


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(type(o).__name__)
