"""The ray executor's config and per-task options: checked without Ray (nothing here starts one)."""
import pytest

from harness import StageTask, UserError
from harness.execute import get_executor
from harness.runner import Options


def _task(stage):
    return StageTask(spec=None, stage=stage, store_root="/cache", options=Options())


@pytest.mark.parametrize("options, message", [
    ({"resources": {"pretrian": {"num_gpus": 1}}}, "did you mean 'pretrain'"),
    ({"resources": {"pretrain": {"num_gpu": 1}}}, "did you mean 'num_gpus'"),
    ({"resources": {"pretrain": {"num_gpus": -1}}}, "non-negative"),
    ({"resources": {"pretrain": 1}}, "expected a mapping"),
    ({"max_retries": -1}, "max_retries"),
    ({"threads": "share"}, "'same'"),
    ({"address": "auto", "num_cpus": 2}, "local Ray"),
])
def test_bad_configs_are_one_clear_error(options, message):
    with pytest.raises(UserError, match=message):
        get_executor("ray", options)


def test_per_stage_requests_retries_and_threads(monkeypatch):
    monkeypatch.setenv("BENCH_NUM_THREADS", "3")
    monkeypatch.setenv("BENCH_LOAD_PLUGINS", "builtin")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    ex = get_executor("ray", {"resources": {"pretrain": {"num_gpus": 1}, "default": {"num_cpus": 2}},
                              "max_retries": 5})
    pre, probe = ex.options(_task("pretrain")), ex.options(_task("probe"))
    assert (pre["num_gpus"], pre["num_cpus"], probe["num_cpus"]) == (1, 2, 2) and "num_gpus" not in probe
    # lost workers are retried; a stage's own failure is a result, never an exception to retry
    assert pre["max_retries"] == 5 and pre["retry_exceptions"] is False
    env = pre["runtime_env"]["env_vars"]
    assert env["BENCH_NUM_THREADS"] == "3" and env["BENCH_LOAD_PLUGINS"] == "builtin"  # as a local run
    task = get_executor("ray", {"threads": "task", "resources": {"probe": {"num_cpus": 4}}})
    assert task.options(_task("probe"))["runtime_env"]["env_vars"]["BENCH_NUM_THREADS"] == "4"
    assert task.options(_task("train"))["runtime_env"]["env_vars"]["OMP_NUM_THREADS"] == "1"


def test_processes_threads_per_worker_and_the_oversubscription_warning():
    from plugins.executors.processes import threads_per_worker

    assert threads_per_worker(2, 2, "same", 2) == (2, None)  # make run: equal to local, measured as fast as share
    assert threads_per_worker(2, 2, "share", 2) == (1, None)
    assert threads_per_worker(16, 16, "share", 16) == (1, None)
    assert threads_per_worker(3, 2, "share", 2) == (1, None)  # never zero threads
    assert threads_per_worker(3, 1, "same", 2) == (1, None)  # BENCH_NUM_THREADS=1: 3 threads on 2 cores
    threads, warning = threads_per_worker(16, 16, "same", 16)
    assert threads == 16
    assert "16 workers x 16 torch threads on 16 cores" in warning and "16-fold" in warning
    assert "--threads share" in warning and "each worker 1" in warning
    assert threads_per_worker(3, 2, "same", 2)[1] is not None  # 6 threads on 2 cores: past twice


def test_processes_pool_warns_once_on_stderr(monkeypatch, capsys):
    from plugins.executors.processes import ProcessesExecutor

    monkeypatch.setenv("BENCH_NUM_THREADS", "2")
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    ex = ProcessesExecutor(ProcessesExecutor.Config(workers=3))
    try:
        ex._get_pool()
        ex._get_pool()  # the pool is reused: no second warning
    finally:
        ex.close()
    err = capsys.readouterr().err
    assert err.count("warning: processes: 3 workers x 2 torch threads on 2 cores") == 1
    ex = ProcessesExecutor(ProcessesExecutor.Config(workers=2))
    try:
        ex._get_pool()
    finally:
        ex.close()
    assert capsys.readouterr().err == ""
