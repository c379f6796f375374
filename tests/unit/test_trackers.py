"""Tracker plugins on a fake cell: the names they log, what MLflow and TensorBoard read back, missing libraries."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import TrackedCell, UserError, get_registry, row
from plugins.trackers._common import epoch_series, final_metrics, flatten

SPEC = {"suite": "fake", "suite_version": 3, "dataset": {"name": "breastmnist", "size": 28},
        "encoder": {"name": "smallcnn", "width": 4}, "train": {"epochs": 2, "lr": 0.001, "patience": None},
        "probe": {"cs": [0.1, 1.0]}, "regime": "all", "fraction": 0.1, "seed": 0}
ROWS = [
    row("test", "auroc", 0.75, family="ranking", calibrated=True),
    row("test", "auroc", 0.74, family="ranking", calibrated=False),
    row("test", "auroc", 0.70, family="ranking", calibrated=True, stat="ci_low"),
    row("test", "auroc", 0.80, family="ranking", calibrated=True, stat="ci_high"),
    row("test", "ece", float("nan"), family="calibration", calibrated=True),
    row("test", "nll", float("inf"), family="calibration", calibrated=True),
    row("val", "best_epoch", 2),                      # info row: calibrated=False, no calibrated twin
    row("test", "auroc", 0.6, family="ranking", calibrated=True, condition="gaussian_noise@3"),
]


def _suite(name="fake", version=3):
    return SimpleNamespace(name=name, version=version, path="suites/fake.yaml")


def _summary(total=1):
    return SimpleNamespace(total=total, cached=0, failed=[], seconds=1.5)


def _cell(tmp: Path, run_id="breastmnist-smallcnn-all-f0.1-s0-abcd1234", ssl=True, cached=False) -> TrackedCell:
    run_dir = tmp / "results" / "fake" / "runs" / run_id
    (run_dir / "figures").mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.json").write_text(json.dumps({"spec": SPEC}))
    (run_dir / "figures" / "learning_curves.png").write_bytes(b"\x89PNG fake")
    (run_dir / "history.json").write_text(json.dumps(
        {"epoch": [1, 2], "train_loss": [0.7, 0.6], "val_loss": [0.69, float("nan")], "val_auroc": [0.6, 0.7]}))
    if ssl:
        (run_dir / "ssl_loss.json").write_text(json.dumps({"epoch_loss": [5.0, 4.5, 4.2], "seconds": 1.0}))
    spec = SimpleNamespace(to_json=lambda: json.loads(json.dumps(SPEC)), labels=lambda: {"dataset": "breastmnist"})
    return TrackedCell(spec=spec, run_id=run_id, run_dir=run_dir, rows=[dict(r, run_id=run_id) for r in ROWS],
                       stage_keys={"train": "a" * 64, "evaluate": "b" * 64}, cached=cached)


# -- names shared by every tracker -------------------------------------------------------------
def test_final_metric_names():
    m = final_metrics(ROWS)
    assert m["test/auroc"] == 0.75 and m["test/auroc_raw"] == 0.74
    assert m["test/auroc_ci_low"] == 0.70 and m["test/auroc_ci_high"] == 0.80
    assert m["val/best_epoch"] == 2  # no `_raw`: an info row has no calibrated twin
    assert m["test/gaussian_noise_3/auroc"] == 0.6  # a condition goes in the path; `@` is not a valid key character
    assert "test/ece" not in m and "test/nll" not in m  # non-finite values are left out
    assert all(math.isfinite(v) for v in m.values())


def test_flatten_gives_dotted_keys_and_json_leaves():
    flat = flatten(SPEC)
    assert flat["train.epochs"] == 2 and flat["encoder.name"] == "smallcnn" and flat["suite_version"] == 3
    assert flat["probe.cs"] == "[0.1, 1.0]" and flat["train.patience"] is None and flat["regime"] == "all"


def test_epoch_series_reads_history_and_ssl_loss(tmp_path):
    s = epoch_series(_cell(tmp_path).run_dir)
    assert s["train_loss"] == [(1, 0.7), (2, 0.6)] and s["val_auroc"] == [(1, 0.6), (2, 0.7)]
    assert s["val_loss"] == [(1, 0.69)]  # the NaN epoch is left out
    assert s["ssl_loss"] == [(1, 5.0), (2, 4.5), (3, 4.2)]
    assert epoch_series(tmp_path / "nothing") == {}


def test_both_trackers_are_registered():
    assert {"mlflow", "tensorboard"} <= set(get_registry("trackers").names())


# -- MLflow ------------------------------------------------------------------------------------
def _mlflow(**options):
    cls = get_registry("trackers").get("mlflow")
    return cls(cls.Config(**options))


def test_mlflow_parent_and_child_runs(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow tracker needs MLflow (pip install '.[tracking]')")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    t = _mlflow()
    t.start(_suite(), tmp_path)
    assert t.tracking_uri == (tmp_path / "mlruns").resolve().as_uri()  # default: a file store under OUT
    cell = _cell(tmp_path)
    t.log_cell(cell)
    t.log_cell(_cell(tmp_path, run_id="second-cell", ssl=False, cached=True))
    t.finish(_summary(total=2))

    client = MlflowClient(tracking_uri=t.tracking_uri)
    exp = client.get_experiment_by_name("fake")  # default experiment: the suite's name
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.info.run_name: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(parents) == 1 and set(children) == {cell.run_id, "second-cell"}
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.metrics["cells"] == 2
    assert parent.data.tags["suite"] == "fake" and parent.data.tags["suite_version"] == "3"

    child = children[cell.run_id]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id and child.info.status == "FINISHED"
    assert child.data.params["train.epochs"] == "2" and child.data.params["encoder.name"] == "smallcnn"
    assert child.data.params["probe.cs"] == "[0.1, 1.0]" and child.data.params["train.patience"] == "null"
    tags = child.data.tags
    assert tags["suite"] == "fake" and tags["suite_version"] == "3" and tags["run_id"] == cell.run_id
    assert tags["stage_key.train"] == "a" * 64 and tags["stage_key.evaluate"] == "b" * 64
    assert tags["cached"] == "false" and children["second-cell"].data.tags["cached"] == "true"
    assert child.data.metrics == {**final_metrics(ROWS), "train_loss": 0.6, "val_loss": 0.69, "val_auroc": 0.7,
                                  "ssl_loss": 4.2}
    history = client.get_metric_history(child.info.run_id, "val_auroc")
    assert [(m.step, m.value) for m in history] == [(1, 0.6), (2, 0.7)]
    assert [m.step for m in client.get_metric_history(child.info.run_id, "ssl_loss")] == [1, 2, 3]
    assert "ssl_loss" not in children["second-cell"].data.metrics
    arts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"spec.json", "history.json", "ssl_loss.json", "figures"} <= arts
    assert [a.path for a in client.list_artifacts(child.info.run_id, "figures")] == ["figures/learning_curves.png"]


def test_mlflow_tracking_uri_folder_and_experiment(tmp_path):
    pytest.importorskip("mlflow", reason="the mlflow tracker needs MLflow (pip install '.[tracking]')")
    from mlflow.tracking import MlflowClient

    t = _mlflow(tracking_uri=str(tmp_path / "elsewhere"), experiment="my-exp")
    t.start(_suite(), tmp_path / "out")
    t.log_cell(_cell(tmp_path))
    t.finish(_summary())
    assert not (tmp_path / "out" / "mlruns").exists()
    client = MlflowClient(tracking_uri=(tmp_path / "elsewhere").as_uri())
    assert len(client.search_runs([client.get_experiment_by_name("my-exp").experiment_id])) == 2
    # a second bench run adds a second parent to the same experiment
    t2 = _mlflow(tracking_uri=str(tmp_path / "elsewhere"), experiment="my-exp")
    t2.start(_suite(), tmp_path / "out")
    t2.log_cell(_cell(tmp_path))
    t2.finish(_summary())
    assert len(client.search_runs([client.get_experiment_by_name("my-exp").experiment_id])) == 4


def test_mlflow_honours_mlflow_tracking_uri(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow tracker needs MLflow (pip install '.[tracking]')")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "team").as_uri())
    t = _mlflow()
    t.start(_suite(), tmp_path / "out")
    t.finish(_summary(total=0))
    assert t.tracking_uri == (tmp_path / "team").as_uri() and (tmp_path / "team").is_dir()
    assert not (tmp_path / "out" / "mlruns").exists()


def test_mlflow_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(UserError, match=r"mlflow tracker needs MLflow: pip install") as err:
        _mlflow().start(_suite(), tmp_path)
    assert isinstance(err.value.__cause__, ImportError)
    assert not (tmp_path / "mlruns").exists()


# -- TensorBoard -------------------------------------------------------------------------------
def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(log_dir))
    ea.Reload()
    return {tag: [(e.step, e.value) for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"]}


def test_tensorboard_scalars_per_epoch_and_final(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard tracker needs TensorBoard (pip install '.[tracking]')")
    cls = get_registry("trackers").get("tensorboard")
    t = cls(cls.Config())
    cell = _cell(tmp_path)
    for _ in range(2):  # a rerun replaces the cell's events instead of doubling every point
        t.start(_suite(), tmp_path)
        t.log_cell(cell)
        t.finish(_summary())
    log_dir = tmp_path / "tensorboard" / "fake" / cell.run_id
    assert len(list(log_dir.glob("events.out.tfevents.*"))) == 1
    s = _scalars(log_dir)
    assert [step for step, _ in s["train_loss"]] == [1, 2] and [step for step, _ in s["val_auroc"]] == [1, 2]
    assert s["val_auroc"][1][1] == pytest.approx(0.7) and len(s["val_loss"]) == 1
    assert [step for step, _ in s["ssl_loss"]] == [1, 2, 3]
    final = final_metrics(ROWS)
    assert set(final) <= set(s)
    for name, value in final.items():
        assert s[name] == [(0, pytest.approx(value))]


def test_tensorboard_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    cls = get_registry("trackers").get("tensorboard")
    with pytest.raises(UserError, match=r"tensorboard tracker needs TensorBoard: pip install"):
        cls(cls.Config()).start(_suite(), tmp_path)
