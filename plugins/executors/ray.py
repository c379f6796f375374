"""Run stage tasks as Ray tasks, on a local Ray or on a Ray cluster (``medmnist-ssl-bench[ray]``)."""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from harness import Executor, UserError, did_you_mean, hookimpl

#: per-stage request keys passed to Ray's task options as they are
_REQUEST_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "accelerator_type")
#: the request of a stage that ``resources`` does not name (nor its ``default`` entry)
_DEFAULT_REQUEST = {"num_cpus": 1}
#: driver environment variables every task sees (the plugin selection, the data root, ...): workers
#: on other nodes do not inherit the driver's environment. Thread counts are set separately.
_FORWARD_PREFIXES = ("BENCH_",)
_FORWARD_NAMES = ("OMP_WAIT_POLICY", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG")


def _run(fn, item):
    """The Ray task body: ``fn(item)`` in a worker (module level, so it is imported, not pickled)."""
    return fn(item)


class RayExecutor(Executor):
    """Ray tasks, one per stage entry, on a local Ray (started for the run) or an existing cluster.

    Each stage task is one Ray task with the stage's resource request (``resources``; default one CPU),
    so ``pretrain: {num_gpus: 1}`` puts pretraining on GPU nodes while probes fill the CPUs. A stage's
    own failure is not retried (the task returns it as a result and it is cached as failed); a lost
    worker (killed, OOM-killed, its node gone) is retried up to ``max_retries`` times, and the retry
    takes over the dead owner's entry lock. Every worker must see the cache folder and the data
    folder at the same paths as the driver (a shared filesystem), and have this package installed.

    Torch threads: like ``processes``, ``threads: same`` gives each task as many threads as a local run
    (``BENCH_NUM_THREADS`` or the driver's cores), so results equal ``local``'s exactly on the same
    machine; ``threads: task`` gives each task the CPUs it requested (Ray's convention: no
    oversubscription, numbers that differ in their last bits).
    """

    @dataclass(frozen=True)
    class Config:
        """Attributes: address: None starts a local Ray for the run, "auto" or "ray://host:10001" connects;
        num_cpus: CPUs of a local Ray (default: every core); resources: per-stage Ray requests,
        ``{stage or "default": {num_cpus, num_gpus, memory, resources, accelerator_type}}``;
        max_retries: retries of a task whose worker was lost; threads: "same" or "task"."""

        address: Optional[str] = None
        num_cpus: Optional[int] = None
        resources: dict = field(default_factory=dict)
        max_retries: int = 3
        threads: str = "same"

        def __post_init__(self):
            if self.num_cpus is not None and self.num_cpus < 1:
                raise ValueError("num_cpus must be >= 1")
            if self.num_cpus is not None and self.address is not None:
                raise ValueError("num_cpus sizes a local Ray; a cluster's size is its own (leave address out)")
            if self.max_retries < 0:
                raise ValueError("max_retries must be >= 0 (0: a lost worker fails the run)")
            if self.threads not in ("same", "task"):
                raise ValueError("threads must be 'same' (results equal local) or 'task' (the task's CPUs)")
            _check_resources(self.resources)

    def __init__(self, config=None):
        super().__init__(config)
        self._ray = None
        self._started = False  # shut down at close() only a Ray this executor started
        self.startup_seconds = 0.0

    # -- connection ----------------------------------------------------------------------
    def _connect(self):
        if self._ray is not None:
            return self._ray
        import time

        try:
            import ray
        except ImportError as exc:
            # chained, so a caller can tell "not installed" from other user errors (the conformance test skips)
            raise UserError("the ray executor needs Ray: pip install 'medmnist-ssl-bench[ray]'") from exc
        t0 = time.time()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"logging_level": "warning", "include_dashboard": False}
            if self.config.address is None:
                kwargs["num_cpus"] = self.config.num_cpus or os.cpu_count() or 1
            try:
                ray.init(address=self.config.address, **kwargs)
            except ConnectionError as exc:
                raise UserError(f"ray: cannot connect to {self.config.address!r} ({exc})") from None
            self._started = True
        self._ray = ray
        self.startup_seconds = time.time() - t0
        self._check_feasible()
        return ray

    def _check_feasible(self) -> None:
        """A request that no node of the cluster can meet would wait forever: say so before submitting."""
        total = self._ray.cluster_resources()
        for stage, req in self._requests().items():
            need = {"CPU": req.get("num_cpus", 0), "GPU": req.get("num_gpus", 0), **req.get("resources", {})}
            short = {k: v for k, v in need.items() if v and total.get(k, 0) < v}
            if not short:
                continue
            msg = (f"ray: stage {stage!r} requests {short} but the cluster has "
                   f"{ {k: total.get(k, 0) for k in short} }")
            if self._started:  # a local Ray never grows
                raise UserError(msg + "; lower the request in the executor's resources")
            print(f"warning: {msg}; its tasks wait until the cluster grows (autoscaling)", file=sys.stderr)

    # -- per-task options ----------------------------------------------------------------
    def _requests(self) -> dict[str, dict]:
        return {s: self._request(s) for s in self.config.resources if s != "default"} | {"default": self._request(None)}

    def _request(self, stage: Optional[str]) -> dict:
        req = dict(_DEFAULT_REQUEST)
        req.update(self.config.resources.get("default", {}))
        if stage is not None:
            req.update(self.config.resources.get(stage, {}))
        return req

    def _env(self, request: dict) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARD_PREFIXES) or k in _FORWARD_NAMES}
        if self.config.threads == "same":
            # a local run's counts: torch (set_threads reads BENCH_NUM_THREADS) and OpenMP/BLAS, which Ray
            # would otherwise pin to the task's CPUs
            threads = int(os.environ.get("BENCH_NUM_THREADS", "0")) or os.cpu_count() or 1
            env["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1))
        else:
            threads = max(1, math.floor(request.get("num_cpus", 1)))
            env["OMP_NUM_THREADS"] = str(threads)
        env["BENCH_NUM_THREADS"] = str(threads)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see harness/cli.py: spinning OpenMP under contention
        return env

    def options(self, item) -> dict:
        """Ray task options for one item (a StageTask: its stage's request)."""
        req = self._request(getattr(item, "stage", None))
        return {**req, "max_retries": self.config.max_retries, "retry_exceptions": False,
                "runtime_env": {"env_vars": self._env(req)},
                "name": f"{getattr(item, 'stage', 'task')}"}

    # -- Executor ------------------------------------------------------------------------
    def map(self, fn, items):
        items = list(items)
        if not items:
            return
        ray = self._connect()
        from ray.exceptions import RayError, RayTaskError, TaskCancelledError

        remote = ray.remote(_run)
        fn_ref = ray.put(fn)  # shipped once per level, not once per task
        pending = {remote.options(**self.options(item)).remote(fn_ref, item): item for item in items}
        lost: list[str] = []
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                item = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except RayTaskError as exc:
                    # fn raised: for stage_task that is an environment error (a full disk) or a UserError,
                    # which stop the run as they do in-process; re-raise the original, not Ray's wrapper
                    raise (exc.cause if isinstance(exc.cause, BaseException) else exc) from None
                except TaskCancelledError:
                    raise
                except RayError as exc:  # the worker or its node was lost more than max_retries times
                    lost.append(f"{getattr(item, 'stage', item)}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                    continue
                yield result
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        if lost:
            # not a stage failure (nothing is cached as failed): the rest of the level is done and cached,
            # and a rerun resumes from there
            raise UserError(f"ray: {len(lost)} task(s) lost their worker {self.config.max_retries + 1} time(s) "
                            f"(raise max_retries, or look for OOM kills); first: {lost[0]}")

    def close(self) -> None:
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False


def _check_resources(resources: dict) -> None:
    from harness import get_registry

    stages = list(get_registry("stages").names()) + ["default"]
    for stage, req in resources.items():
        if stage not in stages:
            raise ValueError(f"resources: unknown stage {stage!r}{did_you_mean(stage, stages)} (stages: "
                             f"{', '.join(stages)})")
        if not isinstance(req, dict):
            raise ValueError(f"resources.{stage}: expected a mapping such as {{num_gpus: 1}}, got {req!r}")
        for k, v in req.items():
            if k not in _REQUEST_KEYS:
                raise ValueError(f"resources.{stage}: unknown request {k!r}{did_you_mean(k, _REQUEST_KEYS)} "
                                 f"(requests: {', '.join(_REQUEST_KEYS)})")
            if k == "resources":
                ok = isinstance(v, dict) and all(isinstance(x, (int, float)) and x >= 0 for x in v.values())
            elif k == "accelerator_type":
                ok = isinstance(v, str)
            else:
                ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
            if not ok:
                raise ValueError(f"resources.{stage}.{k}: expected a non-negative number"
                                 f"{' mapping' if k == 'resources' else ''}, got {v!r}")


@hookimpl
def register_executors(register):
    register("ray", RayExecutor)
