"""Report plugins on a tiny synthetic results tree: typed rows, run folders, hand-checked numbers.

Each report's ``build(ctx)`` runs in-process. Tests check what a reader sees: table headers, numbers,
which cell is bold, and what each figure plots (titles, legends, tick labels, number of lines, read
back from the saved figure by ``plugins.reports._plots.describe``).
"""
import ast
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import harness
from harness import Split, get_registry, reporting
from harness.reporting import ReportContext

from plugins.reports import _plots
from plugins.reports._common import reliability_bins
from plugins.reports.errors import top_errors
from plugins.reports.label_efficiency import curves as le_curves
from plugins.reports.operating_points import roc_pr_curves

DATASETS = ("breastmnist", "pneumoniamnist")  # real plugins: positive labels 0 (malignant) and 1 (pneumonia)
SEEDS = (0, 1)
CALS = ("none", "temperature")
SELS = ("fixed", "youden")
FRACTIONS = (0.1, 1.0)
N = 40
#: (ssl, ssl_augmentation, regime, augmentation): a supervised baseline and a SimCLR linear probe
MODELS = (("none", "-", "all", "aug_a"), ("simclr", "xray_ssl", "probe", "-"))
FAMILY = {m: f for f in ("ranking", "threshold", "calibration", "count") for m in reporting.metric_names(f)}


def auroc(ds, ssl, fraction, seed):
    """Breast: SimCLR best at both fractions; Pneumonia: supervised best at 100 %."""
    base = {("none", 1.0): 0.80, ("none", 0.1): 0.60, ("simclr", 1.0): 0.85, ("simclr", 0.1): 0.75}[(ssl, fraction)]
    if ds == "pneumoniamnist" and (ssl, fraction) == ("none", 1.0):
        base = 0.90
    return base + 0.01 * seed


def ece(seed, cal, calibrated):  # raw 0.20 / 0.30 -> 0.250 ± 0.071; temperature 0.05 / 0.07 -> 0.060 ± 0.014
    return 0.05 + 0.02 * seed if calibrated and cal == "temperature" else 0.20 + 0.10 * seed


def threshold(sel, seed):  # youden 0.40 / 0.42 -> 0.410 ± 0.014
    return 0.5 if sel == "fixed" else 0.40 + 0.02 * seed


def metric_value(name, split, ds, ssl, fraction, seed, cal, sel, calibrated):
    if name == "auroc":
        return auroc(ds, ssl, fraction, seed)
    if name == "ece":
        return ece(seed, cal, calibrated)
    if name == "recall":  # val 0.8; test 0.81 / 0.82 -> gap 0.015 ± 0.007
        return 0.8 + (0.01 * (seed + 1) if split == "test" else 0.0)
    if FAMILY[name] == "calibration":
        return 0.3 if calibrated and cal == "temperature" else 0.4
    return {"count": 10.0}.get(FAMILY[name], 0.7)


def build_tree(root: Path):
    runs = root / "results" / "t" / "runs"
    rows = []
    for di, ds in enumerate(DATASETS):
        rng_lab = np.random.default_rng(100 + di)
        labels = {s: rng_lab.integers(0, 2, N) for s in ("val", "test")}
        pos = 0 if ds == "breastmnist" else 1
        is_pos = {s: (labels[s] == pos).astype(int) for s in labels}
        for mi, (ssl, ssl_aug, regime, aug) in enumerate(MODELS):
            for fraction in FRACTIONS:
                for seed in SEEDS:
                    rng = np.random.default_rng([di, mi, int(fraction * 10), seed])
                    raw = {s: np.clip(0.5 + 0.25 * (2 * is_pos[s] - 1) + rng.normal(0, 0.25, N), 0.001, 0.999)
                           for s in labels}
                    for cal in CALS:
                        prob = raw if cal == "none" else {s: 1 / (1 + np.exp(-np.log(raw[s] / (1 - raw[s])) / 2))
                                                          for s in raw}
                        for sel in SELS:
                            lab = {"dataset": ds, "encoder": "smallcnn", "ssl": ssl, "ssl_augmentation": ssl_aug,
                                   "regime": regime, "augmentation": aug, "fraction": fraction, "seed": seed,
                                   "calibrator": cal, "threshold": sel}
                            run_id = f"{ds}-{ssl}-f{fraction}-s{seed}-{cal}-{sel}"
                            d = runs / run_id
                            d.mkdir(parents=True)
                            pd.concat([pd.DataFrame({"split": s, "index": np.arange(N), "label": labels[s],
                                                     "is_positive": is_pos[s], "prob_positive": prob[s],
                                                     "prob_positive_uncalibrated": raw[s]}) for s in ("val", "test")]
                                      ).to_csv(d / "predictions.csv", index=False)
                            keys = {"evaluate": run_id}
                            if ssl != "none":  # one encoder per dataset: no seed, fraction or calibrator read
                                keys["pretrain"] = f"pre-{ds}"
                                (d / "ssl_loss.json").write_text(json.dumps(
                                    {"epoch_loss": [5.0, 4.0, 3.5], "seconds": 2.0, "images_per_second": 100.0}))
                            (d / "spec.json").write_text(json.dumps({"labels": lab, "stage_keys": keys}))
                            thr = threshold(sel, seed)
                            y, p = is_pos["test"], prob["test"]
                            tp, fn = int(np.sum((p >= thr) & (y == 1))), int(np.sum((p < thr) & (y == 1)))
                            fp, tn = int(np.sum((p >= thr) & (y == 0))), int(np.sum((p < thr) & (y == 0)))
                            (d / "confusion_matrix.json").write_text(json.dumps(
                                {"labels": ["pos", "neg"], "rows_true_cols_pred": [[tp, fn], [fp, tn]],
                                 "threshold": thr, "split": "test"}))
                            start = len(rows)
                            for calibrated in (False, True):
                                for split in ("val", "test"):
                                    for m in FAMILY:
                                        rows.append({**lab, "split": split, "metric": m, "family": FAMILY[m],
                                                     "calibrated": calibrated, "stat": "value",
                                                     "value": metric_value(m, split, ds, ssl, fraction, seed, cal,
                                                                           sel, calibrated)})
                                    rows.append({**lab, "split": split, "metric": "threshold", "family": "info",
                                                 "calibrated": calibrated, "stat": "value", "value": thr})
                            if cal == "temperature":
                                rows.append({**lab, "split": "val", "metric": "temperature", "family": "calibrator",
                                             "calibrated": False, "stat": "value", "value": 1.5 + seed})
                            for r in rows[start:]:
                                r["run_id"] = run_id
    df = pd.DataFrame(rows)
    df["condition"] = "clean"
    return runs, df


class Ctx(ReportContext):
    """A context whose splits come from memory (no dataset files)."""

    def load_split(self, dataset, split):
        rng = np.random.default_rng(0)
        labels = np.array([0] * 12 + [1] * 8) if split == "train" else np.array([0, 1] * (N // 2))
        return Split(images=rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8), labels=labels)


def suite(name="t"):
    return SimpleNamespace(name=name, datasets=[SimpleNamespace(label=lambda d=d: d) for d in DATASETS], reports=())


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    runs, df = build_tree(root)
    ctx = Ctx(suite=suite(), df=df, runs_dir=runs, out_dir=root / "leaderboards" / "t")
    reg = get_registry("reports")
    small = {"calibration": {"max_figures": 2}, "errors": {"k": 3}}  # fewer figures: a faster test
    out = {n: reg.get(n)(reg.get(n).Config(**small.get(n, {}))).build(ctx)
           for n in ("calibration", "operating_points", "errors", "eda", "label_efficiency", "ssl_loss")}
    return ctx, out


def _table(md: str, first_header: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the first markdown table whose first header cell is ``first_header``."""
    lines = md.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] == first_header and lines[i + 1].startswith("|---"):
            body = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                body.append([c.strip() for c in row.strip().strip("|").split("|")])
            return cells, body
    raise AssertionError(f"no table starting with {first_header!r}")


def _dicts(md, first):
    head, body = _table(md, first)
    return [dict(zip(head, r)) for r in body]


# --- registry and import rules -----------------------------------------------------------------------

def test_reports_are_registered_with_their_flags():
    reg = get_registry("reports")
    flags = {n: (reg.get(n).always, reg.get(n).needs_results) for n in reg.names()}
    assert flags["calibration"] == flags["operating_points"] == flags["errors"] == (False, True)
    assert flags["label_efficiency"] == flags["ssl_loss"] == (True, True)
    assert flags["eda"] == (True, False)
    assert all(issubclass(reg.get(n), harness.Report) for n in reg.names())


def test_report_plugins_import_only_public_harness_names():
    for f in sorted(Path(__file__).resolve().parents[2].joinpath("plugins", "reports").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
                assert node.module == "harness", f"{f.name}: from {node.module} import ..."
                assert all(a.name in harness.__all__ for a in node.names), f"{f.name}: private harness name"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("harness.") for a in node.names), f.name


def test_configs_reject_metrics_of_another_family():
    reg = get_registry("reports")
    with pytest.raises(ValueError, match="not calibration metrics"):
        reg.get("calibration").Config(metrics=("auroc",))
    with pytest.raises(ValueError, match="not threshold metrics"):
        reg.get("operating_points").Config(metrics=("ece",))
    assert reg.get("calibration").Config(metrics=["ece"]).metrics == ("ece",)


# --- calibration ---------------------------------------------------------------------------------------

def test_calibration_table_numbers_and_bold(tree):
    _, out = tree
    assert set(out["calibration"]) == {*DATASETS, "comparison"}
    md = out["calibration"]["breastmnist"]
    head, _ = _table(md, "model")
    assert head[:3] == ["model", "labelled", "calibrator"]
    assert {"ECE before", "ECE after", "fitted params (mean)", "AUROC before", "AUROC after", "n"} <= set(head)
    # every calibration metric of the registry (by its display name), none by hard-coded list
    assert [h[:-len(" after")] for h in head if h.endswith(" after") and h[:-6] != "AUROC"] == \
        [reporting.metric_title(m) for m in reporting.metric_names("calibration")]
    rows = {(r["model"], r["labelled"], r["calibrator"]): r for r in _dicts(md, "model")}
    assert len(rows) == 2 * 2 * 2  # 2 methods x 2 fractions x 2 calibrators; selectors add no rows
    t = rows[("SimCLR probe", "100 %", "temperature scaling")]
    assert (t["ECE before"], t["ECE after"]) == ("0.250 ± 0.071", "**0.060 ± 0.014**")  # ece: lower is best
    assert t["fitted params (mean)"] == "temperature=2"
    assert t["AUROC after"] == "0.855 ± 0.007"
    assert t["n"] == "2"  # seeds, not seeds x selectors
    none = rows[("supervised (scratch)", "100 %", "no calibration")]
    assert (none["ECE after"], none["fitted params (mean)"]) == ("0.250 ± 0.071", "-")
    assert "reference calibrator (`no calibration`)" in md


def test_calibration_comparison_lines_up_datasets(tree):
    _, out = tree
    md = out["calibration"]["comparison"]
    head, _ = _table(md, "model")
    assert "ECE ↓ [Breast]" in head and "ECE ↓ [Pneumonia]" in head
    row = [r for r in _dicts(md, "model") if (r["model"], r["labelled"], r["calibrator"]) ==
           ("SimCLR probe", "10 %", "temperature scaling")][0]
    assert row["ECE ↓ [Breast]"] == row["ECE ↓ [Pneumonia]"] == "0.060 ± 0.014"


def test_reliability_figure_per_model_plots_raw_then_each_calibrator(tree):
    ctx, out = tree
    name = "reliability_breastmnist_SimCLR_probe_100.png"
    assert (ctx.fig_dir / name).is_file()
    assert f"](figures/{name})" in out["calibration"]["breastmnist"]
    assert sorted(p.name for p in ctx.fig_dir.glob("reliability_breastmnist_*.png")) == [
        "reliability_breastmnist_SimCLR_probe_100.png", "reliability_breastmnist_supervised_scratch_100.png"]
    assert "Showing 2 of 4 models" in out["calibration"]["breastmnist"]
    titles = [a["title"] for a in _plots.DRAWN[name] if a["ylabel"] == "accuracy"]
    assert [t.split("\n")[0] for t in titles] == ["before (raw model)", "after: temperature"]
    # the ECE in the panel title is the one of the plotted bins
    p = reporting.predictions(ctx.runs_dir / "breastmnist-simclr-f1.0-s0-temperature-fixed", "test")
    b = reliability_bins(p["is_positive"], p["prob_positive"])
    assert f"ECE {b['ece']:.3f}" in titles[1]


def test_reliability_bins_match_the_registered_ece_metric():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.uniform(0, 1, 300), 2)  # ties and scores on bin edges
    b = reliability_bins(y, p)
    ece = get_registry("metrics").get("ece")()
    assert b["ece"] == pytest.approx(ece(y, p, 0.5), abs=1e-12)
    assert b["count"].sum() == 300 and len(b["edges"]) == 16
    assert b["count"][:7].sum() == 0  # top-label confidence is >= 0.5


# --- operating points ------------------------------------------------------------------------------------

def test_operating_point_table_and_gaps(tree):
    _, out = tree
    md = out["operating_points"]["breastmnist"]
    head, _ = _table(md, "model")
    assert head[:5] == ["model", "labelled", "calibrator", "selector", "threshold"]
    assert head[5:-1] == [reporting.metric_title(m) for m in reporting.metric_names("threshold")]
    assert head[-1] == "n" and "balanced accuracy" in head and "balanced_accuracy" not in head
    rows = _dicts(md, "model")
    assert len(rows) == 2 * 2 * 2 * 2  # methods x fractions x calibrators x selectors
    y = [r for r in rows if (r["model"], r["labelled"], r["calibrator"], r["selector"]) ==
         ("SimCLR probe", "100 %", "no calibration", "Youden's J")][0]
    assert (y["threshold"], y["sensitivity"], y["n"]) == ("0.410 ± 0.014", "0.815 ± 0.007", "2")
    assert not any("**" in v for r in rows for v in r.values())  # selectors trade rates: no "best"
    gap_md = md.split("### Val → test drift")[1]
    g = [r for r in _dicts(gap_md, "model") if (r["model"], r["calibrator"], r["selector"]) ==
         ("SimCLR probe", "no calibration", "Youden's J")][0]
    assert (g["sensitivity gap"], g["precision gap"]) == ("0.015 ± 0.007", "0.000 ± 0.000")


def test_ranking_table_bolds_the_best_model(tree):
    _, out = tree
    md = out["operating_points"]["pneumoniamnist"].split("### Ranking quality")[1]
    rows = {(r["model"], r["labelled"]): r for r in _dicts(md, "model")}
    assert rows[("supervised (scratch)", "100 %")]["AUROC"] == "**0.905 ± 0.007**"
    assert rows[("SimCLR probe", "100 %")]["AUROC"] == "0.855 ± 0.007"
    assert "test prevalence of pneumonia" in md


def test_roc_pr_and_confusion_figures(tree):
    ctx, out = tree
    roc, pr = _plots.DRAWN["roc_pr_breastmnist.png"]
    models = ["supervised (scratch), 10 %", "supervised (scratch), 100 %", "SimCLR probe, 10 %",
              "SimCLR probe, 100 %"]  # suite order
    assert [s.split(" (AUC")[0] for s in roc["legend"][:4]] == models
    capped = roc_pr_curves(ctx, ctx.df[ctx.df["dataset"] == "breastmnist"], 2)[0]  # 100 % first when capped
    assert [c["name"] for c in capped] == ["supervised (scratch), 100 %", "SimCLR probe, 100 %"]
    assert roc["legend"][4:] == ["no skill (AUC 0.5)", "selector: fixed", "selector: youden"]
    assert pr["ylabel"] == "precision" and "malignant" in pr["xlabel"]
    grid = _plots.DRAWN["confusion_breastmnist.png"]
    assert [a["title"].split("\n")[0] for a in grid] == ["fixed", "youden"]
    assert "SimCLR probe, 100 %" in out["operating_points"]["breastmnist"].split("Confusion matrices")[1]
    assert "](figures/roc_pr_breastmnist.png)" in out["operating_points"]["breastmnist"]


def test_operating_points_comparison(tree):
    _, out = tree
    head, body = _table(out["operating_points"]["comparison"], "model")
    assert head[4:6] == ["threshold [Breast]", "threshold [Pneumonia]"]
    assert len(body) == 16


# --- errors ------------------------------------------------------------------------------------------------

def test_top_errors_ranks_confident_mistakes():
    pred = pd.DataFrame({"index": range(6), "label": [0, 0, 1, 1, 0, 1], "is_positive": [1, 1, 0, 0, 1, 0],
                         "prob_positive": [0.9, 0.2, 0.95, 0.6, 0.1, 0.7]})
    errs = top_errors(pred, 0.5, 2, {0: "malignant", 1: "benign"}, 0)
    assert errs[["kind", "index"]].values.tolist() == [["FP", 2], ["FP", 5], ["FN", 4], ["FN", 1]]
    assert set(errs["note"]) == {""} and errs.attrs == {"n_fp": 3, "n_fn": 2}
    assert errs["pred_label"].tolist() == ["malignant", "malignant", "benign", "benign"]


def test_error_sheets_and_galleries(tree):
    ctx, out = tree
    md = out["errors"]["breastmnist"]
    assert "Best model by mean test AUROC: SimCLR probe, 100 %" in md
    sheet = pd.read_csv(ctx.fig_dir / "errors_breastmnist_youden.csv", keep_default_na=False)
    assert list(sheet.columns) == ["kind", "rank", "index", "prob_positive", "true_label", "pred_label", "note"]
    assert set(sheet["note"]) == {""}
    fp = sheet[sheet["kind"] == "FP"]["prob_positive"].tolist()
    assert fp == sorted(fp, reverse=True)
    rows = {r["selector"]: r for r in _dicts(md, "selector")}
    assert rows["Youden's J"]["threshold"] == "0.400"  # the lowest seed's threshold
    g = _plots.DRAWN["errors_breastmnist_youden.png"]
    assert g[0]["ylabel"].startswith("false positives") and len(g) == 2 * 3  # k = 3 per row


# --- always-on reports --------------------------------------------------------------------------------------

def test_eda_counts_and_sheet(tree):
    ctx, out = tree
    md = out["eda"]["pneumoniamnist"]
    head, body = _table(md, "split")
    assert head == ["split", "0: normal", "1: pneumonia (+)", "total", "positive share"]
    assert body[0] == ["train", "12", "8", "20", "40.0%"]
    assert (ctx.fig_dir / "eda_pneumoniamnist.png").is_file() and "](figures/eda_pneumoniamnist.png)" in md


def test_eda_needs_no_results(tmp_path):
    ctx = Ctx(suite=suite(), df=pd.DataFrame(), runs_dir=tmp_path, out_dir=tmp_path / "lb")
    assert set(get_registry("reports").get("eda")().build(ctx)) == set(DATASETS)


def test_label_efficiency_curves_names_and_percent_ticks(tree):
    ctx, out = tree
    c = le_curves(ctx.df, "breastmnist", "auroc")
    assert list(c) == ["supervised (scratch)", "SimCLR probe"]
    fr, mean, std, n = c["SimCLR probe"]
    assert fr.tolist() == [0.1, 1.0] and np.allclose(mean, [0.755, 0.855]) and n.tolist() == [2, 2]
    (ax,) = _plots.DRAWN["label_efficiency_breastmnist.png"]
    assert ax["legend"] == ["supervised (scratch)", "SimCLR probe"] and ax["lines"] == 2
    assert ax["xticklabels"] == ["10 %", "100 %"] and ax["xscale"] == "log"
    assert ax["ylabel"] == "test AUROC" and "labelled" in ax["xlabel"]
    both = _plots.DRAWN["comparison_label_efficiency.png"]
    assert [a["title"] for a in both] == ["Breast", "Pneumonia"]
    rows = {r["method"]: r for r in _dicts(out["label_efficiency"]["breastmnist"], "method")}
    assert rows["SimCLR probe"]["100 % labelled"] == "**0.855 ± 0.007**"
    assert rows["supervised (scratch)"]["10 % labelled"] == "0.605 ± 0.007"


def test_label_efficiency_bolds_by_direction_and_needs_two_fractions(tree):
    ctx, _ = tree
    rep = get_registry("reports").get("label_efficiency")
    md = rep(rep.Config(metric="ece"))  # lower is better; calibrator none: raw ece for every model
    rows = _dicts(md.build(ctx)["breastmnist"], "method")
    assert all(r["100 % labelled"] == "**0.250 ± 0.071**" for r in rows)
    one = ctx.df[ctx.df["fraction"] == 1.0]
    assert rep().build(Ctx(suite=suite(), df=one, runs_dir=ctx.runs_dir, out_dir=ctx.out_dir)) == {}


def test_ssl_loss_one_curve_per_pretrained_encoder(tree):
    _, out = tree
    (ax,) = _plots.DRAWN["ssl_loss_breastmnist.png"]
    assert ax["legend"] == ["SimCLR"] and ax["lines"] == 1  # 2 fractions x 2 seeds x 2 cals share one encoder
    assert ax["xticklabels"] and ax["xlabel"] == "pretraining epoch"
    assert ax["ylabel"].startswith("SSL loss (train), scaled per encoder")
    head, body = _table(out["ssl_loss"]["breastmnist"], "encoder")
    assert body == [["SimCLR", "3", "5.000", "3.500", "2.0", "100"]]
    assert "comparison" in out["ssl_loss"]


def test_each_ssl_loss_curve_is_drawn_on_its_own_range():
    """Barlow Twins' loss (~1,900) and BYOL's (below zero) share one axis only on their own ranges."""
    barlow = _plots.scaled_to_range([1927.6, 1731.0, 1598.0])
    np.testing.assert_allclose(barlow, [1.0, (1731.0 - 1598.0) / (1927.6 - 1598.0), 0.0])
    byol = _plots.scaled_to_range([-0.34, -0.5, -0.64])
    np.testing.assert_allclose(byol, [1.0, 0.14 / 0.30, 0.0])
    np.testing.assert_array_equal(_plots.scaled_to_range([2.0, 2.0]), [0.0, 0.0])  # flat: no range to scale to
    nan = _plots.scaled_to_range([3.0, float("nan"), 1.0])
    assert nan[0] == 1.0 and np.isnan(nan[1]) and nan[2] == 0.0
