"""The ray executor on a local Ray (2 CPUs, no network): same results as local, each entry computed once,
and a worker killed in the middle of a stage is retried without a partial artifact being read."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
from collections import Counter
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

# find_spec, not importorskip: importing Ray at collection costs time even where this module is deselected
pytestmark = [pytest.mark.integration, pytest.mark.ray,
              pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray (pip install '.[ray]')")]

SUITE = """
name: tiny_ray
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 4}]
  ssl: [none, simclr]
  regime: [probe, finetune, all]
  augmentation: [aug_a]
  fraction: [0.2, 1.0]
  seed: [0]
exclude:
  - {ssl: none, regime: finetune}
  - {ssl: simclr, regime: all}
pretrain: {epochs: 1, max_images: 64, batch_size: 32}
train: {epochs: 1}
eval: {bootstrap: 0}
"""

#: the stage whose first attempt loses its worker in the fault-injection test
KILLED = "pretrain"


class Recording:
    """Wraps an executor: keeps every TaskResult; ``wrap`` wraps the task function (in the worker)."""

    def __init__(self, inner, wrap=None):
        self.inner, self.wrap, self.results = inner, wrap, []

    def map(self, fn, items):
        for res in self.inner.map(fn if self.wrap is None else partial(self.wrap, fn), items):
            self.results.append(res)
            yield res

    def close(self):
        self.inner.close()


def _lose_worker_once(flag: str, fn, task):
    """Runs in a Ray worker. The first attempt of the KILLED stage SIGKILLs its own worker process after
    the stage has written its artifacts into the entry's temporary folder, while it holds the entry's
    lock and before the rename: a real lost worker, with a partial entry and a lock left behind."""
    if task.stage != KILLED or os.path.exists(flag):
        return fn(task)
    from harness.store import Store

    original = Store.compute

    def compute(self, stage, key, f, *args, **kwargs):
        if stage != KILLED:
            return original(self, stage, key, f, *args, **kwargs)

        def dying(tmp):
            f(tmp)
            lock = self.root / stage / "locks" / f"{key}.lock"
            Path(flag).write_text(json.dumps({"pid": os.getpid(), "tmp": sorted(p.name for p in tmp.iterdir()),
                                              "lock": json.loads(lock.read_text()), "key": key}))
            os.kill(os.getpid(), signal.SIGKILL)

        return original(self, stage, key, dying, *args, **kwargs)

    Store.compute = compute
    try:
        return fn(task)
    finally:  # reached only if the entry was already cached (nothing to kill)
        Store.compute = original


def _run(tmp: Path, data_root: str, executor) -> tuple[pd.DataFrame, Path]:
    from harness import load_suite
    from harness.execute import run_suite
    from harness.store import Store

    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "tiny_ray.yaml").write_text(SUITE)
    suite = load_suite(tmp / "tiny_ray.yaml")
    summary = run_suite(suite, out=tmp, store=Store(tmp / "cache"), data_root=data_root, progress=False,
                        executor=executor)
    assert not summary.failed, [c.reason for c in summary.failed]
    df = pd.read_parquet(tmp / "results" / "tiny_ray" / "results.parquet")
    return _comparable(df), tmp / "cache"


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    df = df[df.metric != "train_seconds"]
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def _entries(cache: Path) -> set:
    from harness.store import Store

    return set(Store(cache).entries())


@pytest.fixture(scope="module")
def env(data_root):
    """Torch threads equal in the local run and the Ray workers (results then match exactly); the repo on
    the workers' path (the fault injection wraps the task with a function of this module)."""
    saved = {k: os.environ.get(k) for k in ("BENCH_NUM_THREADS", "PYTHONPATH")}
    os.environ["BENCH_NUM_THREADS"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), saved["PYTHONPATH"]) if p)
    yield data_root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def local(env, tmp_path_factory):
    from harness.execute import get_executor

    rec = Recording(get_executor("local"))
    df, cache = _run(tmp_path_factory.mktemp("local"), env, rec)
    return df, cache, rec.results


def _ray(num_cpus=2, **options):
    from harness.execute import get_executor

    return get_executor("ray", {"num_cpus": num_cpus, **options})


def test_ray_equals_local_and_computes_each_entry_once(env, local, tmp_path):
    ref, ref_cache, ref_results = local
    rec = Recording(_ray())
    df, cache = _run(tmp_path, env, rec)
    pd.testing.assert_frame_equal(df, ref)  # bit for bit: same torch thread count as the local run

    tasks = Counter((r.stage, r.key) for r in rec.results)
    assert set(tasks) == {(r.stage, r.key) for r in ref_results}
    assert max(tasks.values()) == 1  # each entry is one task ...
    assert all(r.ok and r.computed == (r.stage,) for r in rec.results)  # ... that computed only itself
    assert Counter(s for s, _ in tasks)["pretrain"] == 1 and Counter(s for s, _ in tasks)["features"] == 2
    assert _entries(cache) == _entries(ref_cache)  # one entry per planned task, same keys as local


def test_a_worker_killed_mid_stage_is_retried_and_nothing_partial_is_read(env, local, tmp_path):
    from harness.store import Store

    ref, ref_cache, _ = local
    flag = tmp_path / "killed.json"
    rec = Recording(_ray(max_retries=2), wrap=partial(_lose_worker_once, str(flag)))
    df, cache = _run(tmp_path / "run", env, rec)

    killed = json.loads(flag.read_text())  # the first attempt died holding the lock, artifacts in its tmp folder
    assert killed["lock"]["pid"] == killed["pid"] and "manifest.json" not in killed["tmp"] and killed["tmp"]
    pretrain = [r for r in rec.results if r.stage == KILLED]
    assert len(pretrain) == 1 and pretrain[0].ok and pretrain[0].key == killed["key"]
    assert pretrain[0].computed == (KILLED,)  # the retry computed the entry anew (took over the dead lock)

    pd.testing.assert_frame_equal(df, ref)  # same leaderboard numbers as the undisturbed local run
    store = Store(cache)
    assert _entries(cache) == _entries(ref_cache)
    for stage, key in store.entries():
        store.verify_entry(stage, key)  # every entry complete, digests match
    assert not list(cache.glob("*/locks/*.lock"))  # the dead worker's lock was taken over and released
    debris = [p.name for p in store.debris()]
    assert len(debris) == 1 and debris[0].startswith(f".tmp-{killed['key'][:12]}")  # the partial entry, unread


def test_errors_escaping_a_task_and_workers_lost_for_good(env):
    """An exception escaping the task (not a stage failure) reaches the caller as itself, not as Ray's
    wrapper; a task whose worker is lost more than max_retries times stops the run with one line, after
    the other tasks of its level have finished."""
    from harness import UserError

    ex = _ray(num_cpus=1, max_retries=0)
    try:
        with pytest.raises(OSError) as info:
            list(ex.map(_raise_enospc, [1]))
        assert info.value.errno == 28 and type(info.value) is OSError
        got = []
        with pytest.raises(UserError, match="1 task.* lost their worker 1 time"):
            for r in ex.map(_die_on_zero, [0, 1]):
                got.append(r)
        assert got == [1]
    finally:
        ex.close()


def _raise_enospc(_):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def _die_on_zero(x):
    if x == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return x
