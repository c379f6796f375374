"""A plugin package installed with pip adds an augmentation that a suite can use, with no core change."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import bench

pytestmark = pytest.mark.integration  # real MedMNIST files (conftest also marks this folder)

PKG = Path(__file__).resolve().parents[1] / "third_party_plugin"

SUITE = """
name: plugin_demo
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 4}]
  augmentation: [{name: random_gamma, low: 0.7}]
  fraction: [0.2]
train: {epochs: 1}
eval: {bootstrap: 0}
"""


def test_entry_point_plugin_adds_an_augmentation(tmp_path, data_root):
    tree_before = set(PKG.rglob("*"))
    site = tmp_path / "site"
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources it builds
    src = shutil.copytree(PKG, tmp_path / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(src)], check=True)
    env = {"PYTHONPATH": str(site)}
    before = bench("ls", "augmentations")
    assert "random_gamma" not in before.stdout
    proc = bench("ls", "augmentations", "random_*", env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("random_gamma") and "per sample" in proc.stdout
    plugins = bench("plugins", env=env).stdout
    assert "bench_gamma  [bench-plugin-gamma 0.1.0, entry point 'gamma']  augmentations: random_gamma" in plugins
    suite = tmp_path / "plugin_demo.yaml"
    suite.write_text(SUITE)
    bad = bench("validate", str(suite), env={"PYTHONPATH": str(site)} | {})
    assert bad.returncode == 0, bad.stderr
    proc = bench("validate", str(suite))  # without the plugin installed: a clear error
    assert proc.returncode == 2 and "unknown augmentation 'random_gamma'" in proc.stderr
    out = tmp_path / "out"
    proc = bench("run", str(suite), "--data-root", data_root, "--out", str(out), "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    board = (out / "leaderboards" / "plugin_demo" / "breastmnist.md").read_text()
    assert "random_gamma(low=0.7)" in board
    assert set(PKG.rglob("*")) == tree_before, "installing the plugin wrote into the source tree"
