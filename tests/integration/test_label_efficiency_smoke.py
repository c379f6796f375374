"""The label-efficiency machinery end to end on the real data at tiny size: every regime, shared encoders."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, bench


@pytest.fixture(scope="module")
def le(tmp_path_factory, data_root):
    out = tmp_path_factory.mktemp("le")
    proc = bench("run", str(REPO / "suites" / "smoke_label_efficiency.yaml"), "--data-root", data_root,
                 "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_every_regime_produces_results(le):
    df = pd.read_parquet(le / "results" / "smoke_label_efficiency" / "results.parquet")
    auroc = df[(df.metric == "auroc") & (df.split == "test")]
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
        assert (lb / "figures" / f).stat().st_size > 5000, f
    text = (lb / "pneumoniamnist.md").read_text()
    assert "| ssl | regime | fraction=0.05 | fraction=0.2 | fraction=1 | n |" in text
    run = next((le / "results" / "smoke_label_efficiency" / "runs").glob("breastmnist-*ssl-simclr-finetune*"))
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
