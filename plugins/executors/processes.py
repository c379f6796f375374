"""Run stage tasks in a pool of worker processes on this machine."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from harness import Executor, hookimpl


def _init_worker(threads: int, parent: int | None = None) -> None:
    # Before torch loads in the worker: share the cores instead of oversubscribing them, and keep
    # OpenMP from spinning while it waits (see harness/cli.py).
    os.environ["BENCH_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if parent is not None:
        die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this worker when ``bench run`` dies (``kill -9``, the OOM killer).

    Otherwise an orphaned worker trains on to the end of its stage, holding cores (and the entry's
    lock) that the rerun needs; what it was computing is never written, since entries are published
    atomically. A no-op where ``prctl`` is missing. If the parent already died, exit at once.
    """
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def threads_per_worker(workers: int, threads: int, mode: str, cpus: int) -> tuple[int, str | None]:
    """Torch threads for each of ``workers`` processes, and a warning or None.

    ``threads``: a local run's count (``BENCH_NUM_THREADS``, else every core); ``cpus``: the cores.
    ``same``: ``threads`` each, so results equal a local run's; when all workers' threads outnumber
    the cores more than twice (the default, one worker per core, gives a 16-core machine 256), the
    warning says so: two workers of two threads on 2 cores ran as fast as ``share``
    (docs/benchmarks.md), but nothing past that was measured here. ``share``: ``threads // workers``
    each, at least one.
    """
    if mode == "share":
        return max(1, threads // workers), None
    warning = None
    if workers * threads > 2 * cpus:
        warning = (f"processes: {workers} workers x {threads} torch threads on {cpus} cores oversubscribe the "
                   f"CPU {workers * threads / cpus:.0f}-fold; `--threads share` gives each worker "
                   f"{max(1, threads // workers)} (CPU results then differ from a local run's in their last bits), "
                   "or use fewer --workers")
    return threads, warning


class ProcessesExecutor(Executor):
    """A process pool (``concurrent.futures``, spawn start method) on one machine.

    The runner hands it one level of the stage graph at a time, so upstream stages (one pretraining
    for many probes) finish before the tasks that read them; the cache's per-entry locks keep two
    workers from computing the same entry.

    Torch threads per worker: by default the same as an in-process run (``BENCH_NUM_THREADS`` or
    every core), because a CPU result depends on the thread count in its last bits, and a trained
    network amplifies those bits: with the same count, results equal the ``local`` executor's
    exactly. ``threads: share`` gives each worker ``cores // workers`` threads instead: no
    oversubscription, but numbers that differ from ``local`` in the way two machines' do. With OpenMP
    threads that sleep while they wait (``OMP_WAIT_POLICY=PASSIVE``, set here and by ``bench run``),
    oversubscription costs little: on 2 cores, 2 workers of 2 threads ran ``label_efficiency`` as fast
    as ``share`` (38.7 against 38.8 min) with every number equal to ``local``'s (docs/benchmarks.md).
    """

    @dataclass(frozen=True)
    class Config:
        """Attributes: workers: worker processes (default: the number of CPU cores); threads: "same" or "share"."""

        workers: Optional[int] = None
        threads: str = "same"

        def __post_init__(self):
            if self.workers is not None and self.workers < 1:
                raise ValueError("workers must be >= 1")
            if self.threads not in ("same", "share"):
                raise ValueError("threads must be 'same' (results equal local) or 'share' (cores // workers each)")

    def __init__(self, config=None):
        super().__init__(config)
        self._pool = None

    def _get_pool(self):
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            workers = self.config.workers or os.cpu_count() or 1
            cpus = os.cpu_count() or 1
            local = int(os.environ.get("BENCH_NUM_THREADS", "0")) or cpus
            threads, warning = threads_per_worker(workers, local, self.config.threads, cpus)
            if warning:
                import sys

                print(f"warning: {warning}", file=sys.stderr)
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                             initializer=_init_worker, initargs=(threads, os.getpid()))
        return self._pool

    def map(self, fn, items):
        from concurrent.futures import as_completed

        items = list(items)
        if not items:
            return
        pool = self._get_pool()
        futures = [pool.submit(fn, item) for item in items]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@hookimpl
def register_executors(register):
    register("processes", ProcessesExecutor)
