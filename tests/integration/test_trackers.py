"""`bench run --track mlflow --track tensorboard` on a tiny suite over the real files, read back from both stores."""
from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import bench

# find_spec, not importorskip: importing MLflow at collection costs about a second even in runs that
# deselect this module (`pytest -m "not integration"` still collects it)
pytestmark = [pytest.mark.integration,  # real MedMNIST files (conftest also marks this folder)
              pytest.mark.skipif(importlib.util.find_spec("mlflow") is None,
                                 reason="the mlflow tracker needs MLflow (pip install '.[tracking]')"),
              pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                                 reason="the tensorboard tracker needs TensorBoard (pip install '.[tracking]')")]

# 2 datasets x (supervised, SimCLR-pretrained): trained cells with a 2-epoch history, 2 with an SSL curve.
SUITE = """\
name: tiny_track
version: 2
matrix:
  dataset: [breastmnist, pneumoniamnist]
  encoder: [{name: smallcnn, width: 4}]
  ssl: [none, simclr]
  regime: [all]
  augmentation: [aug_a]
  fraction: [0.1]
  seed: [0]
pretrain: {epochs: 1}
train: {epochs: 2}
eval: {bootstrap: 0}
"""
CELLS = 4


def _client(out: Path):
    import os

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for it to read a file store
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=(out / "mlruns").resolve().as_uri())


def _runs(out: Path):
    """{parent run id: [child runs]} of the suite's experiment, oldest parent first."""
    client = _client(out)
    runs = client.search_runs([client.get_experiment_by_name("tiny_track").experiment_id],
                              order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return {p.info.run_id: [r for r in runs if r.data.tags.get("mlflow.parentRunId") == p.info.run_id]
            for p in parents}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, data_root):
    tmp = tmp_path_factory.mktemp("trackers")
    suite = tmp / "tiny_track.yaml"
    suite.write_text(SUITE)
    out = tmp / "out"
    args = ("run", str(suite), "--data-root", data_root, "--out", str(out), "--no-progress",
            "--track", "mlflow", "--track", "tensorboard")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default store: OUT/mlruns
        first = bench(*args)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "warning: tracker" not in first.stderr, first.stderr[-3000:]
        runs_after_first = _runs(out)
        second = bench(*args)  # everything cached now
        assert second.returncode == 0, second.stderr[-3000:]
        assert f"{CELLS} cells ({CELLS} were cached" in second.stdout
        yield types.SimpleNamespace(suite=suite, out=out, first=runs_after_first, second=_runs(out), args=args,
                                    results=pd.read_csv(out / "results" / "tiny_track" / "results.csv"))


def test_one_parent_and_one_child_per_cell(tracked):
    assert len(tracked.first) == 1
    (children,) = tracked.first.values()
    assert sorted(c.info.run_name for c in children) == sorted(tracked.results["run_id"].unique())
    for c in children:
        assert c.data.tags["run_id"] == c.info.run_name and c.data.tags["suite"] == "tiny_track"
        assert c.data.tags["suite_version"] == "2" and c.data.tags["cached"] == "false"
        assert {"stage_key.train", "stage_key.calibrate", "stage_key.evaluate"} <= set(c.data.tags)
        assert c.data.params["train.epochs"] == "2" and c.data.params["encoder.name"] == "smallcnn"
        assert c.data.params["encoder.width"] == "4" and c.data.params["suite"] == "tiny_track"


def test_final_metrics_equal_results_csv(tracked):
    (children,) = tracked.first.values()
    df = tracked.results
    test = df[(df.split == "test") & (df.stat == "value") & (df.condition == "clean")]
    for c in children:
        rows = test[test.run_id == c.info.run_name]
        for metric in ("auroc", "pr_auc", "balanced_accuracy", "ece"):
            cal = rows[(rows.metric == metric) & rows.calibrated].value.item()
            raw = rows[(rows.metric == metric) & ~rows.calibrated].value.item()
            assert c.data.metrics[f"test/{metric}"] == pytest.approx(cal, rel=1e-12, abs=1e-15)
            assert c.data.metrics[f"test/{metric}_raw"] == pytest.approx(raw, rel=1e-12, abs=1e-15)


def test_per_epoch_history_and_artifacts(tracked):
    client = _client(tracked.out)
    (children,) = tracked.first.values()
    for c in children:
        rid = c.info.run_id
        for name in ("train_loss", "val_loss", "val_auroc"):
            assert [m.step for m in client.get_metric_history(rid, name)] == [1, 2], name
        ssl = [m.step for m in client.get_metric_history(rid, "ssl_loss")]
        assert ssl == ([1] if "-ssl-simclr-" in c.info.run_name else [])
        arts = {a.path for a in client.list_artifacts(rid)}
        assert {"spec.json", "history.json", "figures"} <= arts
        assert "figures/learning_curves.png" in {a.path for a in client.list_artifacts(rid, "figures")}


def test_tensorboard_scalars(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = tracked.out / "tensorboard" / "tiny_track"
    assert sorted(p.name for p in root.iterdir()) == sorted(tracked.results["run_id"].unique())
    df = tracked.results
    for d in root.iterdir():
        assert len(list(d.glob("events.out.tfevents.*"))) == 1  # the rerun replaced, not doubled, the events
        ea = EventAccumulator(str(d))
        ea.Reload()
        tags = set(ea.Tags()["scalars"])
        assert {"train_loss", "val_loss", "val_auroc", "test/auroc", "test/auroc_raw"} <= tags
        assert [e.step for e in ea.Scalars("val_auroc")] == [1, 2]
        assert ("ssl_loss" in tags) == ("-ssl-simclr-" in d.name)
        want = df[(df.run_id == d.name) & (df.split == "test") & (df.metric == "auroc") & df.calibrated
                  & (df.stat == "value")].value.item()
        assert ea.Scalars("test/auroc")[0].value == pytest.approx(want, abs=1e-6)  # stored as float32


def test_a_rerun_with_every_cell_cached_logs_every_cell(tracked):
    runs = tracked.second
    assert len(runs) == 2
    (first_parent,) = tracked.first
    (second_children,) = [v for k, v in runs.items() if k != first_parent]
    assert len(second_children) == CELLS and all(c.data.tags["cached"] == "true" for c in second_children)
    assert {c.info.run_name for c in second_children} == {c.info.run_name for c in tracked.first[first_parent]}


def test_a_failing_tracker_warns_once_and_the_run_succeeds(tracked, capsys):
    from harness import Tracker, hookimpl
    from harness.cli import main
    from harness.plugins import get_plugin_manager, reset_plugin_manager

    class Exploding(Tracker):
        """Raises on every cell (test only)."""

        def log_cell(self, cell):
            raise RuntimeError("boom")

    module = types.ModuleType("bench_test_exploding_tracker")
    module.register_trackers = hookimpl(lambda register: register("exploding", Exploding))
    before = set(_runs(tracked.out))
    reset_plugin_manager()
    try:
        get_plugin_manager().add(module)
        code = main([*tracked.args, "--track", "exploding"])
    finally:
        reset_plugin_manager()
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert err.count("warning: tracker") == 1 and "Exploding failed in log_cell (RuntimeError: boom)" in err
    # the other trackers went on: one more parent, with every cell
    runs = _runs(tracked.out)
    (new,) = set(runs) - before
    assert len(runs[new]) == CELLS


def test_mlflow_missing_warns_once_and_the_run_succeeds(tracked, capsys, monkeypatch):
    import sys

    from harness.cli import main

    before = set(_runs(tracked.out))
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # as if MLflow were not installed
    code = main([*tracked.args])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert err.count("warning: tracker") == 1 and "mlflow tracker needs MLflow: pip install" in err
    monkeypatch.undo()
    assert set(_runs(tracked.out)) == before
    assert len(list((tracked.out / "tensorboard" / "tiny_track").iterdir())) == CELLS  # tensorboard went on
