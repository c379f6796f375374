"""The runner in process on the synthetic dataset: failure attribution, cached failures, retries, planning."""
import json

import pytest

from harness import StageFailed
from harness.runner import Options, cell_graph, is_cached, plan_tasks, result_stages, run_cell
from harness.stages.pretrain import Pretrain
from harness.stages.train import Train
from harness.store import Store

from .synthetic import spec_of


@pytest.fixture
def failing_train(monkeypatch):
    calls = []

    def boom(self, ctx):
        calls.append(ctx.spec.seed)
        raise RuntimeError("boom")

    monkeypatch.setattr(Train, "run", boom)
    return calls


def test_a_stage_that_raises_fails_its_cell_with_the_stage_and_reason(tmp_path, synthetic, failing_train):
    spec = spec_of(tmp_path)
    store = Store(tmp_path / "cache")
    res = run_cell(spec, store, Options())
    assert res.status == "failed" and res.failed_stage == "train"
    assert res.reason == "train: RuntimeError: boom" and res.rows == []
    assert failing_train == [0] and res.computed == []
    key = res.keys["train"]
    assert store.failed("train", key) == "RuntimeError: boom"
    record = json.loads((tmp_path / "cache" / "train" / "failed" / f"{key}.json").read_text())
    assert "Traceback" in record["traceback"] and "RuntimeError: boom" in record["traceback"]
    assert not store.has("train", key) and not is_cached(spec, store)


def test_a_failure_is_cached_and_retried_only_when_asked(tmp_path, synthetic, failing_train):
    spec = spec_of(tmp_path)
    store = Store(tmp_path / "cache")
    run_cell(spec, store, Options())
    again = run_cell(spec, store, Options())
    assert failing_train == [0]  # not recomputed
    assert (again.status, again.failed_stage, again.reason) == ("failed", "train", "train: RuntimeError: boom")
    # a task for the failed entry reports the cached failure; it does not compute it again
    from harness.runner import StageTask, stage_task
    out = stage_task(StageTask(spec, "evaluate", str(tmp_path / "cache"), Options()))
    assert not out.ok and out.reason == "train: RuntimeError: boom" and failing_train == [0]
    assert [[s for _, s in lvl] for lvl in plan_tasks([spec], store, retry_failed=True)] == \
        [["train"], ["calibrate"], ["evaluate"]]
    retried = run_cell(spec, store, Options(retry_failed=True))
    assert failing_train == [0, 0] and retried.status == "failed"


def test_a_retry_that_succeeds_clears_the_failure(tmp_path, synthetic, monkeypatch):
    spec = spec_of(tmp_path)
    store = Store(tmp_path / "cache")
    real = Train.run
    monkeypatch.setattr(Train, "run", lambda self, ctx: (_ for _ in ()).throw(RuntimeError("flaky")))
    assert run_cell(spec, store, Options()).status == "failed"
    monkeypatch.setattr(Train, "run", real)
    assert run_cell(spec, store, Options()).status == "failed"  # still the cached failure
    res = run_cell(spec, store, Options(retry_failed=True))
    assert res.status == "ok" and res.computed == ["train", "calibrate", "evaluate"]
    assert store.failed("train", res.keys["train"]) is None and is_cached(spec, store)
    assert run_cell(spec, store, Options()).computed == []  # and now it is simply cached


def test_plan_skips_a_failed_entry(tmp_path, synthetic, failing_train):
    """A failed train and what reads it are not planned (the cell reports the cached failure)..."""
    spec = spec_of(tmp_path)
    store = Store(tmp_path / "cache")
    run_cell(spec, store, Options())
    assert plan_tasks([spec], store) == []
    # ... unless the run retries failures
    assert [[s for _, s in lvl] for lvl in plan_tasks([spec], store, retry_failed=True)] == [
        ["train"], ["calibrate"], ["evaluate"]]


def test_an_upstream_stage_failed_fails_downstream_cells_with_its_name(tmp_path, synthetic, monkeypatch):
    calls = []

    def nan_loss(self, ctx):
        calls.append(1)
        raise StageFailed("non-finite loss nan at epoch 1 step 0")

    monkeypatch.setattr(Pretrain, "run", nan_loss)
    a = spec_of(tmp_path, "  ssl: [simclr]\n  regime: [probe]")
    b = a.replace(fraction=0.5)
    c = a.replace(regime="finetune")
    store = Store(tmp_path / "cache")
    results = [run_cell(s, store, Options()) for s in (a, b, c)]
    assert calls == [1]  # one pretraining serves all three cells, and it failed once
    for r in results:
        assert r.status == "failed" and r.failed_stage == "pretrain"
        assert r.reason == "pretrain: non-finite loss nan at epoch 1 step 0"  # StageFailed: no type prefix
    assert store.failed("pretrain", results[0].keys["pretrain"]) == "non-finite loss nan at epoch 1 step 0"
    assert store.failed("probe", results[0].keys["probe"]) is None  # only the stage that failed is recorded


def test_plan_tasks_deduplicates_by_key_in_graph_levels(tmp_path, synthetic):
    a = spec_of(tmp_path, "  ssl: [simclr]\n  regime: [probe]")
    specs = [a, a.replace(fraction=0.5), a.replace(seed=1), a.replace(regime="finetune")]
    store = Store(tmp_path / "cache")
    levels = [[s for _, s in lvl] for lvl in plan_tasks(specs, store)]
    assert levels == [["pretrain"], ["features", "train"], ["probe", "probe", "probe", "calibrate"],
                      ["calibrate", "calibrate", "calibrate", "evaluate"], ["evaluate", "evaluate", "evaluate"]]
    keys = [[cell_graph(s, store)[n].key for s, n in lvl] for lvl in plan_tasks(specs, store)]
    assert all(len(set(lvl)) == len(lvl) for lvl in keys)


def test_graph_and_result_stages(tmp_path, synthetic):
    probe = cell_graph(spec_of(tmp_path, "  ssl: [simclr]\n  regime: [probe]"))
    assert list(probe) == ["pretrain", "features", "probe", "calibrate", "evaluate"]
    assert probe["probe"].upstream == ("features",) and probe["evaluate"].upstream == ("probe", "calibrate")
    assert result_stages(probe) == ["probe", "calibrate", "evaluate"]
    sup = cell_graph(spec_of(tmp_path))
    assert list(sup) == ["train", "calibrate", "evaluate"] and sup["train"].upstream == ()


def test_a_cached_cell_computes_nothing_and_gives_the_same_rows(tmp_path, synthetic):
    spec = spec_of(tmp_path, "  regime: [probe]")
    store = Store(tmp_path / "cache")
    first = run_cell(spec, store, Options())
    assert first.status == "ok" and first.computed == ["features", "probe", "calibrate", "evaluate"]
    second = run_cell(spec, store, Options())
    assert second.computed == [] and second.rows == first.rows
    assert {r["dataset"] for r in first.rows} == {"synthetic"}
    assert {r["split"] for r in first.rows} >= {"val", "test"}
