"""kill -9 of `bench run` must not leave the processes executor's workers training on as orphans."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")

ROOT = Path(__file__).resolve().parents[2]

# A driver with a pool of two workers, each busy for ten minutes; it prints the workers' pids.
DRIVER = """
import time
from plugins.executors.processes import ProcessesExecutor
ex = ProcessesExecutor(ProcessesExecutor.Config(workers=2, threads="share"))
pool = ex._get_pool()
futures = [pool.submit(time.sleep, 600) for _ in range(2)]
while len(pool._processes) < 2:
    time.sleep(0.05)
time.sleep(2)  # both workers past their initializer and asleep in the task
print(*pool._processes, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running (a zombie left for a reaper that never comes counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_die_with_a_killed_driver():
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(alive(p) for p in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(p) for p in workers), "orphaned workers still running"
    finally:
        proc.kill()
        for p in workers if "workers" in locals() else []:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_worker_whose_driver_is_already_gone_exits():
    """The race: the driver dies before the worker's prctl takes effect."""
    code = ("import os, sys; from plugins.executors.processes import die_with_parent; "
            "die_with_parent(os.getppid() + 1); print('survived')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "survived" not in out.stdout
