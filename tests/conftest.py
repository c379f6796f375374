"""Shared fixtures. Integration tests need the real MedMNIST files: BENCH_DATA_ROOT, else ../shared/data/medmnist."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Before anything imports torch: spinning OpenMP waits make parallel jobs crawl (see harness/cli.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Tests need no network: MLflow (the mlflow tracker) otherwise sends usage telemetry.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# An xdist worker (the unit set runs on two, below) gets one torch thread: two workers with two threads
# each would oversubscribe the 2-core machine (bench subprocesses inherit BENCH_NUM_THREADS too).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("BENCH_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
INTEGRATION = Path(__file__).resolve().parent / "integration"
#: workers for the unit set (`pytest -m "not integration"`) when pytest-xdist is installed
UNIT_WORKERS = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Run the unit set (`-m "not integration"`, as `make test` does) on two xdist workers.

    Its ~1,000 tests are small and single-threaded at heart, so two one-thread workers take about
    two thirds of the serial time on the 2-core machine (docs/testing.md). Nothing changes when
    pytest-xdist is missing or disabled (`-p no:xdist`), when `-n` is given (`-n 0`: serial), for any
    other selection (the integration set shares session-wide smoke runs, which workers would each
    repeat), inside a worker, or on a 1-core machine.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") or not config.pluginmanager.hasplugin("xdist"):
        return
    if getattr(config.option, "numprocesses", None) is not None or (os.cpu_count() or 1) < 2:
        return
    if (config.option.markexpr or "").strip() != "not integration" or config.option.collectonly:
        return
    config.option.numprocesses = UNIT_WORKERS


def pytest_collection_modifyitems(config, items):
    """Mark as `integration` every test under tests/integration and every test using the real data.

    Done here rather than by hand, so a new test cannot forget the marker and slip into the fast set
    (`pytest -m "not integration"`, or `make test-unit`).
    """
    for item in items:
        if INTEGRATION in Path(str(item.fspath)).parents or "data_root" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def data_root() -> str:
    root = os.environ.get("BENCH_DATA_ROOT") or str(REPO.parent / "shared" / "data" / "medmnist")
    if not (Path(root) / "breastmnist.npz").is_file():
        pytest.fail(f"integration data missing: set BENCH_DATA_ROOT to a folder with the MedMNIST .npz files "
                    f"(tried {root})")
    return root


def bench(*args: str, env: dict | None = None, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run the `bench` CLI in a subprocess, as a user would."""
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          env=e, cwd=cwd or REPO)
