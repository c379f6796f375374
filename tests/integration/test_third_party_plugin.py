"""Plugin packages installed with pip extend the harness with no core change, and broken ones are contained."""
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import bench

pytestmark = pytest.mark.integration  # real MedMNIST files (conftest also marks this folder)

TESTS = Path(__file__).resolve().parents[1]

SUITE = """
name: plugin_demo
version: 1
stages: [gamma_stats]
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 4}]
  augmentation: [{name: random_gamma, low: 0.7}]
  fraction: [0.2]
train: {epochs: 1}
eval: {bootstrap: 0}
leaderboard:
  metrics: [auroc, mean_test_prob]
  rows: [encoder, augmentation]
  reports: [gamma_report]
"""

FAILING = """
name: failing_demo
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 4}]
  ssl: [none, exploding]
  regime: [all, finetune]
  fraction: [0.2]
exclude:
  - {ssl: none, regime: finetune}
  - {ssl: exploding, regime: all}
pretrain: {epochs: 1, max_images: 64, batch_size: 32}
train: {epochs: 1}
eval: {bootstrap: 0}
"""


def install(pkg: str, tmp_path: Path) -> dict:
    site = tmp_path / f"site-{pkg}"
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources it builds
    src = shutil.copytree(TESTS / pkg, tmp_path / f"src-{pkg}", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(src)], check=True)
    return {"PYTHONPATH": str(site)}


def test_a_package_adds_an_augmentation_a_stage_a_report_and_an_executor(tmp_path, data_root):
    tree_before = set((TESTS / "third_party_plugin").rglob("*"))
    env = install("third_party_plugin", tmp_path)
    assert "random_gamma" not in bench("ls", "augmentations").stdout
    proc = bench("ls", "augmentations", "random_*", env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("random_gamma") and "per sample" in proc.stdout
    plugins = bench("plugins", env=env).stdout
    assert "bench_gamma  [bench-plugin-gamma 0.1.0, entry point 'gamma']" in plugins
    for kind, name in (("stages", "gamma_stats"), ("reports", "gamma_report"), ("executors", "reversed")):
        assert name in bench("ls", kind, env=env).stdout
    suite = tmp_path / "plugin_demo.yaml"
    suite.write_text(SUITE)
    assert bench("validate", str(suite), env=env).returncode == 0
    proc = bench("validate", str(suite))  # without the plugin installed: a clear error
    assert proc.returncode == 2 and "unknown" in proc.stderr and "random_gamma" in proc.stderr
    out = tmp_path / "out"
    proc = bench("run", str(suite), "--data-root", data_root, "--out", str(out), "--no-progress",
                 "--executor", "reversed", env=env)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_parquet(out / "results" / "plugin_demo" / "results.parquet")
    value = df[df["metric"] == "mean_test_prob"]["value"]
    assert len(value) == 1 and 0 < value.iloc[0] < 1
    run = next((out / "results" / "plugin_demo" / "runs").iterdir())
    assert (run / "gamma_stats.json").is_file()
    board = (out / "leaderboards" / "plugin_demo" / "breastmnist.md").read_text()
    assert "random_gamma(low=0.7)" in board and "mean test prob" in board  # a stage quantity, underscores as spaces
    assert "cells with a mean test probability: 1" in (out / "leaderboards" / "plugin_demo" / "comparison.md").read_text()
    assert set((TESTS / "third_party_plugin").rglob("*")) == tree_before, "installing wrote into the source tree"


def test_broken_plugins_are_reported_and_skipped(tmp_path):
    env = install("broken_plugin", tmp_path)
    proc = bench("plugins", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "bench_import_error" in proc.stdout and "BROKEN: ImportError" in proc.stdout
    assert "bench_duplicate" in proc.stdout and "duplicate calibrators name 'temperature'" in proc.stdout
    warnings = [l for l in proc.stderr.splitlines() if l.startswith("warning: plugin")]
    assert len(warnings) == 2 and all("entry point" in w for w in warnings)
    cal = bench("ls", "calibrators", env=env)
    assert cal.returncode == 0 and "temperature" in cal.stdout and "fine_but_skipped" not in cal.stdout
    proc = bench("ls", env={**env, "BENCH_LOAD_PLUGINS": "builtin,no_such_plugin"})
    assert proc.returncode == 2 and "no_such_plugin" in proc.stderr and "Traceback" not in proc.stderr


def test_an_exception_inside_a_cell_fails_that_cell_only(tmp_path, data_root):
    env = install("broken_plugin", tmp_path)
    suite = tmp_path / "failing.yaml"
    suite.write_text(FAILING)
    out = tmp_path / "out"
    args = ("run", str(suite), "--data-root", data_root, "--out", str(out), "--no-progress")
    proc = bench(*args, env=env)
    assert proc.returncode == 0, proc.stderr  # one cell of two failed: the suite still finishes
    assert "1 cell(s) failed" in proc.stderr and "RuntimeError: boom in the SSL step" in proc.stderr
    assert "Traceback" not in proc.stderr
    failures = pd.read_csv(out / "results" / "failing_demo" / "failures.csv")
    assert list(failures["stage"]) == ["pretrain"] and "boom" in failures["reason"].iloc[0]
    df = pd.read_parquet(out / "results" / "failing_demo" / "results.parquet")
    assert set(df["ssl"]) == {"none"}
    board = (out / "leaderboards" / "failing_demo" / "breastmnist.md").read_text()
    assert "1 cell(s) failed" in board
    # the failure is cached: a rerun reports it without recomputing; --retry-failed recomputes it
    again = bench(*args, env=env)
    assert again.returncode == 0 and "boom" in again.stderr and "stages to compute" not in again.stdout
    retry = bench(*args, "--retry-failed", env=env)
    assert retry.returncode == 0 and "boom" in retry.stderr
    assert "stage failed: pretrain: RuntimeError: boom" in retry.stderr
