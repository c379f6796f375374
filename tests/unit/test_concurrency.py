"""Two runs on one cache compute each stage once: the per-entry lock, with a counter."""
import multiprocessing as mp
import os
import sys
import time
import types

import pytest

from harness import ROWS, Stage, hookimpl, row


class Counted(Stage):
    """Sleeps, then appends one line to $COUNTER: how many times the entry was computed."""

    optional = True
    reads = ("seed",)
    artifacts = (ROWS,)

    def run(self, ctx):
        time.sleep(1.0)
        with open(os.environ["COUNTER"], "a") as f:
            f.write(f"{os.getpid()}\n")
        ctx.write_json(ROWS, [row("test", "computed_by", os.getpid())])


def _plugin():
    mod = types.ModuleType("counted_stage_plugin")
    mod.register_stages = hookimpl(lambda register: register("counted", Counted))
    sys.modules[mod.__name__] = mod
    return mod


SUITE = """
name: c
version: 1
stages: [counted]
matrix: {dataset: [breastmnist], encoder: [smallcnn]}
"""


def _worker(suite_path, cache, counter, q):
    os.environ["COUNTER"] = counter
    from harness import get_plugin_manager, load_suite
    from harness.runner import Options, Walker, cell_graph
    from harness.store import Store

    get_plugin_manager().add(_plugin())
    spec = load_suite(suite_path).runs[0]
    store = Store(cache)
    entry = Walker(store, Options()).ensure(spec, cell_graph(spec, store), "counted")
    q.put(entry.json(ROWS)[0]["value"])


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_two_concurrent_runs_compute_a_stage_once(tmp_path):
    (tmp_path / "c.yaml").write_text(SUITE)
    counter = tmp_path / "counter"
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "c.yaml"), str(tmp_path / "cache"), str(counter), q))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    lines = counter.read_text().split()
    assert len(lines) == 1  # computed once ...
    got = {q.get(timeout=5), q.get(timeout=5)}
    assert got == {float(lines[0])}  # ... and both runs read that one result
    assert not list((tmp_path / "cache").glob("counted/locks/*.lock"))  # released


def test_a_stale_lock_is_taken_over(tmp_path):
    import json
    import socket

    from harness.store import Store

    store = Store(tmp_path)
    lock = tmp_path / "s" / "locks" / "k.lock"
    lock.parent.mkdir(parents=True)
    dead = mp.get_context("fork").Process(target=lambda: None)
    dead.start()
    dead.join()
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "time": time.time()}))
    t0 = time.time()
    with store.lock("s", "k"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert time.time() - t0 < 5 and not lock.exists()


def test_another_hosts_lock_is_stale_only_after_its_heartbeat_stops(tmp_path, monkeypatch):
    import json

    from harness import store as st

    lock = tmp_path / "x.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "some-other-host", "time": 0}))
    assert not st._stale(lock)  # touched just now: a live owner elsewhere
    old = time.time() - st.STALE_AFTER_S - 5
    os.utime(lock, (old, old))
    assert st._stale(lock)


def test_the_owner_keeps_its_lock_fresh(tmp_path, monkeypatch):
    from harness import store as st

    monkeypatch.setattr(st, "HEARTBEAT_S", 0.05)
    store = st.Store(tmp_path)
    with store.lock("s", "k"):
        p = tmp_path / "s" / "locks" / "k.lock"
        old = time.time() - 1000
        os.utime(p, (old, old))
        time.sleep(0.3)
        assert time.time() - p.stat().st_mtime < 5
