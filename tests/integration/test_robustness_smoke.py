"""Robustness on the real data at tiny size: smoke_label_efficiency trains, smoke_robustness only reuses its models."""
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, bench

pytestmark = pytest.mark.integration  # real MedMNIST files

MODEL_STAGES = ("pretrain", "features", "train", "probe")


def _entries(cache: Path, stages=MODEL_STAGES) -> set:
    return {(s, p.name) for s in stages for p in (cache / s).glob("??/*") if (p / "manifest.json").is_file()}


@pytest.fixture(scope="module")
def rob(smoke_runs, data_root):
    out = smoke_runs.out("smoke_label_efficiency")
    args = ("--data-root", data_root, "--out", str(out), "--no-progress")
    before = _entries(out / ".bench_cache")
    proc = bench("run", str(REPO / "suites" / "smoke_robustness.yaml"), *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = _entries(out / ".bench_cache")
    parts = _entries(out / ".bench_cache", ("robustness.part",))
    again = bench("run", str(REPO / "suites" / "smoke_robustness.yaml"), *args)
    assert again.returncode == 0, again.stderr[-3000:]
    smoke_runs.publish(out, "smoke_label_efficiency", "smoke_robustness")
    return {"out": out, "before": before, "after": after, "parts": parts, "rerun": again.stdout,
            "parts_after_rerun": _entries(out / ".bench_cache", ("robustness.part",))}


def _df(rob) -> pd.DataFrame:
    return pd.read_parquet(rob["out"] / "results" / "smoke_robustness" / "results.parquet")


def test_no_model_is_trained_or_fitted_again(rob):
    assert rob["before"], "smoke_label_efficiency left no model entries"
    assert rob["after"] == rob["before"]  # no pretrain, features, train or probe entry was computed
    assert "18 cells (18 were cached" in rob["rerun"]
    assert rob["parts_after_rerun"] == rob["parts"]


def test_pieces_are_shared_across_models_calibrators_and_selectors(rob):
    # per dataset 2 perturbations x 2 severities of images (shared by the 3 models), logits per model
    # (4 conditions + clean, shared by its 3 calibrator/selector cells), rows per cell and condition
    assert len(rob["parts"]) == 2 * 4 + 6 * 5 + 18 * 4


def test_rows_per_condition_with_shift_columns(rob):
    df = _df(rob)
    s = df[df["condition"] != "clean"]
    conds = s.groupby("dataset")[["perturbation_set", "perturbation", "severity"]].apply(
        lambda g: sorted({(a, b, int(c)) for a, b, c in g.itertuples(index=False)}))
    assert conds["breastmnist"] == [("", p, sev) for p in ("contrast_down", "gaussian_noise") for sev in (1, 5)]
    assert conds["pneumoniamnist"] == [("", p, sev) for p in ("contrast_down", "pixelate") for sev in (1, 5)]
    assert set(s["condition"]) >= {"gaussian_noise@1", "pixelate@5"}
    assert set(s["metric"]) == {"auroc", "balanced_accuracy", "ece", "recall", "fpr"}
    assert set(s["stat"]) == {"value", "delta", "delta_ci_low", "delta_ci_high"}
    # every (run, condition, metric, calibrated) has all four stats; the CI holds the delta in most cells
    per = s.groupby(["run_id", "condition", "metric", "calibrated"])["stat"].nunique()
    assert per.eq(4).all() and len(per) == 18 * 4 * 5 * 2
    wide = s.pivot_table(index=["run_id", "condition", "metric", "calibrated"], columns="stat", values="value")
    ok = wide.dropna()
    assert ((ok["delta_ci_low"] <= ok["delta"] + 1e-9) & (ok["delta"] <= ok["delta_ci_high"] + 1e-9)).mean() > 0.8
    # clean rows of the same runs are untouched (evaluation's), and the leaderboard table reads only them
    assert (df[df["condition"] == "clean"]["perturbation"].isna()).all()


def test_the_reloaded_model_reproduces_the_stored_clean_predictions(rob):
    runs = sorted((rob["out"] / "results" / "smoke_robustness" / "runs").glob("*/robustness.json"))
    assert len(runs) == 18
    for f in runs:
        info = json.loads(f.read_text())
        assert info["clean_reload_max_abs_diff"] < 1e-6, f
        assert len(info["conditions"]) == 4 and info["resamples_kept"] == 20


def test_report_tables_and_figure(rob):
    from plugins.reports import _plots  # noqa: F401  (figures are described where they are drawn)

    lb = rob["out"] / "leaderboards" / "smoke_robustness"
    text = (lb / "breastmnist.md").read_text()
    for section in ("## Robustness under shift", "### Mean over corruptions and severities",
                    "### AUROC per corruption", "### Calibration under shift", "### Threshold stability"):
        assert section in text, section
    mean = text.split("### Mean over corruptions and severities")[1].split("###")[0]
    assert "| model | clean AUROC | mean AUROC | clean balanced accuracy | mean balanced accuracy | mBE (ref = 1) |" in mean
    ref_line = next(l for l in mean.splitlines() if l.startswith("| supervised (scratch) |"))
    assert ref_line.rstrip(" |").endswith("1.000 | 1.000")  # the reference's own normalised errors
    assert sum(l.startswith("| SimCLR ") for l in mean.splitlines()) == 2
    corr = text.split("### AUROC per corruption")[1].split("###")[0]
    assert "| corruption | supervised (scratch) | SimCLR probe | SimCLR finetune |" in corr
    assert all(f"| {c} |" in corr for c in ("contrast_down", "gaussian_noise"))
    cal = text.split("### Calibration under shift")[1].split("###")[0]
    assert "| severity 1 | severity 5 |" in cal and cal.count("temperature scaling") == 3
    thr = text.split("### Threshold stability")[1]
    assert "| sensitivity clean | Δsensitivity s1 | Δsensitivity s5 | FPR clean |" in thr and thr.count("Youden's J") == 3
    assert (lb / "figures" / "robustness_breastmnist.csv").stat().st_size > 1000
    assert "## Robustness under shift: Breast vs Pneumonia" in (lb / "comparison.md").read_text()
    png = lb / "figures" / "robustness_pneumoniamnist.png"
    assert png.stat().st_size > 10_000


def test_figure_has_a_panel_per_corruption_and_a_line_per_model(rob, data_root):
    """Redraw the report in this process to read back what the figure shows."""
    from harness import reporting
    from harness.suite import load_suite
    from plugins.reports import _plots
    from plugins.reports.robustness import Robustness

    suite = load_suite(REPO / "suites" / "smoke_robustness.yaml")
    ctx = reporting.ReportContext(suite=suite, df=_df(rob), runs_dir=rob["out"] / "results" / "smoke_robustness" / "runs",
                                  out_dir=rob["out"] / "redraw", data_root=data_root)
    spec = next(r for r in suite.reports if r.name == "robustness")
    Robustness(spec.config).build(ctx)
    panels = _plots.DRAWN["robustness_pneumoniamnist.png"]
    assert [p["title"] for p in panels] == ["pixelate", "contrast_down"]
    for p in panels:
        assert p["lines"] == 3 and p["legend"] in ([], ["supervised (scratch)", "SimCLR probe", "SimCLR finetune"])
        assert p["xlabel"] == "severity (0 = clean)"
    assert panels[0]["legend"] == ["supervised (scratch)", "SimCLR probe", "SimCLR finetune"]


def test_hard_cases_under_shift(rob):
    """B8: each cell's flips.csv lists exactly the images whose decision flips at its threshold, and the
    report writes the CSV (empty note column) and a gallery."""
    import numpy as np

    runs = rob["out"] / "results" / "smoke_robustness" / "runs"
    checked = 0
    for run in sorted(runs.iterdir()):
        f = pd.read_csv(run / "flips.csv", keep_default_na=False)
        assert list(f.columns) == ["condition", "perturbation_set", "perturbation", "severity", "index", "is_positive",
                                   "p_clean", "p_shifted", "note"]
        thr = json.loads((run / "robustness.json").read_text())["threshold"]
        if len(f):
            assert ((f["p_clean"] >= thr) != (f["p_shifted"] >= thr)).all() and (f["note"] == "").all()
            pred = pd.read_csv(run / "predictions.csv").query("split == 'test'")
            np.testing.assert_allclose(f["p_clean"], pred["prob_positive"].to_numpy()[f["index"]], atol=1e-6)
            checked += 1
    assert checked > 0
    lb = rob["out"] / "leaderboards" / "smoke_robustness"
    for ds in ("breastmnist", "pneumoniamnist"):
        assert (lb / "figures" / f"hard_cases_{ds}.png").is_file()
        hc = pd.read_csv(lb / "figures" / f"hard_cases_{ds}.csv", keep_default_na=False)
        assert {"model", "seed", "condition", "index", "note"} <= set(hc.columns) and len(hc)
        assert "### Hard cases under shift" in (lb / f"{ds}.md").read_text()
