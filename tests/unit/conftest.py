"""Fixtures for in-process tests that add plugins to the process-wide plugin manager."""
from __future__ import annotations

import pytest


@pytest.fixture
def add_plugins():
    """Register plugin modules for one test; the plugin manager and stage-key memos are reset after."""
    from harness import get_plugin_manager
    from harness.data import load_splits
    from harness.plugins import reset_plugin_manager

    def add(*modules):
        pm = get_plugin_manager()
        for m in modules:
            pm.add(m)

    yield add
    reset_plugin_manager()
    load_splits.cache_clear()


@pytest.fixture
def synthetic(add_plugins, monkeypatch):
    """The ``synthetic`` dataset plugin (tests/unit/synthetic.py) is registered; no data root needed."""
    from .synthetic import synthetic_plugin

    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)
    monkeypatch.delenv("BENCH_CACHE_DIR", raising=False)
    add_plugins(synthetic_plugin())
    return add_plugins
