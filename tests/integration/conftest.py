"""Smoke-suite runs shared across the integration modules: each suite trains once per test session.

Several modules need the same tiny models (the label-efficiency smoke suite's, mostly) before they
run what they test. ``smoke_runs.out(*suites)`` hands each caller a private copy of an output folder
(cache, results, leaderboards) in which exactly those suites have run: built from the union of
the copies made or published so far that those suites cover, plus fresh runs of the rest. A module
that observes a run of its own (nothing retrained, entries shared) still makes that run itself, in its
copy, and may then ``publish`` the folder for later modules. Copies, never links: several tests
truncate or edit cache files in place.

The cache is content-addressed (one folder per stage key, no index), so merging folders of runs on
the same machine gives the cache that running all of those suites in one folder would.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, bench


class SmokeRuns:
    def __init__(self, factory, data_root: str):
        self._factory, self._data_root = factory, data_root
        self._done: dict[frozenset, Path] = {}

    def _copy(self, src: Path, dest: Path) -> None:
        shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".tmp*", "*.lock"))

    def run(self, out: Path, suite: str) -> None:
        proc = bench("run", str(REPO / "suites" / f"{suite}.yaml"), "--data-root", self._data_root,
                     "--out", str(out), "--no-progress")
        assert proc.returncode == 0, proc.stderr[-3000:]

    def out(self, *suites: str) -> Path:
        """A private folder in which exactly ``suites`` have run (in this order where they are new)."""
        want = frozenset(suites)
        if want not in self._done:
            d = self._factory.mktemp("shared_runs")
            covered: set = set()
            for done, path in sorted(self._done.items(), key=lambda kv: -len(kv[0])):
                if done <= want and not done <= covered:
                    self._copy(path, d)
                    covered |= done
            for s in suites:
                if s not in covered:
                    self.run(d, s)
            self._done[want] = d
        dest = self._factory.mktemp("-".join(s.removeprefix("smoke_") for s in suites))
        self._copy(self._done[want], dest)
        return dest

    def publish(self, out: Path, *suites: str) -> None:
        """Offer ``out`` (in which exactly ``suites`` ran) to later callers; a snapshot is taken now."""
        want = frozenset(suites)
        if want not in self._done:
            d = self._factory.mktemp("published")
            self._copy(out, d)
            self._done[want] = d


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory, data_root) -> SmokeRuns:
    return SmokeRuns(tmp_path_factory, data_root)
