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
def smoke(tmp_path_factory, data_root):
    out = tmp_path_factory.mktemp("smoke")
    proc = bench("run", str(REPO / "suites" / "smoke.yaml"), "--data-root", data_root, "--out", str(out),
                 "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_results_are_tidy_and_complete(smoke):
    out, _ = smoke
    df = pd.read_parquet(out / "results" / "smoke" / "results.parquet")
    assert {"dataset", "encoder", "regime", "augmentation", "fraction", "seed", "split", "metric", "value"} <= set(df.columns)
    pd.testing.assert_frame_equal(df.reset_index(drop=True),
                                  pd.read_csv(out / "results" / "smoke" / "results.csv").reset_index(drop=True),
                                  check_dtype=False)
    assert df["run_id"].nunique() == 12
    auroc = df[(df.metric == "auroc") & (df.split == "test")]
    assert len(auroc) == 12 and auroc["value"].between(0, 1).all()
    for m in ("pr_auc", "balanced_accuracy", "accuracy", "precision", "recall", "f1", "ece", "brier",
              "auroc_ci_low", "auroc_ci_high", "accuracy_ci_low", "accuracy_ci_high", "tp", "fn"):
        assert m in set(df.metric), m
    ci = df[df.split == "test"].pivot_table(index="run_id", columns="metric", values="value")
    assert (ci["auroc_ci_low"] <= ci["auroc"] + 1e-9).all() and (ci["auroc"] <= ci["auroc_ci_high"] + 1e-9).all()


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
    assert 1 <= spec["train"]["best_epoch"] <= 2 and spec["train"]["train_seconds"] > 0
    for fig in ("learning_curves.png", "confusion_matrix.png"):
        assert (run / "figures" / fig).stat().st_size > 1000
    # the saved probabilities reproduce the saved metric
    from sklearn.metrics import roc_auc_score

    t = pred[pred.split == "test"]
    metrics = pd.read_csv(run / "metrics.csv")
    saved = metrics[(metrics.metric == "auroc") & (metrics.split == "test")].value.item()
    assert np.isclose(roc_auc_score(t.is_positive, t.prob_positive), saved, atol=1e-5)


def test_leaderboards_and_eda(smoke):
    out, _ = smoke
    lb = out / "leaderboards" / "smoke"
    for name in ("breastmnist.md", "pneumoniamnist.md", "comparison.md"):
        text = (lb / name).read_text()
        assert text.startswith("<!-- Generated") and "Suite `smoke` version 1" in text
    breast = (lb / "breastmnist.md").read_text()
    assert "malignant (label 0)" in breast and "**" in breast and "| 2 |" in breast
    assert "auroc [Breast]" in (lb / "comparison.md").read_text()
    for ds in ("breastmnist", "pneumoniamnist"):
        assert (lb / "figures" / f"eda_{ds}.png").stat().st_size > 5000


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
    assert "1 to run" in dry.stdout
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
