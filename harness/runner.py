"""Walk a cell's stage graph: keys, cached entries, computing, failures, run folders.

The runner knows no stage by name. A cell's graph is every registered stage that applies to it, in
dependency order (``harness.plugins.stage_graph``); a stage's key hashes the fields it declares,
its active upstream keys, its version and the core's code version. Everything a task carries
(``StageTask``) pickles, so executors may run it in another process or on another machine that
sees the same cache.
"""
from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from .errors import StageFailed, UserError
from .plugins import get_registry, stage_graph
from .stage import ROWS, Entry, StageContext
from .store import CorruptEntry, Store, atomic_write_json, canonical, stage_key_from_text
from .axes import AXES
from .suite import ComponentSpec, RunSpec

#: OS errors that say "the machine", not "this stage": never cached as a stage failure
_ENVIRONMENT = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def versions() -> dict[str, str]:
    """Library versions that change what a run means (recorded with every run)."""
    import importlib.metadata as md
    import re

    try:  # our own distribution and what it requires (the libraries whose versions change results)
        reqs = md.requires("medmnist-ssl-bench") or []
    except md.PackageNotFoundError:
        reqs = []
    names = ["medmnist-ssl-bench", "numpy"] + [re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0] for r in reqs
                                               if "extra ==" not in r]
    out = {}
    for pkg in dict.fromkeys(names):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "?"
    return out


@dataclass(frozen=True)
class Node:
    """One stage of one cell: its key and the active upstream stages it reads."""

    stage: str
    key: str
    upstream: tuple[str, ...]


_KEYS: dict = {}
_ID_PIECES: dict = {}
_FIELDS: dict = {}
_FIELD_OWNERS: list = []
_GRAPHS: dict = {}
_STRUCTURE: dict = {}
_SELECTORS: dict = {}


def cell_graph(spec: RunSpec, store: Optional[Store] = None) -> dict[str, Node]:
    """The stages that apply to ``spec``, upstream first, with their cache keys.

    A stage's key depends only on what it declares (``reads``, its settings, its upstream keys), so
    keys are memoised on exactly that: planning 100,000 cells hashes each distinct stage once.
    """
    cached = _GRAPHS.get(spec)
    if cached is not None:
        return cached
    idx = spec._index
    graph = stage_graph()
    selectors = _SELECTORS.get(id(graph))
    if selectors is None:
        selectors = _SELECTORS[id(graph)] = tuple(dict.fromkeys(a for st in graph for a in st.selected_by))
    # which stages apply (and their active upstream) depends only on the selecting axes
    skey = (id(graph), spec.stages) + tuple(idx[a] for a in selectors)
    structure = _STRUCTURE.get(skey)
    if structure is None:
        structure, active = [], set()
        for st in graph:
            if st.applies(spec):
                structure.append((st, tuple(u for u in st.upstream if u in active)))
                active.add(st.name)
        _STRUCTURE[skey] = structure
    nodes: dict[str, Node] = {}
    for st, ups in structure:
        up_keys = tuple(nodes[u].key for u in ups)
        # the fields' JSON depends only on what the stage reads: computed once per distinct value
        # (settings by identity: equal copies only cost a recomputation, never a wrong key)
        fmemo = (type(st), st.name, tuple(idx[a] for a in st.reads),
                 id(idx[st.settings_key]) if st.settings_key else None)
        text = _FIELDS.get(fmemo)
        if text is None:
            text = _FIELDS[fmemo] = canonical(st.fields(spec))
            _FIELD_OWNERS.append(idx[st.settings_key] if st.settings_key else None)  # keeps ids valid
        memo = (text, st.name, up_keys)
        key = _KEYS.get(memo)
        if key is None:
            key = _KEYS[memo] = stage_key_from_text(st.name, text, up_keys, st.version)
        nodes[st.name] = Node(st.name, key, ups)
    if len(_GRAPHS) > 200_000:
        _GRAPHS.clear()
    _GRAPHS[spec] = nodes
    return nodes


def result_stages(nodes: dict[str, Node]) -> list[str]:
    """Stages whose entries a cell needs: the sinks, and every stage that contributes rows."""
    names = tuple(nodes)
    out = _RESULT.get(names)
    if out is None:
        stages = get_registry("stages")
        feeds = {u for n in nodes.values() for u in n.upstream}
        out = _RESULT[names] = [n for n in nodes if n not in feeds or ROWS in stages.get(n).artifacts]
    return out


_RESULT: dict = {}


def is_cached(spec: RunSpec, store: Store) -> bool:
    nodes = cell_graph(spec, store)
    return all(store.has(n, nodes[n].key) for n in result_stages(nodes))


class StageError(Exception):
    """A stage of the cell failed (now, or in an earlier run: failures are cached)."""

    def __init__(self, stage: str, reason: str):
        super().__init__(f"{stage}: {reason}")
        self.stage, self.reason = stage, reason


@dataclass(frozen=True)
class Options:
    """How stages run (pickles with every task)."""

    data_root: Optional[str] = None
    progress: bool = False
    retry_failed: bool = False
    device: str = "cpu"


class Walker:
    """Ensures stage entries for cells: load if cached and intact, else compute (holding its lock)."""

    def __init__(self, store: Store, options: Options):
        self.store, self.options = store, options
        self.computed: list[str] = []
        self._stages = get_registry("stages")

    def ensure(self, spec: RunSpec, nodes: dict[str, Node], name: str, _attempt: int = 0) -> Entry:
        node = nodes[name]
        store = self.store
        if store.has(name, node.key):
            try:
                store.quick_check(name, node.key)
                return Entry(store, name, node.key, store.path(name, node.key))
            except CorruptEntry as exc:
                store.quarantine(exc.stage, exc.key, exc.reason)
        reason = store.failed(name, node.key)
        if reason is not None and not self.options.retry_failed:
            raise StageError(name, reason)
        with store.lock(name, node.key):
            if store.has(name, node.key):  # another run or worker finished it while we waited
                return Entry(store, name, node.key, store.path(name, node.key))
            if reason is not None:
                store.clear_failed(name, node.key)
            inputs = {u: self.ensure(spec, nodes, u) for u in node.upstream}
            st = self._stages.get(name)()
            st.name = name
            try:
                store.compute(name, node.key, lambda out: st.run(StageContext(
                    spec=spec, stage=name, out=out, inputs=inputs, data_root=self.options.data_root,
                    progress=self.options.progress, device=self.options.device, store=store)),
                    st.artifacts, st.optional_artifacts)
            except CorruptEntry as exc:  # an upstream artifact failed its check when read
                store.quarantine(exc.stage, exc.key, exc.reason)
                if _attempt >= 2:
                    raise
            except (StageError, UserError, KeyboardInterrupt, SystemExit):
                raise
            except OSError as exc:
                if exc.errno in _ENVIRONMENT:
                    raise
                self._fail(name, node.key, exc)
            except Exception as exc:  # noqa: BLE001 - any error inside a stage fails that stage only
                self._fail(name, node.key, exc)
            else:
                self.computed.append(name)
                return Entry(store, name, node.key, store.path(name, node.key))
        return self.ensure(spec, nodes, name, _attempt + 1)

    def _fail(self, stage: str, key: str, exc: BaseException):
        reason = str(exc) if isinstance(exc, StageFailed) else f"{type(exc).__name__}: {exc}"
        self.store.mark_failed(stage, key, reason, traceback.format_exc())
        raise StageError(stage, reason) from exc

    def rows(self, spec: RunSpec, nodes: dict[str, Node]) -> list[dict]:
        """Every result row of the cell (computing whatever is missing)."""
        labels = {**spec.labels(), **{f"{a}_name": n for a, n in spec.names().items() if n is not None}}
        for name in nodes:  # every entry of the cell: size-checked (cheap), recomputed if damaged
            self.ensure(spec, nodes, name)
        out = []
        for name in result_stages(nodes):
            for attempt in range(3):
                entry = self.ensure(spec, nodes, name)
                try:
                    stage_rows = self._stages.get(name)().rows(entry)
                    break
                except CorruptEntry as exc:
                    self.store.quarantine(exc.stage, exc.key, exc.reason)
                    if attempt == 2:
                        raise
            out += [{**labels, **r} for r in stage_rows]
        return out


@dataclass
class CellResult:
    spec: RunSpec
    status: str  # "ok" | "failed"
    rows: list[dict] = field(default_factory=list)
    reason: str = ""
    failed_stage: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    computed: list[str] = field(default_factory=list)


def run_cell(spec: RunSpec, store: Store, options: Options) -> CellResult:
    """Compute (or load) every stage of one cell and return its tidy result rows."""
    t0 = time.time()
    nodes = cell_graph(spec, store)
    res = CellResult(spec=spec, status="ok", keys={n: v.key for n, v in nodes.items()})
    walker = Walker(store, options)
    try:
        res.rows = walker.rows(spec, nodes)
    except StageError as exc:
        res.status, res.reason, res.failed_stage = "failed", f"{exc.stage}: {exc.reason}", exc.stage
    res.computed = walker.computed
    res.seconds = time.time() - t0
    return res


# -- tasks an executor runs ----------------------------------------------------------------
@dataclass(frozen=True)
class StageTask:
    """Compute one stage entry (and any missing upstream one). Pickles: a spec, names and paths."""

    spec: RunSpec
    stage: str
    store_root: str
    options: Options


@dataclass(frozen=True)
class TaskResult:
    stage: str
    key: str
    ok: bool
    reason: str = ""
    computed: tuple[str, ...] = ()
    seconds: float = 0.0
    events: tuple[str, ...] = ()


def stage_task(task: StageTask) -> TaskResult:
    """Run a StageTask (module level, so process and cluster executors can send it)."""
    t0 = time.time()
    store = Store(task.store_root)
    nodes = cell_graph(task.spec, store)
    walker = Walker(store, task.options)
    key = nodes[task.stage].key
    try:
        walker.ensure(task.spec, nodes, task.stage)
    except StageError as exc:
        return TaskResult(task.stage, key, False, f"{exc.stage}: {exc.reason}", tuple(walker.computed),
                          time.time() - t0, tuple(store.events))
    return TaskResult(task.stage, key, True, "", tuple(walker.computed), time.time() - t0, tuple(store.events))


def plan_tasks(specs: Iterable[RunSpec], store: Store, retry_failed: bool = False) -> list[list[tuple[RunSpec, str]]]:
    """Stage entries to compute, deduplicated by key, grouped into levels of the graph.

    Level ``i`` holds entries whose upstream entries are all in levels below ``i`` (or cached), so
    an executor may run a level's tasks in any order or in parallel. An entry is planned only if a
    cell needs it: it is a missing result entry, or a missing entry a planned one reads.
    """
    from ._config import no_gc

    with no_gc():
        return _plan_tasks(specs, store, retry_failed)


def _plan_tasks(specs, store, retry_failed: bool) -> list[list[tuple[RunSpec, str]]]:
    levels: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], tuple[RunSpec, str]] = {}
    store = store.snapshot() if isinstance(store, Store) else store
    for spec in specs:
        nodes = cell_graph(spec, store)
        # a failed entry (and everything that reads it) is reported by the cell, not planned;
        # --retry-failed computes it again
        blocked = set()
        for name, node in nodes.items():
            if (not retry_failed and not store.has(name, node.key) and store.failed(name, node.key) is not None) \
                    or any(u in blocked for u in node.upstream):
                blocked.add(name)
        needed = set()
        for name in reversed(list(nodes)):
            node = nodes[name]
            wanted = name in needed or name in result_stages(nodes)
            if not wanted or store.has(name, node.key) or name in blocked:
                continue
            needed.add(name)
            needed.update(node.upstream)
        depth: dict[str, int] = {}
        for name, node in nodes.items():
            depth[name] = 1 + max((depth[u] for u in node.upstream), default=-1)
            if name in needed and not store.has(name, node.key):
                k = (name, node.key)
                if k not in first:
                    first[k] = (spec, name)
                levels[k] = max(levels.get(k, 0), depth[name])
    out: list[list[tuple[RunSpec, str]]] = [[] for _ in range(max(levels.values(), default=-1) + 1)]
    for k, lvl in levels.items():
        out[lvl].append(first[k])
    return [lvl for lvl in out if lvl]


# -- run folders ---------------------------------------------------------------------------
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def run_id(spec: RunSpec) -> str:
    """A readable, unique folder name: the cell's non-default labels plus a hash of its stage keys.

    The keys hash everything the cell's stages read, so two cells share an id only if they would
    compute the same results.
    """
    parts = []
    for ax in AXES:
        v = spec._index[ax.name]
        piece = _ID_PIECES.get((ax.name, v))
        if piece is None:
            if v is None or (isinstance(v, ComponentSpec) and v.cls.default and not ax.required) or (
                    ax.key_if_set and v == ax.default):
                piece = ""
            else:
                lab = v.label() if isinstance(v, ComponentSpec) else v
                lab = f"{lab:g}" if isinstance(lab, float) else str(lab)
                piece = ax.run_id(lab) if ax.run_id else lab
                piece = piece.replace("(", "_").replace(")", "").replace("=", "").replace(",", "_").replace("/", "_")
                piece = _UNSAFE.sub("_", piece)  # e.g. a list option's brackets: never in a folder name
            _ID_PIECES[(ax.name, v)] = piece
        if piece:
            parts.append(piece)
    keys = ",".join(f"{n}={v.key}" for n, v in sorted(cell_graph(spec).items()))
    return f"{'-'.join(parts)}-{hashlib.sha256(keys.encode()).hexdigest()[:8]}"


def plugin_versions(spec: RunSpec) -> dict[str, dict]:
    """Distribution and version of the plugin behind each component of the cell."""
    from .plugins import get_plugin_manager
    from .suite import ComponentSpec

    pm = get_plugin_manager()
    info = {i.name: i for i in pm.plugins()}
    out = {}
    for axis, v in spec.values:
        if isinstance(v, ComponentSpec):
            owner = get_registry(v.kind).owner(v.name)
            i = info.get(owner)
            out[axis] = {"name": v.name, "plugin": owner, "distribution": i.distribution if i else "?",
                         "version": i.version if i else "?"}
    return out


def write_run_dir(res: CellResult, store: Store, runs_dir: Path, options: Options) -> Path:
    """Copy a cell's exported artifacts into ``results/<suite>/runs/<id>/`` (skipped when current)."""
    import pandas as pd

    spec = res.spec
    d = runs_dir / run_id(spec)
    marker = d / "spec.json"
    if marker.is_file():
        try:
            if json.loads(marker.read_text()).get("stage_keys") == res.keys:
                return d
        except (OSError, ValueError):
            pass  # a damaged spec.json is rewritten below
    d.mkdir(parents=True, exist_ok=True)
    stages = get_registry("stages")
    info = {}
    for name, key in res.keys.items():
        st = stages.get(name)
        entry = Entry(store, name, key, store.path(name, key))
        for artifact, dest in st.exports.items():
            if artifact in store.manifest(name, key)["artifacts"]:
                target = d / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(entry.file(artifact), target)
        if st.info:
            info[name] = entry.json(st.info)
    pd.DataFrame(res.rows).to_csv(d / "metrics.csv", index=False)
    atomic_write_json(marker, {"spec": spec.to_json(), "labels": spec.labels(), "names": spec.names(),
                               "versions": versions(), "plugins": plugin_versions(spec), "stage_keys": res.keys,
                               "stage_info": info, "device": options.device,
                               "numerics": _numerics(options.device)})
    return d


def _numerics(device: str) -> str:
    from .device import numerics

    return numerics(device)
