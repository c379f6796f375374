"""Leaderboard reports on a tiny synthetic results tree: hand-checked numbers, files, error sheets."""
import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from harness.components import Split
from harness.reports import REPORTS, ReportContext
from harness.suite import Suite

DATASETS = {"breastmnist": 0, "pneumoniamnist": 1}  # label -> positive label
ENCODERS = ("resnet18", "smallcnn")
SEEDS = (0, 1)
N = 40
MODEL_LABELS = {"ssl": "none", "ssl_augmentation": "-", "regime": "all", "augmentation": "none", "fraction": 1.0}


def ece_uncal(seed):  # per seed, any model: 0.20, 0.30 -> mean 0.250, std 0.0707
    return 0.20 + 0.10 * seed


def ece_after(seed):  # temperature: 0.05, 0.07 -> 0.060 ± 0.0141
    return 0.05 + 0.02 * seed


def temperature(seed):  # fitted T: 1.5, 2.5 -> mean 2
    return 1.5 + seed


def auroc(ds, enc):  # the best model differs per dataset
    best = "resnet18" if ds == "breastmnist" else "smallcnn"
    return 0.9 if enc == best else 0.7


def youden_threshold(seed):
    return 0.40 + 0.02 * seed


def _counts(y, p, thr):
    pred = p >= thr
    return {"tp": np.sum(pred & (y == 1)), "fp": np.sum(pred & (y == 0)), "tn": np.sum(~pred & (y == 0)),
            "fn": np.sum(~pred & (y == 1))}


def build_tree(root):
    """Run folders (predictions.csv, spec.json, metrics.csv) and the tidy rows, like `bench run` writes."""
    runs = root / "results" / "t" / "runs"
    rows, truth = [], {}
    for di, (ds, pos) in enumerate(DATASETS.items()):
        lab_rng = np.random.default_rng(100 + di)
        labels = {s: lab_rng.integers(0, 2, N) for s in ("val", "test")}  # the same split for every model
        is_pos = {s: (labels[s] == pos).astype(int) for s in labels}
        for ei, enc in enumerate(ENCODERS):
            for seed in SEEDS:
                rng = np.random.default_rng([di, ei, seed])
                raw = {s: np.clip(0.5 + 0.3 * (2 * is_pos[s] - 1) + rng.normal(0, 0.25, N), 0.001, 0.999)
                       for s in labels}
                for cal in ("none", "temperature"):
                    if cal == "none":
                        prob = raw
                    else:
                        logit = {s: np.log(raw[s] / (1 - raw[s])) for s in raw}
                        prob = {s: 1 / (1 + np.exp(-logit[s] / temperature(seed))) for s in raw}
                    for sel in ("fixed", "youden"):
                        thr = 0.5 if sel == "fixed" else youden_threshold(seed)
                        lab = {"dataset": ds, "encoder": enc, **MODEL_LABELS, "seed": seed, "calibrator": cal,
                               "threshold": sel}
                        run_id = f"{ds}-{enc}-s{seed}-{cal}-{sel}"
                        d = runs / run_id
                        d.mkdir(parents=True)
                        pred = pd.concat([pd.DataFrame({"split": s, "index": np.arange(N), "label": labels[s],
                                                        "is_positive": is_pos[s], "prob_positive": prob[s].round(6),
                                                        "prob_positive_uncalibrated": raw[s].round(6)})
                                          for s in ("val", "test")])
                        pred.to_csv(d / "predictions.csv", index=False)
                        params = {"temperature": temperature(seed)} if cal == "temperature" else {}
                        (d / "spec.json").write_text(json.dumps({"spec": {}, "labels": lab,
                                                                 "calibrator": {"name": cal, "params": params}}))
                        yt, pt = is_pos["test"], pred[pred["split"] == "test"]["prob_positive"].to_numpy()
                        c = _counts(yt, pt, thr)
                        truth[run_id] = c
                        m = {"threshold": thr, "recall": c["tp"] / (c["tp"] + c["fn"]),
                             "fpr": c["fp"] / (c["fp"] + c["tn"]), "precision": 0.6, "npv": 0.7, "f1": 0.65,
                             "accuracy": 0.75, "balanced_accuracy": 0.72, **c,
                             "ece_uncal": ece_uncal(seed), "ece": ece_uncal(seed) if cal == "none" else ece_after(seed),
                             "ece_pos_uncal": 0.3, "ece_pos": 0.3 if cal == "none" else 0.1, "brier": 0.2,
                             "nll": 0.6, "mce": 0.4, "auroc": auroc(ds, enc), "auroc_uncal": auroc(ds, enc),
                             "pr_auc": 0.8}
                        mrows = [{"split": "test", "metric": k, "value": float(v)} for k, v in m.items()]
                        mrows += [{"split": "test", "metric": "tpr_gap", "value": 0.01 * (seed + 1)},
                                  {"split": "test", "metric": "fpr_gap", "value": -0.02},
                                  {"split": "val", "metric": "threshold", "value": thr}]
                        mrows += [{"split": "val", "metric": f"cal_{k}", "value": v} for k, v in params.items()]
                        mdf = pd.DataFrame([{**lab, **r} for r in mrows])
                        mdf.to_csv(d / "metrics.csv", index=False)
                        rows.append(mdf.assign(run_id=run_id))
    return runs, pd.concat(rows, ignore_index=True), truth


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    runs, df, truth = build_tree(root)
    loaded = []

    def load_split(ds, split):
        loaded.append((ds, split))
        rng = np.random.default_rng(0)
        return Split(images=rng.integers(0, 256, (N, 28, 28), dtype=np.uint8), labels=np.zeros(N, dtype=np.int64))

    ctx = ReportContext(suite=Suite(name="t", version=1, description="", path="t.yaml", runs=(), tables=()),
                        df=df, runs_dir=runs, out_dir=root / "leaderboards" / "t", load_split=load_split)
    out = {name: fn(ctx) for name, fn in REPORTS.items()}
    return ctx, out, truth, loaded


def _rows(md: str, first: str) -> list[list[str]]:
    """Markdown table rows whose first cell is ``first``, split into cells."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines()
            if line.startswith("| ") and line.strip("|").split("|")[0].strip() == first]


def _header(md: str, first: str) -> list[str]:
    return _rows(md, first)[0]


def test_registry_names_the_three_reports():
    assert list(REPORTS) == ["calibration", "operating_points", "errors"]
    assert all(REPORTS[n].__name__ == "report" and REPORTS[n].__module__ == f"harness.reports.{n}" for n in REPORTS)
    assert "nope" not in REPORTS


def test_calibration_table_hand_values(tree):
    ctx, out, _, _ = tree
    assert set(out["calibration"]) == {"breastmnist", "pneumoniamnist", "comparison"}
    md = out["calibration"]["breastmnist"]
    assert "fitted on the val split only" in md
    head = _header(md, "encoder")
    assert head[:4] == ["encoder", "calibrator", "ECE top-label before", "ECE top-label after"]
    rows = {(r[0], r[1]): dict(zip(head, r)) for r in _rows(md, "resnet18") + _rows(md, "smallcnn")}
    assert len(rows) == 4  # 2 models x 2 calibrators; selectors do not add rows
    t = rows[("resnet18", "temperature")]
    assert t["ECE top-label before"] == "0.250 ± 0.071"
    assert t["ECE top-label after"] == "0.060 ± 0.014"
    assert (t["ECE pos. before"], t["ECE pos. after"]) == ("0.300 ± 0.000", "0.100 ± 0.000")
    assert t["fitted params (mean)"] == "temperature=2"
    assert t["AUROC after"] == "0.900 ± 0.000"
    assert t["n"] == "2"  # seeds, not seeds x selectors
    assert rows[("resnet18", "none")]["fitted params (mean)"] == "-"
    assert rows[("resnet18", "none")]["ECE top-label after"] == "0.250 ± 0.071"


def test_calibration_comparison_puts_datasets_side_by_side(tree):
    _, out, _, _ = tree
    md = out["calibration"]["comparison"]
    head = _header(md, "encoder")
    assert head == ["encoder", "calibrator", "ECE before [Breast]", "ECE before [Pneumonia]",
                    "ECE after [Breast]", "ECE after [Pneumonia]"]
    row = dict(zip(head, [r for r in _rows(md, "resnet18") if r[1] == "temperature"][0]))
    assert row["ECE before [Pneumonia]"] == "0.250 ± 0.071"
    assert row["ECE after [Breast]"] == row["ECE after [Pneumonia]"] == "0.060 ± 0.014"


def test_reliability_pngs_for_calibrated_cells_only(tree):
    ctx, out, _, _ = tree
    pngs = sorted(p.name for p in ctx.fig_dir.glob("reliability_*.png"))
    assert pngs == sorted(f"reliability_{ds}_{enc}-sup-all-none-f1_temperature.png"
                          for ds in DATASETS for enc in ENCODERS)
    assert all((ctx.fig_dir / p).stat().st_size > 10_000 for p in pngs)
    assert "](figures/reliability_breastmnist_resnet18-sup-all-none-f1_temperature.png)" in \
        out["calibration"]["breastmnist"]


def test_operating_points_table(tree):
    ctx, out, truth, _ = tree
    md = out["operating_points"]["breastmnist"].split("### PR vs ROC")[0]
    head = _header(md, "encoder")
    assert head[:5] == ["encoder", "calibrator", "selector", "threshold", "TPR"]
    for col in ("FPR", "precision", "NPV", "F1", "accuracy", "bal. acc.", "TPR gap", "FPR gap", "TP (mean)",
                "FN (mean)", "n"):
        assert col in head
    rows = [dict(zip(head, r)) for r in _rows(md, "resnet18")]
    assert len(rows) == 4  # 2 calibrators x 2 selectors
    y = [r for r in rows if (r["calibrator"], r["selector"]) == ("none", "youden")][0]
    assert y["threshold"] == "0.410 ± 0.014"
    assert y["TPR gap"] == "0.015 ± 0.007"
    tp = np.mean([truth[f"breastmnist-resnet18-s{s}-none-youden"]["tp"] for s in SEEDS])
    assert y["TP (mean)"] == f"{tp:.1f}"
    assert y["n"] == "2"


def test_roc_pr_and_confusion_figures(tree):
    ctx, out, _, _ = tree
    for ds in DATASETS:
        for name in (f"roc_pr_{ds}.png", f"confusion_{ds}.png"):
            assert (ctx.fig_dir / name).stat().st_size > 10_000
            assert f"](figures/{name})" in out["operating_points"][ds]
    assert "smallcnn sup all none f1 (best mean test AUROC" not in out["operating_points"]["breastmnist"]
    assert "best model by mean test AUROC (resnet18" in out["operating_points"]["breastmnist"]
    assert "best model by mean test AUROC (smallcnn" in out["operating_points"]["pneumoniamnist"]


def test_pr_vs_roc_table_uses_test_prevalence(tree):
    ctx, out, _, _ = tree
    md = out["operating_points"]["breastmnist"].split("### PR vs ROC")[1]
    head = _header(md, "encoder")
    assert head == ["encoder", "test prevalence", "ROC-AUC", "PR-AUC", "no-skill PR-AUC", "n"]
    p = pd.read_csv(ctx.runs_dir / "breastmnist-resnet18-s0-none-fixed" / "predictions.csv")
    prev = p[p["split"] == "test"]["is_positive"].mean()
    row = dict(zip(head, _rows(md, "resnet18")[0]))
    assert row["test prevalence"] == row["no-skill PR-AUC"] == f"{prev:.3f}"
    assert row["ROC-AUC"] == "0.900 ± 0.000"


def test_operating_points_comparison(tree):
    _, out, _, _ = tree
    md = out["operating_points"]["comparison"]
    head = _header(md, "encoder")
    assert head[:5] == ["encoder", "calibrator", "selector", "TPR [Breast]", "TPR [Pneumonia]"]
    assert {"FPR gap [Breast]", "F1 [Pneumonia]", "precision [Breast]"} <= set(head)
    assert len(_rows(md, "smallcnn")) == 4


def test_error_sheet_ranks_confident_errors_with_breast_positive_label_0(tree):
    ctx, out, _, loaded = tree
    p = pd.read_csv(ctx.runs_dir / "breastmnist-resnet18-s0-none-youden" / "predictions.csv")
    p = p[p["split"] == "test"]
    thr = youden_threshold(0)
    with open(ctx.fig_dir / "errors_breastmnist_youden.csv", newline="") as f:
        sheet = list(csv.DictReader(f))
    assert list(sheet[0]) == ["kind", "rank", "index", "prob_positive", "true_label", "pred_label", "note"]
    fp = p[(p["is_positive"] == 0) & (p["prob_positive"] >= thr)].sort_values("prob_positive", ascending=False)
    fn = p[(p["is_positive"] == 1) & (p["prob_positive"] < thr)].sort_values("prob_positive")
    assert len(fp) >= 2 and len(fn) >= 1  # the synthetic data has errors of both kinds
    got_fp = [r for r in sheet if r["kind"] == "FP"]
    got_fn = [r for r in sheet if r["kind"] == "FN"]
    assert [int(r["index"]) for r in got_fp] == fp["index"].head(8).tolist()
    assert [int(r["index"]) for r in got_fn] == fn["index"].head(8).tolist()
    assert [int(r["rank"]) for r in got_fp] == list(range(1, len(got_fp) + 1))
    probs = [float(r["prob_positive"]) for r in got_fp]
    assert probs == sorted(probs, reverse=True)
    # BreastMNIST: label 0 (malignant) is positive, so a false positive is a true normal/benign (label 1)
    assert all(r["true_label"] == "normal/benign" and r["pred_label"] == "malignant" for r in got_fp)
    assert all(r["true_label"] == "malignant" and r["pred_label"] == "normal/benign" for r in got_fn)
    assert set(p.set_index("index").loc[[int(r["index"]) for r in got_fp], "label"]) == {1}
    assert all(r["note"] == "" for r in sheet)
    assert ("breastmnist", "test") in loaded


def test_top_errors_ranks_by_confidence_breaks_ties_by_index_and_keeps_k():
    from harness.reports.errors import top_errors

    # BreastMNIST coding: label 0 = malignant = positive
    pred = pd.DataFrame({"index": [0, 1, 2, 3, 4, 5, 6],
                         "label": [1, 1, 1, 1, 0, 0, 0],
                         "is_positive": [0, 0, 0, 0, 1, 1, 1],
                         "prob_positive": [0.9, 0.7, 0.9, 0.2, 0.1, 0.3, 0.8]})
    got = top_errors(pred, 0.5, 2, {0: "malignant", 1: "normal/benign"}, 0)
    assert got[["kind", "rank", "index"]].values.tolist() == [["FP", 1, 0], ["FP", 2, 2], ["FN", 1, 4],
                                                              ["FN", 2, 5]]
    assert (got.attrs["n_fp"], got.attrs["n_fn"]) == (3, 2)  # index 1 (0.7) is an FP left out by k = 2
    assert got.loc[got["kind"] == "FP", "true_label"].unique().tolist() == ["normal/benign"]
    assert got.loc[got["kind"] == "FN", "pred_label"].unique().tolist() == ["normal/benign"]


def test_error_sheet_pneumonia_positive_label_1(tree):
    ctx, _, _, _ = tree
    sheet = pd.read_csv(ctx.fig_dir / "errors_pneumoniamnist_fixed.csv", keep_default_na=False)
    assert set(sheet.loc[sheet["kind"] == "FP", "true_label"]) <= {"normal"}
    assert set(sheet.loc[sheet["kind"] == "FN", "pred_label"]) <= {"normal"}
    assert (sheet["note"] == "").all()


def test_error_galleries_and_markdown(tree):
    ctx, out, _, _ = tree
    assert set(out["errors"]) == set(DATASETS)
    for ds in DATASETS:
        for sel in ("fixed", "youden"):
            assert (ctx.fig_dir / f"errors_{ds}_{sel}.png").stat().st_size > 10_000
            assert f"(figures/errors_{ds}_{sel}.csv)" in out["errors"][ds]
            assert f"(figures/errors_{ds}_{sel}.png)" in out["errors"][ds]
    assert "Best model by mean test AUROC: smallcnn" in out["errors"]["pneumoniamnist"]


def test_run_folders_found_from_spec_json_without_run_id(tree, tmp_path):
    ctx, _, _, _ = tree
    df = ctx.df.drop(columns="run_id")
    c2 = ReportContext(suite=ctx.suite, df=df, runs_dir=ctx.runs_dir, out_dir=tmp_path, load_split=ctx.load_split)
    REPORTS["errors"](c2)
    a = (tmp_path / "figures" / "errors_breastmnist_fixed.csv").read_text()
    assert a == (ctx.fig_dir / "errors_breastmnist_fixed.csv").read_text()


def test_listing_reports_imports_nothing_heavy_and_lookup_imports_no_torch():
    heavy = "[m for m in ('torch', 'sklearn', 'matplotlib', 'netcal', 'pandas') if m in sys.modules]"
    code = (f"import sys; from harness.reports import REPORTS; names = list(REPORTS); print({heavy}); "
            f"fns = [REPORTS[n] for n in names]; print({heavy})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    listed, looked_up = out.strip().splitlines()
    assert listed == "[]"  # validating a suite's `reports:` list stays instant
    assert looked_up == "['pandas']"  # the report modules need pandas, nothing heavier until they draw


def test_summary_counts_seeds_once_and_prints_undefined_values_as_na():
    from harness.reports._common import _cell, _summary

    df = pd.DataFrame({"encoder": ["a"] * 4, "seed": [0, 0, 1, 1], "threshold": ["fixed", "youden"] * 2,
                       "split": "test", "metric": ["recall"] * 4, "value": [np.nan] * 4})
    s = _summary(df, ["encoder"], ["recall"], "test")
    assert s[("a", "recall")][2] == 2  # two seeds; two selectors per seed are one observation
    assert _cell(s, "a", "recall") == "n/a"
    assert _cell(s, "b", "recall") == ""
