"""The label-efficiency machinery end to end on the real data at tiny size: every regime, shared encoders."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, bench

pytestmark = pytest.mark.integration  # real MedMNIST files (conftest also marks this folder)


@pytest.fixture(scope="module")
def le(smoke_runs):
    return smoke_runs.out("smoke_label_efficiency")  # a private copy of the session's one run


def test_every_regime_produces_results(le):
    df = pd.read_parquet(le / "results" / "smoke_label_efficiency" / "results.parquet")
    auroc = df[(df.metric == "auroc") & (df.split == "test") & df.calibrated & (df.stat == "value")]
    got = set(zip(auroc.ssl, auroc.regime))
    assert got == {("none", "all"), ("none", "probe"), ("simclr", "probe"), ("simclr", "finetune"),
                   ("moco", "probe"), ("moco", "finetune")}
    probe = auroc[auroc.regime == "probe"]
    assert sorted(probe.fraction.unique()) == [0.05, 0.2, 1.0]
    assert auroc.groupby(["dataset", "ssl", "regime", "fraction"]).size().eq(2).all()  # 2 seeds each


def test_one_encoder_per_dataset_and_method_serves_every_cell(le):
    cache = le / ".bench_cache"
    pretrains = [p for p in (cache / "pretrain").glob("??/*") if p.is_dir()]
    assert len(pretrains) == 4  # (breast, pneumonia) x (simclr, moco), shared by all fractions/seeds/regimes
    features = [p for p in (cache / "features").glob("??/*") if p.is_dir()]
    assert len(features) == 6  # one per (dataset, encoder init): none, simclr, moco
    for p in pretrains:
        for f in ("encoder.safetensors", "head.safetensors", "ssl_config.json", "loss.json", "ssl_loss_curve.png"):
            assert (p / f).is_file(), f
        cfg = json.loads((p / "ssl_config.json").read_text())
        assert cfg["settings"]["epochs"] == 1 and cfg["augmentation"]
        assert len(json.loads((p / "loss.json").read_text())["epoch_loss"]) == 1


def test_figures_and_pivoted_leaderboard(le):
    lb = le / "leaderboards" / "smoke_label_efficiency"
    for f in ("label_efficiency_breastmnist.png", "label_efficiency_pneumoniamnist.png",
              "comparison_label_efficiency.png", "comparison_ssl_loss.png"):
        assert (lb / "figures" / f).is_file(), f
    text = (lb / "pneumoniamnist.md").read_text()
    assert "| method | 5 % | 20 % | 100 % | n |" in text
    assert "| supervised (scratch) |" in text and "| none | all |" not in text
    # sections in reading order, readers' names in the label-efficiency table
    order = [text.index(s) for s in ("## Data", "## Label efficiency", "## SSL pretraining")]
    assert order == sorted(order)
    assert "supervised (scratch)" in text and "SimCLR probe" in text
    run = next((le / "results" / "smoke_label_efficiency" / "runs").glob("breastmnist-*ssl-simclr-*finetune*"))
    assert (run / "figures" / "ssl_loss_curve.png").is_file() and (run / "ssl_config.json").is_file()


def test_a_diverging_pretraining_is_recorded_and_the_suite_goes_on(tmp_path, data_root):
    suite = tmp_path / "diverge.yaml"
    suite.write_text("""
name: diverge
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 4}]
  ssl: [none, simclr]
  regime: [probe]
  fraction: [0.5]
pretrain: {epochs: 1, lr: 1.0e+30, max_images: 64, batch_size: 32}
eval: {bootstrap: 0}
""")
    proc = bench("run", str(suite), "--data-root", data_root, "--out", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1 failed" in proc.stdout
    failures = pd.read_csv(tmp_path / "results" / "diverge" / "failures.csv")
    assert list(failures.ssl) == ["simclr"] and "non-finite loss" in failures.reason[0]
    assert "1 cell(s) failed" in (tmp_path / "leaderboards" / "diverge" / "breastmnist.md").read_text()
    df = pd.read_parquet(tmp_path / "results" / "diverge" / "results.parquet")
    assert set(df.ssl) == {"none"}


def test_calibration_and_operating_point_reports(le, data_root, smoke_runs):
    """smoke_calibration reuses smoke_label_efficiency's models: only calibrators and selectors are new."""
    cache = le / ".bench_cache"
    trained = {p.name for s in ("pretrain", "train", "features", "probe") for p in (cache / s).glob("??/*")}
    proc = bench("run", str(REPO / "suites" / "smoke_calibration.yaml"), "--data-root", data_root,
                 "--out", str(le), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name for s in ("pretrain", "train", "features", "probe") for p in (cache / s).glob("??/*")} == trained
    smoke_runs.publish(le, "smoke_label_efficiency", "smoke_calibration")

    lb = le / "leaderboards" / "smoke_calibration"
    figs = lb / "figures"
    for ds in ("breastmnist", "pneumoniamnist"):
        text = (lb / f"{ds}.md").read_text()
        for section in ("## Calibration", "## Operating points", "Ranking quality", "## High-confidence errors"):
            assert section in text, (ds, section)
        assert (figs / f"roc_pr_{ds}.png").is_file()
        assert (figs / f"confusion_{ds}.png").is_file()
        assert list(figs.glob(f"reliability_{ds}_*.png"))
        gallery = list(figs.glob(f"errors_{ds}_*.csv"))
        assert gallery
        errors = pd.read_csv(gallery[0], keep_default_na=False)
        assert set(errors.kind) <= {"FP", "FN"} and (errors.note == "").all()
        fp = errors[errors.kind == "FP"].prob_positive.tolist()
        assert fp == sorted(fp, reverse=True)  # most confident false positives first
    comparison = (lb / "comparison.md").read_text()
    assert "Breast" in comparison and "Pneumonia" in comparison

    df = pd.read_parquet(le / "results" / "smoke_calibration" / "results.parquet")
    test = df[df.split == "test"]
    assert test[test.metric == "temperature"].empty  # fitted parameters are val-split rows
    t = df[(df.calibrator == "temperature") & (df.metric == "temperature")]
    assert set(t.family) == {"calibrator"}
    assert len(t) and (t.value > 0).all() and not np.allclose(t.value, 1.0)  # temperature was really fitted
    # a monotone calibrator keeps the ranking: AUROC before == after for temperature
    a = test[(test.calibrator == "temperature") & (test.metric == "auroc") & (test.stat == "value")]
    piv = a.pivot_table(index="run_id", columns="calibrated", values="value")
    assert np.allclose(piv[True], piv[False], atol=1e-9)
    # thresholds were chosen on val: target_tpr meets its target on val
    sel = df[(df.threshold == "target_tpr") & (df.metric == "recall") & (df.split == "val") & (df.calibrator == "none")
             & df.calibrated]
    assert len(sel) and (sel.value >= 0.9 - 1e-9).all()


def test_truncated_pretrain_features_and_probe_entries_are_recomputed(le, tmp_path, data_root):
    """Each stage kind the smoke_calibration suite does not touch: a truncated artifact is found
    (by the size check on every reached entry), moved aside, recomputed, and the numbers do not move."""
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(le / ".bench_cache", out / ".bench_cache")
    cache = out / ".bench_cache"
    hit = {}
    for stage, name in (("pretrain", "encoder.safetensors"), ("features", "features.npz"), ("probe", "probe.json")):
        f = sorted(cache.glob(f"{stage}/??/*/{name}"))[0]
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
        hit[stage] = f
    suite = str(REPO / "suites" / "smoke_label_efficiency.yaml")
    proc = bench("run", suite, "--data-root", data_root, "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for stage, f in hit.items():
        assert f"corrupt cache entry moved aside and recomputed: stage {stage}" in proc.stderr, stage
        assert f.is_file() and f.parent.joinpath("manifest.json").is_file()
    cols = ["run_id", "split", "metric", "calibrated", "stat"]
    a, b = (pd.read_parquet(d / "results" / "smoke_label_efficiency" / "results.parquet") for d in (out, le))
    a, b = (x[x.metric != "train_seconds"].sort_values(cols).reset_index(drop=True) for x in (a, b))
    pd.testing.assert_frame_equal(a, b)
