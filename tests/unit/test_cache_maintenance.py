"""bench cache gc / verify in-process, and pruning of run folders a suite no longer has."""
import json
from pathlib import Path

from harness.cli import main
from harness.execute import prune_runs
from harness.runner import cell_graph
from harness.store import Store
from harness.suite import load_suite

REPO = Path(__file__).resolve().parents[2]


def _entry(store: Store, stage: str, key: str, payload: bytes = b"x") -> Path:
    return store.compute(stage, key, lambda out: (out / "a.bin").write_bytes(payload), ("a.bin",))


def test_gc_removes_debris_and_unreferenced_entries_only(tmp_path):
    store = Store(tmp_path / "c")
    spec = load_suite(REPO / "suites" / "smoke.yaml").runs[0]
    kept = [(n, v.key) for n, v in cell_graph(spec).items()]
    for stage, key in kept:
        _entry(store, stage, key)
    orphan = _entry(store, "train", "f" * 64)
    debris = store.root / "train" / "ff" / ".tmp-killed-run"
    debris.mkdir(parents=True)
    assert main(["cache", "gc", "--cache-dir", str(store.root)]) == 0
    assert not debris.exists() and orphan.exists()  # without --suite only debris goes
    assert main(["cache", "gc", "--cache-dir", str(store.root), "--suite", str(REPO / "suites" / "smoke.yaml")]) == 0
    assert not orphan.exists()
    assert all(store.has(s, k) for s, k in kept)


def test_verify_reports_a_garbled_entry(tmp_path, capsys):
    store = Store(tmp_path / "c")
    e = _entry(store, "probe", "a" * 64, b"0123456789")
    assert main(["cache", "verify", "--cache-dir", str(store.root)]) == 0
    (e / "a.bin").write_bytes(b"0123456780")  # same size, one byte changed
    assert main(["cache", "verify", "--cache-dir", str(store.root)]) == 1
    out = capsys.readouterr().out
    assert "stage probe" in out and "SHA-256" in out and "1 corrupt" in out


def test_missing_cache_is_a_user_error(tmp_path, capsys):
    assert main(["cache", "verify", "--cache-dir", str(tmp_path / "nope")]) == 2
    assert "no stage cache" in capsys.readouterr().err


def test_run_folders_of_cells_no_longer_in_the_suite_are_pruned(tmp_path):
    runs = tmp_path / "runs"
    for name in ("keep", "old"):
        (runs / name).mkdir(parents=True)
        (runs / name / "spec.json").write_text(json.dumps({}))
    (runs / "not-a-run").mkdir()  # no spec.json: not ours, left alone
    removed = prune_runs(runs, {"keep"})
    assert [p.name for p in removed] == ["old"]
    assert sorted(p.name for p in runs.iterdir()) == ["keep", "not-a-run"]


def test_stage_parts_are_cached_per_piece(tmp_path):
    from harness.stage import Entry, StageContext

    store = Store(tmp_path / "c")
    up = Entry(store, "train", "k" * 64, store.path("train", "k" * 64))
    ctx = StageContext(spec=None, stage="robust", out=tmp_path / "o", inputs={"train": up}, store=store)
    calls = []

    def piece(v):
        def fn(out):
            calls.append(v)
            (out / "v.json").write_text(json.dumps(v))
        return fn

    a = ctx.part({"p": 1}, piece(1), ("v.json",))
    b = ctx.part({"p": 1}, piece(1), ("v.json",))
    c = ctx.part({"p": 2}, piece(2), ("v.json",))
    assert calls == [1, 2] and a.key == b.key != c.key and c.json("v.json") == 2
    other = StageContext(spec=None, stage="robust", out=tmp_path / "o",
                         inputs={"train": Entry(store, "train", "m" * 64, store.path("train", "m" * 64))}, store=store)
    assert other.part({"p": 1}, piece(1), ("v.json",)).key != a.key  # another model, another piece
