"""The runner's less travelled paths, in process on the synthetic dataset: damaged cache entries,
errors that are the machine's and not the stage's, tasks, run folder names and contents, versions."""
import errno
import json
import re

import numpy as np
import pandas as pd
import pytest

from harness.errors import UserError
from harness.runner import (Options, StageTask, cell_graph, plan_tasks, plugin_versions, run_cell, run_id,
                            stage_task, versions, write_run_dir)
from harness.stages.train import Train
from harness.store import Store

from .synthetic import spec_of


def _values(rows):
    """Rows without durations (which differ between two computations of the same entry)."""
    return sorted((r["split"], r["metric"], str(r.get("calibrated")), r.get("stat", ""), r["value"]) for r in rows
                  if not r["metric"].endswith("seconds"))


@pytest.fixture(scope="module")
def _trained(tmp_path_factory):
    """One synthetic cell computed once for this module: (its cache folder, its CellResult)."""
    from harness import get_plugin_manager
    from harness.data import load_splits
    from harness.plugins import reset_plugin_manager

    from .synthetic import synthetic_plugin

    root = tmp_path_factory.mktemp("cell")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("BENCH_DATA_ROOT", raising=False)
        mp.delenv("BENCH_CACHE_DIR", raising=False)
        get_plugin_manager().add(synthetic_plugin())
        try:
            first = run_cell(spec_of(root), Store(root / "cache"), Options())
        finally:
            reset_plugin_manager()
            load_splits.cache_clear()
    assert first.status == "ok", first.reason
    return root / "cache", first


@pytest.fixture
def cell(tmp_path, synthetic, _trained):
    """A computed synthetic cell in this test's own cache (a copy: tests damage entries in place)."""
    import copy
    import shutil

    src, first = _trained
    shutil.copytree(src, tmp_path / "cache")
    spec = spec_of(tmp_path)
    assert {n: v.key for n, v in cell_graph(spec).items()} == first.keys
    return spec, Store(tmp_path / "cache"), copy.deepcopy(first)


def _artifact(store, stage, key, name):
    return store.path(stage, key) / name


def test_a_truncated_entry_is_moved_aside_and_recomputed(cell):
    spec, store, first = cell
    p = _artifact(store, "train", first.keys["train"], "predictions.npz")
    p.write_bytes(p.read_bytes()[:100])
    again = run_cell(spec, store, Options())
    assert again.status == "ok" and again.computed == ["train"]  # calibrate and evaluate keep their entries
    assert _values(again.rows) == _values(first.rows)
    [event] = store.events
    assert event.startswith(f"corrupt cache entry moved aside and recomputed: stage train, key {first.keys['train'][:12]}")
    assert "size 100 bytes, recorded" in event
    assert len(list((store.root / "train" / "corrupt").iterdir())) == 1


def test_a_damaged_rows_file_is_found_when_read_and_recomputed(cell):
    spec, store, first = cell
    p = _artifact(store, "evaluate", first.keys["evaluate"], "rows.json")
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1  # same size: only the digest, checked when read, catches it
    p.write_bytes(bytes(data))
    again = run_cell(spec, store, Options())
    assert again.status == "ok" and again.computed == ["evaluate"]
    assert _values(again.rows) == _values(first.rows)
    assert [e.split(",")[0] for e in store.events] == ["corrupt cache entry moved aside and recomputed: stage evaluate"]
    assert "content differs from its recorded SHA-256" in store.events[0]  # the reason travels into the event


def test_a_damaged_upstream_artifact_read_by_a_computing_stage_is_recomputed_first(cell):
    import shutil

    spec, store, first = cell
    for stage in ("calibrate", "evaluate"):
        shutil.rmtree(store.path(stage, first.keys[stage]))
    p = _artifact(store, "train", first.keys["train"], "predictions.npz")
    data = bytearray(p.read_bytes())
    data[-10] ^= 1
    p.write_bytes(bytes(data))
    again = run_cell(spec, store, Options())
    assert again.status == "ok"
    assert again.computed == ["train", "calibrate", "evaluate"]
    assert _values(again.rows) == _values(first.rows)
    [event] = [e for e in store.events if "stage train" in e]
    assert "content differs from its recorded SHA-256" in event  # the reason the read gave travels along


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_the_machines_os_errors_stop_the_run_and_are_not_cached(tmp_path, synthetic, monkeypatch, code):
    def full(self, ctx):
        raise OSError(code, "no")

    monkeypatch.setattr(Train, "run", full)
    spec = spec_of(tmp_path)
    store = Store(tmp_path / "cache")
    with pytest.raises(OSError) as info:
        run_cell(spec, store, Options())
    assert info.value.errno == code
    assert store.failed("train", cell_graph(spec)["train"].key) is None  # a rerun on a fixed machine computes it


def test_other_os_errors_fail_the_stage(tmp_path, synthetic, monkeypatch):
    def missing(self, ctx):
        raise FileNotFoundError(errno.ENOENT, "gone", "x.npz")

    monkeypatch.setattr(Train, "run", missing)
    spec = spec_of(tmp_path)
    store = Store(tmp_path / "cache")
    res = run_cell(spec, store, Options())
    assert res.status == "failed" and res.reason == "train: FileNotFoundError: [Errno 2] gone: 'x.npz'"
    assert store.failed("train", res.keys["train"]) == "FileNotFoundError: [Errno 2] gone: 'x.npz'"


@pytest.mark.parametrize("exc", [UserError("bad setting"), KeyboardInterrupt(), SystemExit(3)])
def test_user_errors_and_interrupts_pass_through_uncached(tmp_path, synthetic, monkeypatch, exc):
    def raise_(self, ctx):
        raise exc

    monkeypatch.setattr(Train, "run", raise_)
    spec = spec_of(tmp_path)
    store = Store(tmp_path / "cache")
    with pytest.raises(type(exc)):
        run_cell(spec, store, Options())
    key = cell_graph(spec)["train"].key
    assert store.failed("train", key) is None and not store.has("train", key)


def test_stage_task_computes_the_entry_and_what_it_reads(tmp_path, synthetic):
    spec = spec_of(tmp_path)
    root = str(tmp_path / "cache")
    res = stage_task(StageTask(spec, "calibrate", root, Options()))
    nodes = cell_graph(spec)
    assert res.ok and res.reason == "" and res.stage == "calibrate" and res.key == nodes["calibrate"].key
    assert res.computed == ("train", "calibrate") and res.events == ()
    assert 0 < res.seconds < 600
    store = Store(root)
    assert store.has("train", nodes["train"].key) and not store.has("evaluate", nodes["evaluate"].key)
    assert plan_tasks([spec], store) and [s for _, s in plan_tasks([spec], store)[0]] == ["evaluate"]
    again = stage_task(StageTask(spec, "calibrate", root, Options()))
    assert again.ok and again.computed == ()


def test_stage_task_reports_a_failure_and_the_events(tmp_path, synthetic, monkeypatch):
    monkeypatch.setattr(Train, "run", lambda self, ctx: (_ for _ in ()).throw(ValueError("nope")))
    spec = spec_of(tmp_path)
    res = stage_task(StageTask(spec, "evaluate", str(tmp_path / "cache"), Options()))
    assert res.ok is False and res.stage == "evaluate" and res.reason == "train: ValueError: nope"
    assert res.computed == () and res.key == cell_graph(spec)["evaluate"].key and 0 < res.seconds < 600


def test_stage_task_reports_the_stores_events(cell):
    """What the store noticed (a damaged entry moved aside) travels back with the task, ok or not."""
    spec, store, first = cell
    p = _artifact(store, "evaluate", first.keys["evaluate"], "rows.json")
    p.write_bytes(p.read_bytes()[:100])
    res = stage_task(StageTask(spec, "evaluate", str(store.root), Options()))
    assert res.ok and res.computed == ("evaluate",)
    assert len(res.events) == 1
    assert res.events[0].startswith("corrupt cache entry moved aside and recomputed: stage evaluate")


def test_plan_tasks_leaves_out_an_upstream_entry_no_missing_result_needs(tmp_path, synthetic):
    """A probe cell whose result entries are cached plans nothing, though its features entry is gone."""
    import shutil

    spec = spec_of(tmp_path, "  regime: [probe]")
    store = Store(tmp_path / "cache")
    res = run_cell(spec, store, Options())
    shutil.rmtree(store.path("features", res.keys["features"]))
    assert plan_tasks([spec], store) == []
    shutil.rmtree(store.path("probe", res.keys["probe"]))  # now the probe needs the features again
    assert [[s for _, s in lvl] for lvl in plan_tasks([spec], store)] == [["features"], ["probe"]]


def test_run_ids_name_the_set_axes_and_hash_the_keys(tmp_path, synthetic):
    spec = spec_of(tmp_path)
    rid = run_id(spec)
    assert re.fullmatch(r"synthetic-smallcnn_width4-all-f1-s0-[0-9a-f]{8}", rid), rid
    assert run_id(spec_of(tmp_path)) == rid  # stable
    other = run_id(spec.replace(seed=3))
    assert other.startswith("synthetic-smallcnn_width4-all-f1-s3-") and other[-8:] != rid[-8:]
    assert "-f0.05-" in run_id(spec.replace(fraction=0.05))
    ssl = run_id(spec_of(tmp_path, "  ssl: [simclr]\n  regime: [probe]"))
    assert ssl.startswith("synthetic-smallcnn_width4-ssl-simclr-probe-f1-s0-")
    val = run_id(spec_of(tmp_path, "  val: [match]"))
    assert val.startswith("synthetic-smallcnn_width4-all-f1-s0-val-match-")
    assert "full" not in rid  # the default protocol is left out of the name


def test_run_ids_are_safe_folder_names(tmp_path, synthetic):
    spec = spec_of(tmp_path, "  calibrator: [{name: histogram_binning, bins: 7}]\n  threshold: [{name: target_tpr, target: 0.85}]")
    rid = run_id(spec)
    assert re.fullmatch(r"[A-Za-z0-9._+-]+", rid), rid
    # "histogram_binning(bins=7)" and "target_tpr(target=0.85)" without brackets or "="
    assert rid.startswith("synthetic-smallcnn_width4-all-f1-s0-cal-histogram_binning_bins7-thr-target_tpr_target0.85-")


def test_write_run_dir_exports_artifacts_and_records_the_run(cell, tmp_path):
    spec, store, res = cell
    d = write_run_dir(res, store, tmp_path / "runs", Options())
    assert d == tmp_path / "runs" / run_id(spec)
    meta = json.loads((d / "spec.json").read_text())
    assert meta["stage_keys"] == res.keys and meta["device"] == "cpu" and meta["numerics"] == "fp32"
    assert meta["labels"] == json.loads(json.dumps(spec.labels())) and meta["spec"]["seed"] == 0
    assert meta["versions"]["numpy"] == np.__version__
    assert meta["plugins"]["encoder"]["name"] == "smallcnn"
    assert meta["names"] == spec.names()
    assert meta["stage_info"]["train"]["n_train"] == 40  # each stage's info file (train.json)
    for artifact, dest in Train.exports.items():
        assert (d / dest).read_bytes() == (store.path("train", res.keys["train"]) / artifact).read_bytes()
    assert (d / "figures" / "learning_curves.png").is_file()
    metrics = pd.read_csv(d / "metrics.csv")
    assert len(metrics) == len(res.rows) and set(metrics.metric) == {r["metric"] for r in res.rows}
    assert list(metrics.columns) == list(res.rows[0])  # the rows' own columns, no index column


def test_a_current_run_dir_is_left_alone_and_a_stale_or_damaged_one_rewritten(cell, tmp_path):
    spec, store, res = cell
    d = write_run_dir(res, store, tmp_path / "runs", Options())
    (d / "metrics.csv").unlink()
    write_run_dir(res, store, tmp_path / "runs", Options())
    assert not (d / "metrics.csv").exists()  # same stage keys: nothing is copied again
    (d / "spec.json").write_text("{not json")
    write_run_dir(res, store, tmp_path / "runs", Options())
    assert (d / "metrics.csv").is_file() and json.loads((d / "spec.json").read_text())["stage_keys"] == res.keys
    (d / "metrics.csv").unlink()
    meta = json.loads((d / "spec.json").read_text())
    meta["stage_keys"]["train"] = "0" * 64
    (d / "spec.json").write_text(json.dumps(meta))
    write_run_dir(res, store, tmp_path / "runs", Options())
    assert (d / "metrics.csv").is_file()


def test_versions_name_the_libraries_that_change_results():
    import torch

    v = versions()
    assert list(v)[:2] == ["medmnist-ssl-bench", "numpy"]
    assert v["torch"] == torch.__version__.split("+")[0] or v["torch"] == torch.__version__
    assert {"scikit-learn", "timm", "lightly", "netcal"} <= set(v)
    assert "ray" not in v and "pytest" not in v  # extras are not requirements of a result
    assert "?" not in v.values()


def test_plugin_versions_name_each_components_plugin(tmp_path, synthetic):
    info = plugin_versions(spec_of(tmp_path))
    assert info["encoder"] == {"name": "smallcnn", "plugin": "plugins.encoders.smallcnn",
                               "distribution": "medmnist-ssl-bench", "version": versions()["medmnist-ssl-bench"]}
    assert info["dataset"] == {"name": "synthetic", "plugin": "synthetic_dataset_plugin", "distribution": "?",
                               "version": "?"}
    assert "fraction" not in info and "seed" not in info


def test_a_stage_error_names_the_stage_and_the_reason():
    from harness.runner import StageError

    e = StageError("train", "RuntimeError: boom")
    assert str(e) == "train: RuntimeError: boom" and (e.stage, e.reason) == ("train", "RuntimeError: boom")


def test_a_plugin_stage_can_export_into_nested_folders(tmp_path, synthetic):
    from harness import ROWS, Stage, row

    from .synthetic import plugin

    class Deep(Stage):
        upstream = ("calibrate",)
        optional = True
        artifacts = ("stats.json", ROWS)
        exports = {"stats.json": "deep/er/stats.json"}

        def run(self, ctx):
            ctx.write_json("stats.json", {"n": 1})
            ctx.write_json(ROWS, [row("test", "n_deep", 1.0)])

    synthetic(plugin("deep_stage_plugin", register_stages=[("deep_stats", Deep)]))
    spec = spec_of(tmp_path, "stages: [deep_stats]")
    store = Store(tmp_path / "cache")
    res = run_cell(spec, store, Options())
    assert res.status == "ok" and "deep_stats" in res.keys
    d = write_run_dir(res, store, tmp_path / "runs", Options())
    assert json.loads((d / "deep" / "er" / "stats.json").read_text()) == {"n": 1}


def test_the_run_dir_records_the_devices_numerics(cell, tmp_path):
    _, store, res = cell
    d = write_run_dir(res, store, tmp_path / "runs", Options(device="cuda:1"))  # recorded, not used here
    meta = json.loads((d / "spec.json").read_text())
    assert meta["device"] == "cuda:1" and meta["numerics"] == "bf16 autocast, channels_last"


def test_run_ids_flatten_labels_with_several_options_and_slashes(tmp_path, synthetic):
    from dataclasses import dataclass

    from harness import Calibrator

    from .synthetic import plugin

    class Tagged(Calibrator):
        @dataclass(frozen=True)
        class Config:
            tag: str = ""
            k: int = 1

        def fit(self, probs, labels):
            return self

        def transform(self, probs):
            return probs

    synthetic(plugin("tagged_calibrator_plugin", register_calibrators=[("tagged", Tagged)]))
    spec = spec_of(tmp_path, "  calibrator: [{name: tagged, tag: a/b, k: 2}]")
    rid = run_id(spec)
    assert "-cal-tagged_taga_b_k2-" in rid, rid  # "tagged(tag=a/b,k=2)": brackets, "=", "/" and "," flattened


def test_a_cells_rows_come_from_every_result_stage_with_labels_and_names(cell):
    spec, store, res = cell
    metrics = {r["metric"] for r in res.rows}
    assert {"best_epoch", "train_seconds"} <= metrics and "auroc" in metrics  # train's rows and evaluate's
    assert all(r["dataset"] == "synthetic" and r["encoder_name"] == "smallcnn" for r in res.rows)
    assert not any("ssl_augmentation_name" in r for r in res.rows)  # an axis the cell does not read: no name
    assert isinstance(res.seconds, float) and 0 < res.seconds < 600


class _Seen:
    ctx = []


def _recording_stage(write=("out.json",)):
    from harness import ROWS, Stage, row

    class Recording(Stage):
        upstream = ("calibrate",)
        optional = True
        artifacts = ("out.json", ROWS)

        def run(self, ctx):
            _Seen.ctx.append(ctx)
            for name in write:
                ctx.write_json(name, {})
            ctx.write_json(ROWS, [row("test", "n_recorded", 1.0)])

    return Recording


def test_a_stage_gets_the_runs_options_and_store(tmp_path, synthetic):
    from .synthetic import plugin

    _Seen.ctx.clear()
    synthetic(plugin("recording_stage_plugin", register_stages=[("recording", _recording_stage())]))
    spec = spec_of(tmp_path, "stages: [recording]")
    store = Store(tmp_path / "cache")
    res = run_cell(spec, store, Options(data_root="/data/here", progress=True, device="cpu"))
    assert res.status == "ok"
    [ctx] = _Seen.ctx
    assert (ctx.data_root, ctx.progress, ctx.device, ctx.store, ctx.stage) == ("/data/here", True, "cpu", store,
                                                                               "recording")
    assert sorted(ctx.inputs) == ["calibrate"]


def test_a_stage_that_leaves_out_a_declared_artifact_fails(tmp_path, synthetic):
    from .synthetic import plugin

    synthetic(plugin("lazy_stage_plugin", register_stages=[("lazy", _recording_stage(write=()))]))
    spec = spec_of(tmp_path, "stages: [lazy]")
    store = Store(tmp_path / "cache")
    res = run_cell(spec, store, Options())
    assert res.status == "failed" and res.failed_stage == "lazy"
    assert "did not write its declared artifact(s): out.json" in res.reason
    assert not store.has("lazy", res.keys["lazy"])


def test_a_stage_key_hashes_the_stage_name_and_version(tmp_path, synthetic):
    """Two stages that read the same and sit on the same upstream still get their own entries, and a
    stage's version bump gives new keys (its old entries are never read as the new version's)."""
    from harness.runner import cell_graph

    from .synthetic import plugin

    a, b = _recording_stage(), _recording_stage()
    synthetic(plugin("twin_stages_plugin", register_stages=[("twin_a", a), ("twin_b", b)]))
    spec = spec_of(tmp_path, "stages: [twin_a, twin_b]")
    nodes = cell_graph(spec)
    assert nodes["twin_a"].upstream == nodes["twin_b"].upstream and nodes["twin_a"].key != nodes["twin_b"].key
    key = nodes["twin_a"].key
    a.version = 2
    from harness.runner import _FIELDS, _GRAPHS, _KEYS
    _GRAPHS.clear(), _KEYS.clear(), _FIELDS.clear()
    assert cell_graph(spec_of(tmp_path, "stages: [twin_a, twin_b]"))["twin_a"].key != key


def test_a_walker_waiting_on_a_lock_takes_the_entry_the_holder_finished(cell, monkeypatch):
    """Another process computes an entry while this walker waits for its lock: the walker returns that
    entry when the lock is freed, and computes nothing itself (the re-check after the wait)."""
    import shutil
    import threading
    import time

    import harness.store as store_mod
    from harness.runner import Walker
    from harness.stages.evaluate import Evaluate

    spec, store, first = cell
    key = first.keys["evaluate"]
    final = store.path("evaluate", key)
    aside = final.parent / "finished-elsewhere"
    shutil.move(final, aside)  # the entry is missing when the walker looks...
    monkeypatch.setattr(Evaluate, "run", lambda self, ctx: (_ for _ in ()).throw(AssertionError("recomputed")))

    waiting = threading.Event()

    class _Time:  # the lock's poll loop sleeps: that is the walker waiting
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def sleep(s):
            waiting.set()
            time.sleep(0.01)

    monkeypatch.setattr(store_mod, "time", _Time())
    walker = Walker(store, Options())
    got = {}
    with store.lock("evaluate", key):  # ...because another owner holds its lock and is computing it
        t = threading.Thread(target=lambda: got.update(entry=walker.ensure(spec, cell_graph(spec), "evaluate")))
        t.start()
        assert waiting.wait(30), "the walker never waited for the lock"
        shutil.move(aside, final)  # the owner's finished entry lands, then the owner lets go
    t.join(30)
    assert not t.is_alive()
    entry = got["entry"]
    assert (entry.store, entry.stage, entry.key, entry.path) == (store, "evaluate", key, final)
    assert walker.computed == [] and entry.json("rows.json")


def test_a_declared_optional_artifact_may_be_left_out(tmp_path, synthetic):
    from .synthetic import plugin

    stage = _recording_stage()
    stage.artifacts = ("out.json", "maybe.json", "rows.json")
    stage.optional_artifacts = ("maybe.json",)
    synthetic(plugin("optional_artifact_plugin", register_stages=[("optional_out", stage)]))
    spec = spec_of(tmp_path, "stages: [optional_out]")
    store = Store(tmp_path / "cache")
    res = run_cell(spec, store, Options())
    assert res.status == "ok", res.reason
    assert store.has("optional_out", res.keys["optional_out"])
    assert not (store.path("optional_out", res.keys["optional_out"]) / "maybe.json").exists()


def test_a_stage_gets_the_runs_device(tmp_path, synthetic):
    """The device reaches the stage's context. Only the recording stage computes on the second run
    (train and calibrate are cached: the device is not in their keys), so no CUDA is needed."""
    import shutil

    from .synthetic import plugin

    _Seen.ctx.clear()
    synthetic(plugin("device_stage_plugin", register_stages=[("recording_dev", _recording_stage())]))
    spec = spec_of(tmp_path, "stages: [recording_dev]")
    store = Store(tmp_path / "cache")
    first = run_cell(spec, store, Options())
    assert first.status == "ok" and _Seen.ctx[-1].device == "cpu"
    shutil.rmtree(store.path("recording_dev", first.keys["recording_dev"]))
    again = run_cell(spec, store, Options(device="cuda:3"))
    assert again.status == "ok" and again.computed == ["recording_dev"]
    assert _Seen.ctx[-1].device == "cuda:3"


def test_a_failed_task_still_reports_what_the_store_noticed(cell, monkeypatch):
    """A damaged entry moved aside, then the recomputation fails: the event travels back anyway."""
    spec, store, first = cell
    p = _artifact(store, "train", first.keys["train"], "predictions.npz")
    p.write_bytes(p.read_bytes()[:100])
    monkeypatch.setattr(Train, "run", lambda self, ctx: (_ for _ in ()).throw(ValueError("nope")))
    res = stage_task(StageTask(spec, "train", str(store.root), Options()))
    assert res.ok is False and res.reason == "train: ValueError: nope"
    assert len(res.events) == 1
    assert res.events[0].startswith("corrupt cache entry moved aside and recomputed: stage train")
