"""The smoke suite end to end on the real MedMNIST files: results, leaderboards, figures, caching."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, bench

pytestmark = pytest.mark.integration  # real MedMNIST files (conftest also marks this folder)


def _stage_dirs(cache: Path) -> set:
    return {p for p in cache.glob("*/??/*") if p.is_dir() and not p.name.startswith(".tmp")}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, data_root, smoke_runs):
    out = tmp_path_factory.mktemp("smoke")
    proc = bench("run", str(REPO / "suites" / "smoke.yaml"), "--data-root", data_root, "--out", str(out),
                 "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    smoke_runs.publish(out, "smoke")  # before any test here edits the cache
    return out, proc


def test_results_are_tidy_and_complete(smoke):
    out, _ = smoke
    df = pd.read_parquet(out / "results" / "smoke" / "results.parquet")
    assert {"dataset", "encoder", "regime", "augmentation", "fraction", "seed", "split", "metric", "family",
            "calibrated", "stat", "condition", "value"} <= set(df.columns)
    pd.testing.assert_frame_equal(df.reset_index(drop=True),
                                  pd.read_csv(out / "results" / "smoke" / "results.csv").reset_index(drop=True),
                                  check_dtype=False)
    assert df["run_id"].nunique() == 12
    test = df[(df.split == "test") & df.calibrated]
    auroc = test[(test.metric == "auroc") & (test.stat == "value")]
    assert len(auroc) == 12 and auroc["value"].between(0, 1).all()
    for m in ("pr_auc", "balanced_accuracy", "accuracy", "precision", "recall", "f1", "ece", "brier", "tp", "fn",
              "threshold"):
        assert m in set(test.metric), m
    # every metric on raw and calibrated probabilities; CIs as a stat, not a name
    assert set(df[df.metric == "ece"]["calibrated"]) == {True, False}
    assert set(df[df.family == "ranking"]["metric"]) == {"auroc", "pr_auc"}
    ci = test[test.metric.isin(["auroc", "accuracy"])].pivot_table(index=["run_id", "metric"], columns="stat",
                                                                    values="value")
    assert len(ci) == 24 and (ci["ci_low"] <= ci["value"] + 1e-9).all() and (ci["value"] <= ci["ci_high"] + 1e-9).all()


def test_run_folder_has_predictions_subset_config_and_figures(smoke, data_root):
    out, _ = smoke
    runs = sorted((out / "results" / "smoke" / "runs").iterdir())
    run = next(r for r in runs if r.name.startswith("breastmnist"))
    pred = pd.read_csv(run / "predictions.csv")
    assert (pred.split == "val").sum() == 78 and (pred.split == "test").sum() == 156
    # Breast's positive class is malignant = label 0
    assert ((pred.label == 0) == (pred.is_positive == 1)).all()
    assert pred.prob_positive.between(0, 1).all()
    subset = json.loads((run / "subset.json").read_text())
    assert subset["fraction"] == 0.2 and subset["n"] == len(subset["indices"]) == round(0.2 * 147) + round(0.2 * 399)
    spec = json.loads((run / "spec.json").read_text())
    assert spec["spec"]["train"]["epochs"] == 2 and spec["versions"]["torch"]
    info = spec["stage_info"]["train"]
    assert 1 <= info["best_epoch"] <= 2 and info["train_seconds"] > 0
    assert spec["plugins"]["encoder"]["distribution"] == "medmnist-ssl-bench" and spec["device"] == "cpu"
    assert set(spec["stage_keys"]) == {"train", "calibrate", "evaluate"}
    for fig in ("learning_curves.png", "confusion_matrix.png"):
        assert (run / "figures" / fig).stat().st_size > 1000
    # the saved probabilities reproduce the saved metric
    from sklearn.metrics import roc_auc_score

    t = pred[pred.split == "test"]
    metrics = pd.read_csv(run / "metrics.csv")
    saved = metrics[(metrics.metric == "auroc") & (metrics.split == "test") & metrics.calibrated
                    & (metrics.stat == "value")].value.item()
    assert roc_auc_score(t.is_positive, t.prob_positive) == pytest.approx(saved, abs=1e-12)  # full precision


def test_leaderboards_and_eda(smoke):
    out, _ = smoke
    lb = out / "leaderboards" / "smoke"
    for name in ("breastmnist.md", "pneumoniamnist.md", "comparison.md"):
        text = (lb / name).read_text()
        assert text.startswith("<!-- Generated") and "Suite `smoke` version 1" in text
    breast = (lb / "breastmnist.md").read_text()
    assert "malignant (label 0)" in breast and "| 2 |" in breast
    # the best test AUROC per dataset is the bold one in its column
    df = pd.read_parquet(out / "results" / "smoke" / "results.parquet")
    d = df[(df.dataset == "breastmnist") & (df.metric == "auroc") & (df.split == "test") & df.calibrated
           & (df.stat == "value")].groupby(["encoder", "regime"])["value"].mean()
    best = d.idxmax()
    # rows in the reader's words: the regime of a no-SSL model is "supervised (scratch)" / "head on random init"
    method = {"all": "supervised (scratch)", "head": "head on random init"}[best[1]]
    row = next(l for l in breast.splitlines() if l.startswith(f"| {best[0]} | {method} |"))
    assert row.split("|")[4].strip().startswith(f"**{d.max():.3f}")
    assert "| encoder | method | augmentation | AUROC ↑ |" in breast
    assert "AUROC [Breast]" in (lb / "comparison.md").read_text()


def test_rerun_trains_nothing_and_resumes_a_killed_cell(smoke, data_root):
    out, _ = smoke
    cache = out / ".bench_cache"
    before = _stage_dirs(cache)
    proc = bench("run", str(REPO / "suites" / "smoke.yaml"), "--data-root", data_root, "--out", str(out), "--no-progress")
    assert proc.returncode == 0 and "12 were cached" in proc.stdout
    assert _stage_dirs(cache) == before
    dry = bench("run", str(REPO / "suites" / "smoke.yaml"), "--data-root", data_root, "--out", str(out), "--dry-run")
    assert dry.stdout.count("cached ") == 12 and "0 to run" in dry.stdout
    # A run killed after training but before evaluation resumes at that stage only.
    ev = sorted(p for p in before if p.parts[-3] == "evaluate")[0]
    shutil.rmtree(ev)
    dry = bench("run", str(REPO / "suites" / "smoke.yaml"), "--data-root", data_root, "--out", str(out), "--dry-run")
    assert "1 to run" in dry.stdout and "stages to compute: 1 evaluate" in dry.stdout
    proc = bench("run", str(REPO / "suites" / "smoke.yaml"), "--data-root", data_root, "--out", str(out), "--no-progress")
    assert proc.returncode == 0 and "11 were cached" in proc.stdout
    assert _stage_dirs(cache) == before  # the same key again: only the evaluate stage was recomputed


def test_md5_is_verified(tmp_path, data_root):
    bad = tmp_path / "root"
    bad.mkdir()
    blob = bytearray((Path(data_root) / "breastmnist.npz").read_bytes())
    blob[-10] ^= 0xFF
    (bad / "breastmnist.npz").write_bytes(bytes(blob))
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: 1\nmatrix: {dataset: [breastmnist], encoder: [smallcnn]}\n")
    proc = bench("run", str(suite), "--data-root", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "MD5" in proc.stderr and "Traceback" not in proc.stderr


def test_size_64_loads_and_missing_size_explains(tmp_path, data_root):
    from harness.suite import ComponentSpec
    from plugins.datasets.breastmnist import BreastMNIST
    from plugins.datasets.pneumoniamnist import PneumoniaMNIST
    from harness.errors import DataError

    s = BreastMNIST(BreastMNIST.Config(size=64)).load(data_root)
    assert s["train"].images.shape == (546, 64, 64) and s["train"].images.dtype == np.uint8
    with pytest.raises(DataError, match="missing.*download it from"):
        PneumoniaMNIST(PneumoniaMNIST.Config(size=64)).load(data_root)


def test_a_reloaded_model_reproduces_its_saved_test_probabilities(smoke, data_root):
    """Each smoke cell's persisted network (or probe), calibrator and threshold, rebuilt from the cache."""
    from harness import load_cell, load_suite
    from harness.data import load_splits
    from harness.store import Store

    out, _ = smoke
    store = Store(out / ".bench_cache")
    suite = load_suite(REPO / "suites" / "smoke.yaml")
    for spec in suite.runs[:3]:
        model = load_cell(spec, store)
        test = load_splits(spec.dataset, data_root)["test"].images
        from harness.runner import run_id

        pred = pd.read_csv(out / "results" / "smoke" / "runs" / run_id(spec) / "predictions.csv")
        saved = pred[pred.split == "test"]
        assert np.abs(model.predict_proba(test) - saved.prob_positive.to_numpy()).max() < 1e-6
        assert np.abs(model.predict_proba(test, calibrated=False) - saved.prob_positive_uncalibrated.to_numpy()).max() < 1e-6
        assert set(np.unique(model.predict(test))) <= {0, 1}
    # the same from a run folder
    from harness.model import load_run

    run = out / "results" / "smoke" / "runs" / run_id(spec)
    again = load_run(run, cache_dir=out / ".bench_cache", suite_path=REPO / "suites" / "smoke.yaml")
    assert np.array_equal(again.predict_proba(test), model.predict_proba(test))


@pytest.fixture(scope="module")
def corrupted(smoke, tmp_path_factory, data_root):
    """A copy of the smoke output whose cache has one garbled artifact per stage kind."""
    src, _ = smoke
    out = tmp_path_factory.mktemp("corrupt")
    shutil.copytree(src / ".bench_cache", out / ".bench_cache")
    cache = out / ".bench_cache"
    # one cell's chain: its evaluate entry is edited, so evaluate reruns and reads the flipped
    # calibrate artifact (a same-size flip is caught when read), which reruns and reads train's
    run = sorted((src / "results" / "smoke" / "runs").iterdir())[0]
    keys = json.loads((run / "spec.json").read_text())["stage_keys"]
    hits = {}
    for stage, name, how in (("train", "predictions.npz", "truncate"), ("calibrate", "calibrated.npz", "flip"),
                             ("evaluate", "rows.json", "edit")):
        f = cache / stage / keys[stage][:2] / keys[stage] / name
        blob = bytearray(f.read_bytes())
        if how == "truncate":
            blob = blob[: len(blob) // 2]
        elif how == "flip":
            blob[len(blob) // 2] ^= 0xFF
        else:  # a number edited by hand: still valid JSON
            blob = bytearray(blob.decode().replace("0.", "0.9", 1).encode())
        f.write_bytes(bytes(blob))
        hits[stage] = f
    return out, hits, src


def test_cache_verify_finds_every_corrupt_artifact(corrupted):
    out, hits, _ = corrupted
    proc = bench("cache", "verify", "--out", str(out))
    assert proc.returncode == 1
    for stage, f in hits.items():
        assert f"stage {stage}" in proc.stdout and str(f) in proc.stdout


def test_a_corrupt_artifact_is_moved_aside_and_recomputed(corrupted, data_root):
    out, hits, src = corrupted
    proc = bench("run", str(REPO / "suites" / "smoke.yaml"), "--data-root", data_root, "--out", str(out),
                 "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for stage in hits:
        assert f"corrupt cache entry moved aside and recomputed: stage {stage}" in proc.stderr
    assert bench("cache", "verify", "--out", str(out)).returncode == 0
    # the recomputed results equal the untouched run's (training is deterministic on the CPU)
    cols = ["run_id", "split", "metric", "calibrated", "stat"]
    a, b = (pd.read_parquet(d / "results" / "smoke" / "results.parquet") for d in (out, src))
    a, b = (x[x.metric != "train_seconds"].sort_values(cols).reset_index(drop=True) for x in (a, b))
    pd.testing.assert_frame_equal(a, b)
    gc = bench("cache", "gc", "--out", str(out))
    assert gc.returncode == 0 and not list((out / ".bench_cache").glob("*/corrupt/*"))


def test_processes_executor_gives_the_same_results_as_local(smoke, tmp_path, data_root):
    """The Breast half of the smoke suite (its 6 cells: both encoders, both regimes, 2 seeds) in 2 worker
    processes, into an empty cache: every row equals the local run's row of the same cell."""
    out, _ = smoke
    other = tmp_path / "p"
    text = (REPO / "suites" / "smoke.yaml").read_text()
    part = text.replace("name: smoke\n", "name: smoke_part\n").replace(
        "dataset: [breastmnist, pneumoniamnist]", "dataset: [breastmnist]")
    assert part.count("smoke_part") == 1 and "pneumoniamnist" not in part
    (tmp_path / "part.yaml").write_text(part)
    proc = bench("run", str(tmp_path / "part.yaml"), "--data-root", data_root, "--out", str(other),
                 "--no-progress", "--executor", "processes", "--workers", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    cols = ["run_id", "split", "metric", "calibrated", "stat"]
    b = pd.read_parquet(other / "results" / "smoke_part" / "results.parquet")
    a = pd.read_parquet(out / "results" / "smoke" / "results.parquet")
    assert b.run_id.nunique() == 6 and set(b.run_id) < set(a.run_id)
    a = a[a.run_id.isin(set(b.run_id))]
    a, b = (x[~x.metric.isin(["train_seconds"])].sort_values(cols).reset_index(drop=True) for x in (a, b))
    pd.testing.assert_frame_equal(a, b)
