"""YAML suites -> validated, frozen RunSpecs (``include:``, ``matrix:``, ``exclude:``, ``overrides:``)."""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from ._config import ConfigError, close_matches, did_you_mean, from_dict, to_dict
from .errors import UserError
from .plugins import get_registry, stage_graph
from .registry import UnknownComponentError

from .axes import AXES, AXIS_NAMES, BY_NAME, UNREAD

TOP_KEYS_FIXED = {"name", "version", "description", "include", "matrix", "exclude", "overrides", "leaderboard",
                  "stages", "track", "device", "executor"}


def settings_classes() -> dict[str, type]:
    """Suite top-level key -> settings dataclass, from the registered stages (e.g. ``train``)."""
    from .plugins import stage_graph

    return {st.settings_key: st.Settings for st in stage_graph() if st.settings_key and st.Settings}


def top_keys() -> set[str]:
    return TOP_KEYS_FIXED | set(settings_classes())


class SuiteError(UserError):
    """A suite problem: names the file, the field and what is wrong."""

    def __init__(self, file: str | os.PathLike, field: str, message: str):
        self.file, self.field, self.message = str(file), field, message
        where = f"{self.file}: {field}: " if field else f"{self.file}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class ComponentSpec:
    """A component named in a suite, with its validated config."""

    kind: str
    name: str
    config: Any = None
    #: where the suite names it (``matrix.encoder[1]``), for pre-flight messages; not part of its identity
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_hash", hash((self.kind, self.name, self.config)))  # hashed once

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        # rebuilt in the receiving process: string hashes differ between processes
        return (ComponentSpec, (self.kind, self.name, self.config, self.where))

    def options(self) -> dict:
        return to_dict(self.config) if self.config is not None else {}

    @property
    def cls(self) -> type:
        return get_registry(self.kind).get(self.name)

    def to_json(self, full: bool = False) -> dict:
        """The component as cache keys see it; ``full``: every option, defaults included (spec.json)."""
        from ._config import key_options

        options = self.options() if full else key_options(self.config) if self.config is not None else {}
        out = {"name": self.name, **options}
        version = self.cls.version
        if version != 1:  # keys of version-1 components stay as they were
            out["_version"] = version
        return out

    def label(self) -> str:
        """``name``, or ``name(key=value, ...)`` listing only the non-default options."""
        return _component_label(self)

    def _label(self) -> str:
        if self.config is None:
            return self.name
        default = to_dict(type(self.config)())
        diff = {k: v for k, v in self.options().items() if default.get(k) != v}
        if not diff:
            return self.name
        parts = []
        for k, v in diff.items():  # a mapping option (e.g. timm kwargs) reads as its own key=value pairs
            parts += [f"{kk}={vv}" for kk, vv in v.items()] if isinstance(v, dict) else [f"{k}={v}"]
        return f"{self.name}(" + ",".join(parts) + ")"

    def build(self):
        return self.cls(self.config)


@functools.lru_cache(maxsize=65536)
def _component_key(spec: ComponentSpec) -> dict:
    out = spec.to_json()
    identity = spec.build().cache_identity()
    if identity:  # e.g. the hash of a local weights file: a new file must not reuse old results
        out["identity"] = identity
    return out


#: (kind, label) -> registered name, for every component a suite loaded in this process
LABELS: dict[tuple[str, str], str] = {}


@functools.lru_cache(maxsize=65536)
def _component_label(spec: ComponentSpec) -> str:
    label = spec._label()
    LABELS[(spec.kind, label)] = spec.name
    return label


@dataclass(frozen=True)
class RunSpec:
    """One cell of a suite's matrix: everything a run reads, and nothing else.

    ``values`` holds one entry per axis of ``harness.axes.AXES`` (a ComponentSpec, a number or a
    word; None where no stage of the cell reads the axis); ``settings`` the stage settings by suite
    key. Axes and settings read as attributes: ``spec.dataset``, ``spec.fraction``, ``spec.train``.
    """

    suite: str
    suite_version: int
    values: tuple  # ((axis, value), ...) in AXES order
    settings: tuple  # ((settings key, frozen dataclass), ...)
    stages: tuple = ()  # optional stages this suite asks for

    def __post_init__(self):
        # a lookup table for attribute access, and the hash computed once (planning hashes every
        # cell several times); neither is a field, so equality ignores them
        object.__setattr__(self, "_index", {**dict(self.settings), **dict(self.values)})
        object.__setattr__(self, "_hash", hash((self.suite, self.suite_version, self.values, self.settings,
                                                self.stages)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        # rebuilt from the fields in the receiving process: string hashes differ between processes
        return (RunSpec, (self.suite, self.suite_version, self.values, self.settings, self.stages))

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("suite", "suite_version", "values", "settings", "stages", "_index",
                                             "_hash"):
            raise AttributeError(name)
        try:
            return object.__getattribute__(self, "_index")[name]
        except KeyError:
            raise AttributeError(f"RunSpec has no axis or settings {name!r}") from None

    def axes(self) -> dict[str, Any]:
        return dict(self.values)

    def replace(self, **changes) -> "RunSpec":
        """A copy with some axis values and/or settings replaced (``spec.replace(seed=1, train=...)``)."""
        values = tuple((k, changes.pop(k) if k in changes else v) for k, v in self.values)
        settings = tuple((k, changes.pop(k) if k in changes else v) for k, v in self.settings)
        if changes:
            raise TypeError(f"no axis or settings named {', '.join(changes)}")
        return dataclasses.replace(self, values=values, settings=settings)

    def settings_for(self, key: str):
        for k, v in self.settings:
            if k == key:
                return v
        raise KeyError(f"no settings {key!r} in this suite")

    def key_value(self, axis: str):
        """The JSON an axis contributes to a stage key (a component's options, version, identity).

        Read-only: the same dict is shared by every cell with this component.
        """
        v = self._index[axis]
        return _component_key(v) if isinstance(v, ComponentSpec) else v

    def labels(self) -> dict[str, Any]:
        """Flat, human-readable fields for result rows and tables (``-`` for an axis no stage reads)."""
        out = {}
        for axis, v in self.values:
            out[axis] = UNREAD if v is None else v.label() if isinstance(v, ComponentSpec) else v
        return out

    def names(self) -> dict[str, Any]:
        """Component names (no options) per component axis, for columns that must not be parsed."""
        return {a: (v.name if isinstance(v, ComponentSpec) else None) for a, v in self.values
                if BY_NAME[a].is_component}

    def to_json(self) -> dict:
        out: dict[str, Any] = {"suite": self.suite, "suite_version": self.suite_version}
        for axis, v in self.values:
            out[axis] = v.to_json(full=True) if isinstance(v, ComponentSpec) else v
        for k, v in self.settings:
            out[k] = to_dict(v)
        if self.stages:
            out["stages"] = list(self.stages)
        return out


#: a table column's ``split`` that shows test minus val per run (e.g. the TPR drift of a threshold)
GAP = "gap"
STATS = ("value", "ci_low", "ci_high")


@dataclass(frozen=True)
class MetricColumn:
    """One metric column of a table: a metric (or a stage-reported quantity) and which of its rows.

    Attributes:
        metric: a registered metric or a quantity a stage or calibrator reports.
        split: ``val``, ``test``, ``gap`` (test - val, per run) or None for the table's split.
        calibrated: rows of the calibrated (True) or raw (False) probabilities.
        stat: ``value``, ``ci_low`` or ``ci_high``.
    """

    metric: str
    split: Optional[str] = None
    calibrated: bool = True
    stat: str = "value"

    def __post_init__(self):
        if self.split not in (None, "val", "test", GAP):
            raise ValueError(f"split must be val, test or {GAP}, got {self.split!r}")
        if self.stat not in STATS:
            raise ValueError(f"stat must be one of {', '.join(STATS)}, got {self.stat!r}")

    def header(self) -> str:
        """The column's key in summaries (the metric's registered name plus what sets it apart)."""
        return self.metric + self._extra(self.stat)

    def title(self) -> str:
        """The column as a reader sees it: ``AUROC (raw)``, ``balanced accuracy [val]``."""
        from .reporting import metric_title

        return metric_title(self.metric) + self._extra(self.stat.replace("ci_", "CI "))

    def _extra(self, stat: str) -> str:
        return "".join(x for x in ((" (raw)" if not self.calibrated else ""),
                                   (f" {stat}" if self.stat != "value" else ""),
                                   (" test−val" if self.split == GAP else f" [{self.split}]" if self.split else "")))


@dataclass(frozen=True)
class LeaderboardTable:
    """A leaderboard table: config rows x metric columns, or x the values of a ``pivot`` axis.

    ``metrics`` lists columns; left empty, the table shows every metric of ``families``.
    """

    title: str = ""
    metrics: tuple[MetricColumn, ...] = ()
    families: tuple[str, ...] = ("ranking", "calibration")
    rows: tuple[str, ...] = ("encoder", "regime", "augmentation")
    pivot: Optional[str] = None  # an axis whose values become columns (one table per metric)
    split: str = "test"
    where: tuple = ()  # ((axis, label), ...) filters

    def __post_init__(self):
        for r in self.rows + ((self.pivot,) if self.pivot else ()):
            if r not in AXIS_NAMES:
                raise ValueError(f"unknown axis {r!r}{did_you_mean(r, AXIS_NAMES)}")
        if self.pivot and self.pivot in self.rows:
            raise ValueError(f"pivot {self.pivot!r} cannot also be one of the rows")
        if self.split not in ("val", "test"):
            raise ValueError("split must be val or test")
        from .components import FAMILIES

        for f in self.families:
            if f not in FAMILIES:
                raise ValueError(f"unknown metric family {f!r}{did_you_mean(f, FAMILIES, available=True)}")


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    description: str
    path: str
    runs: tuple[RunSpec, ...]
    tables: tuple[LeaderboardTable, ...]
    datasets: tuple[ComponentSpec, ...] = field(default=())
    #: report plugins that add leaderboard sections (besides those that always run)
    reports: tuple[ComponentSpec, ...] = ()
    stages: tuple[str, ...] = ()
    #: tracker plugins that observe every run of this suite (``track: [mlflow]``)
    track: tuple[ComponentSpec, ...] = ()
    #: where to compute (``auto``, ``cpu``, ``cuda``, ``cuda:N``); ``bench run --device`` overrides it
    device: str = "auto"
    #: the executor and its options (``executor: {name: ray, resources: {pretrain: {num_gpus: 1}}}``);
    #: ``bench run --executor`` overrides the name, and its flags the options
    executor: Optional[tuple] = None  # (name, options dict)


# -- loading ---------------------------------------------------------------------------------
#: Deeper YAML nesting than this is refused: no real suite comes near it, and unbounded nesting
#: ends in a RecursionError (PyYAML's composer recurses once per level).
MAX_YAML_DEPTH = 50
#: Refused beyond this many nodes once aliases are expanded ("billion laughs": a few lines of
#: anchors that expand to 10**9 values and exhaust memory when the suite is merged and hashed).
MAX_YAML_NODES = 1_000_000
#: An include chain longer than this is refused (cycles are reported separately).
MAX_INCLUDE_DEPTH = 20
#: Default cap on a matrix's cell count (the product of its axis sizes, before exclusions);
#: ``bench run/validate --max-cells N`` raises it. The largest shipped suite has a few hundred cells;
#: 10,000 cells is already days of CPU time, and a typo such as ``seed: [0, ..., 999]`` times a few
#: axes would otherwise spend minutes and gigabytes just expanding the product.
DEFAULT_MAX_CELLS = 10_000


class _YAMLProblem(yaml.YAMLError):
    """A structural problem found while reading YAML; ``field`` is the dotted path to it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys and pathological nesting or alias expansion.

    PyYAML keeps the last of two equal keys without a word, so a suite with ``lr`` set twice runs
    with whichever came last; here it is an error with both line numbers.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._path: list = []  # the key (ScalarNode), list index (int) or None (a key itself) per level

    def _field(self, extra: Any = None) -> str:
        segs = [seg for seg in [*self._path, extra] if isinstance(seg, (int, yaml.ScalarNode))]
        out = ""
        for seg in segs[:8]:
            if isinstance(seg, int):
                out += f"[{seg}]"
            elif isinstance(seg, yaml.ScalarNode):
                out += f".{seg.value}" if out else str(seg.value)
        return out + ("..." if len(segs) > 8 else "")

    def compose_node(self, parent, index):
        if len(self._path) >= MAX_YAML_DEPTH:
            mark = self.peek_event().start_mark
            raise _YAMLProblem(self._field(), f"nested deeper than {MAX_YAML_DEPTH} levels "
                                              f"(line {mark.line + 1}); a suite is a few levels deep")
        self._path.append(index)
        try:
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first: dict = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # complex keys are refused later; ``<<`` merges are meant to be overridden
            key = self.construct_object(key_node)
            try:
                prev = first.setdefault(key, key_node)
            except TypeError:
                continue
            if prev is not key_node:
                raise _YAMLProblem(self._field(key_node),
                                   f"duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                                   f"(first at line {prev.start_mark.line + 1}); YAML would silently keep "
                                   "the last one: delete one of them")
        return node

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node


def _children(n) -> list:
    if isinstance(n, yaml.SequenceNode):
        return n.value
    if isinstance(n, yaml.MappingNode):
        return [c for kv in n.value for c in kv]
    return []


def _check_expansion(root) -> None:
    """Refuse a node graph that aliases turn into a cycle, or into too deep or too big a value.

    Iterative and memoized per node, so it is linear in the file however large the expansion.
    """
    done: dict[int, tuple[int, int]] = {}  # id -> (expanded size, expanded depth)
    active: set[int] = set()  # nodes whose subtree is being walked: meeting one again is a cycle
    stack = [(root, False)]
    while stack:
        n, finished = stack.pop()
        if finished:
            kids = [done[id(k)] for k in _children(n)]
            size = min(1 + sum(k[0] for k in kids), MAX_YAML_NODES + 1)
            depth = 1 + max((k[1] for k in kids), default=0)
            active.discard(id(n))
            done[id(n)] = (size, depth)
            where = f"line {n.start_mark.line + 1}"
            if depth > MAX_YAML_DEPTH:
                raise _YAMLProblem("", f"{where}: nested deeper than {MAX_YAML_DEPTH} levels once aliases are expanded")
            if size > MAX_YAML_NODES:
                raise _YAMLProblem("", f"{where}: more than {MAX_YAML_NODES:,} values once aliases are expanded")
            continue
        if id(n) in active:
            raise _YAMLProblem("", f"line {n.start_mark.line + 1}: an alias refers to a value that contains it "
                                   "(a recursive structure)")
        if id(n) in done:
            continue
        active.add(id(n))
        stack.append((n, True))
        stack.extend((k, False) for k in _children(n))


def load_yaml(path: Path) -> Any:
    """One YAML document, strictly: duplicate keys, deep nesting and alias bombs raise ``_YAMLProblem``."""
    loader = _StrictLoader(path.read_text(encoding="utf-8"))
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _include_root(top: Path) -> Path:
    """The tree a suite's includes must stay in: its project (the nearest folder above the suite with a
    ``pyproject.toml`` or ``.git``, so ``suites/optional/x.yaml`` may include ``../base.yaml``), else
    the suite's own folder."""
    for d in top.parents:
        if (d / "pyproject.toml").is_file() or (d / ".git").exists():
            return d
    return top.parent


def _read_yaml(path: Path, chain: tuple[Path, ...]) -> dict:
    if path in chain:
        cycle = " -> ".join(str(p) for p in chain + (path,))
        raise SuiteError(chain[-1], "include", f"include cycle: {cycle}")
    if chain:
        root = _include_root(chain[0])
        if not path.is_relative_to(root):
            raise SuiteError(chain[-1], "include", f"{path} is outside the suite's tree {root}; "
                                                   "includes must stay inside it (copy the file in)")
        if len(chain) > MAX_INCLUDE_DEPTH:
            raise SuiteError(chain[-1], "include", f"includes nested deeper than {MAX_INCLUDE_DEPTH} files")
    if not path.is_file():
        where = chain[-1] if chain else path
        raise SuiteError(where, "include" if chain else "", f"file not found: {path}")
    try:
        data = load_yaml(path)
    except (UnicodeDecodeError, OSError) as exc:
        raise SuiteError(path, "", f"cannot read the file: {exc}") from None
    except _YAMLProblem as exc:
        raise SuiteError(path, exc.field, exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SuiteError(path, "", f"YAML syntax error: {loc}{getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SuiteError(path, "", "a suite must be a YAML mapping")
    includes = data.pop("include", None)
    if includes is None:
        return data
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise SuiteError(path, "include", "must be a file name or a list of file names")
    merged: dict = {}
    for inc in includes:
        base = _read_yaml((path.parent / inc).resolve(), chain + (path,))
        for own in ("name", "version", "description"):  # a suite's identity is never inherited
            base.pop(own, None)
        merged = _merge(merged, base)
    return _merge(merged, data)


def _merge(base: dict, over: dict) -> dict:
    """Deep-merge mappings: lists, ``matrix`` axes and ``leaderboard`` in ``over`` replace the base's;
    ``overrides`` lists are concatenated."""
    out = dict(base)
    for k, v in over.items():
        if k == "leaderboard":
            out[k] = v  # a leaderboard is a view: the including suite's replaces the base's whole
        elif k == "overrides" and isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = out[k] + v  # overrides accumulate: the including file's come last and win
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _component(kind: str, value: Any, file: Path, where: str) -> ComponentSpec:
    if isinstance(value, dict):
        if "name" not in value:
            raise SuiteError(file, where, "a component mapping needs a 'name' key")
        value = dict(value)
        name = value.pop("name")
        options = value
        if not isinstance(name, str):
            raise SuiteError(file, f"{where}.name", f"a component name must be a string, got {name!r}")
    elif isinstance(value, str):
        name, options = value, {}
    else:
        raise SuiteError(file, where, f"expected a component name or {{name: ..., option: value}}, got {value!r}")
    try:
        cls = get_registry(kind).get(name)
    except UnknownComponentError as exc:
        raise SuiteError(file, where, str(exc)) from None
    try:
        config = from_dict(cls.Config, options, "")
    except ConfigError as exc:
        raise SuiteError(file, f"{where}.{exc.field}" if exc.field else where, exc.message) from None
    return ComponentSpec(kind, name, config, where=where)


def _settings(data: dict, file: Path, where: str, base: dict | None = None) -> dict:
    out = {}
    for key, cls in settings_classes().items():
        raw = dict((base or {}).get(key) or {})
        over = data.get(key)
        if over is not None and not isinstance(over, dict):
            raise SuiteError(file, f"{where}{key}", "must be a mapping")
        raw.update(over or {})
        try:
            out[key] = from_dict(cls, raw, "")
        except ConfigError as exc:
            raise SuiteError(file, f"{where}{key}.{exc.field}" if exc.field else f"{where}{key}", exc.message) from None
    return out


def _default_component(kind: str) -> str | None:
    reg = get_registry(kind)
    found = [n for n in reg.names() if reg.get(n).default]
    return found[0] if found else None


def _axis_values(axis: str, values: Any, file: Path) -> list:
    where = f"matrix.{axis}"
    if not isinstance(values, list):
        values = [values]
    if not values:
        raise SuiteError(file, where, "empty axis: list at least one value")
    ax = BY_NAME[axis]
    out = []
    for i, v in enumerate(values):
        w = f"{where}[{i}]"
        if ax.auto and v == "auto":
            out.append("auto")  # resolved per cell from the dataset
        elif ax.is_component:
            out.append(_component(ax.kind, v, file, w))
        else:
            try:
                out.append(ax.parse(v) if ax.parse else v)
            except ValueError as exc:
                raise SuiteError(file, w, str(exc)) from None
    return out


def _matches(value: Any, pattern: Any) -> bool:
    """Exclude/override matching: a name, a {name: .., option: ..} mapping, a scalar, or a list of these."""
    if isinstance(pattern, list):
        return any(_matches(value, p) for p in pattern)
    if isinstance(value, ComponentSpec):
        if isinstance(pattern, str):
            return value.name == pattern
        if isinstance(pattern, dict):
            return value.name == pattern.get("name") and all(
                value.options().get(k) == v for k, v in pattern.items() if k != "name")
        return False
    if isinstance(value, float) and isinstance(pattern, (int, float)):
        return abs(value - pattern) < 1e-12
    return value == pattern


def _check_values(entry: dict, file: Path, where: str) -> None:
    """Catch typos in exclude/override patterns, which would otherwise silently match nothing.

    A pattern may name a value the matrix does not currently hold (so axes can be edited without
    touching every exclude), but it must be a value the axis could hold.
    """
    for axis, pattern in entry.items():
        ax = BY_NAME[axis]
        for i, p in enumerate(pattern if isinstance(pattern, list) else [pattern]):
            w = f"{where}.{axis}" + (f"[{i}]" if isinstance(pattern, list) else "")
            if ax.is_component:
                name = p.get("name") if isinstance(p, dict) else p
                if not isinstance(name, str):
                    raise SuiteError(file, w, f"expected a component name or {{name: ...}}, got {p!r}")
                try:
                    get_registry(ax.kind).get(name)
                except UnknownComponentError as exc:
                    raise SuiteError(file, w, str(exc)) from None
            elif ax.parse is not None:
                try:
                    ax.parse(p)
                except ValueError as exc:
                    raise SuiteError(file, w, str(exc)) from None


def _check_where(entry: Any, file: Path, where: str) -> dict:
    if not isinstance(entry, dict) or not entry:
        raise SuiteError(file, where, "must be a non-empty mapping of axis: value")
    for k in entry:
        if k not in AXIS_NAMES:
            raise SuiteError(file, f"{where}.{k}", f"unknown axis {k!r}{did_you_mean(str(k), AXIS_NAMES)}")
    return entry


def _normalise(cell: dict, file: Path, stages: tuple[str, ...], memo: dict) -> dict:
    """Resolve ``auto`` values and blank the axes no stage of this cell reads (shown as ``-``).

    Linear in the number of cells: ``auto`` is resolved once per dataset, and which axes are read
    once per combination of the axes that select stages (``Stage.selected_by``).
    """
    graph = stage_graph()
    for axis, v in list(cell.items()):
        ax = BY_NAME[axis]
        if ax.auto and isinstance(v, str) and v == "auto":
            k = ("auto", axis, cell["dataset"])
            if k not in memo:
                name = getattr(cell["dataset"].cls, ax.auto) or _default_component(ax.kind)
                memo[k] = _component(ax.kind, name, file, f"matrix.{axis}")
            cell[axis] = memo[k]
    selectors = memo.get("selectors")
    if selectors is None:
        selectors = memo["selectors"] = tuple(dict.fromkeys(a for st in graph for a in st.selected_by))
    k = ("read",) + tuple(cell[a] for a in selectors)
    if k not in memo:
        probe = RunSpec(suite="", suite_version=0, values=tuple(cell.items()), settings=(), stages=stages)
        read = set(selectors)
        for st in graph:
            if st.applies(probe):
                read.update(st.reads)
        memo[k] = read
    read = memo[k]
    return {a: (v if a in read else None) for a, v in cell.items()}


def load_suite(path: str | os.PathLike, max_cells: int = DEFAULT_MAX_CELLS) -> Suite:
    """Read, merge includes, validate every component and expand the matrix (see ``_load_suite``)."""
    from ._config import no_gc

    with no_gc():
        return _load_suite(path, max_cells)


def _load_suite(path: str | os.PathLike, max_cells: int = DEFAULT_MAX_CELLS) -> Suite:
    """Read, merge includes, validate every component and expand the matrix.

    Args:
        path: the suite's YAML file.
        max_cells: refuse a matrix whose product of axis sizes (before exclusions) is larger.
    """
    file = Path(path)
    data = _read_yaml(file.resolve(), ())
    if "study" in data:
        raise SuiteError(file, "study", "this is a study file, not a suite: `bench report` builds its page from "
                                        "the suites it names (run those with `bench run`)")
    keys = top_keys()
    for key in data:
        if key not in keys:
            raise SuiteError(file, str(key), f"unknown key {key!r}{did_you_mean(str(key), sorted(keys))}"
                             + f" (keys: {', '.join(sorted(keys))})")
    name = data.get("name", file.stem)
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise SuiteError(file, "name", f"must be a simple name (letters, digits, _ or -), got {name!r}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SuiteError(file, "version", f"a suite needs an integer version >= 1, got {version!r}")
    matrix = data.get("matrix")
    if not isinstance(matrix, dict):
        raise SuiteError(file, "matrix", "a suite needs a matrix: mapping of axis -> list of values")
    for axis in matrix:
        if axis not in AXIS_NAMES:
            raise SuiteError(file, f"matrix.{axis}", f"unknown axis {axis!r}{did_you_mean(str(axis), AXIS_NAMES)}"
                             + f" (axes: {', '.join(AXIS_NAMES)})")
    _check_cell_count(matrix, file, max_cells)
    axes: dict[str, list] = {}
    for ax in AXES:
        if ax.name in matrix:
            raw = matrix[ax.name]
        elif ax.required:
            raise SuiteError(file, f"matrix.{ax.name}", "required axis is missing")
        elif ax.auto:
            raw = "auto"
        elif ax.is_component:
            raw = _default_component(ax.kind)
            if raw is None:
                raise SuiteError(file, f"matrix.{ax.name}", f"no default {ax.kind} is registered: list a value")
        else:
            raw = ax.default
        axes[ax.name] = _axis_values(ax.name, raw, file)

    stages = _stages(data.get("stages"), file)
    excludes = data.get("exclude") or []
    if not isinstance(excludes, list):
        raise SuiteError(file, "exclude", "must be a list of {axis: value} mappings")
    excludes = [_check_where(e, file, f"exclude[{i}]") for i, e in enumerate(excludes)]
    for i, e in enumerate(excludes):
        _check_values(e, file, f"exclude[{i}]")

    settings_keys = list(settings_classes())
    base_settings = _settings(data, file, "")
    overrides = data.get("overrides") or []
    if not isinstance(overrides, list):
        raise SuiteError(file, "overrides", "must be a list of {when: {...}, train: {...}, ...}")
    parsed_overrides = []
    for i, ov in enumerate(overrides):
        w = f"overrides[{i}]"
        if not isinstance(ov, dict) or "when" not in ov:
            raise SuiteError(file, w, "needs a 'when: {axis: value}' mapping")
        extra = set(ov) - {"when", *settings_keys}
        if extra:
            raise SuiteError(file, f"{w}.{sorted(extra)[0]}", f"unknown key; allowed: when, {', '.join(settings_keys)}")
        when = _check_where(ov["when"], file, f"{w}.when")
        _check_values(when, file, f"{w}.when")
        for k in settings_keys:
            if ov.get(k) is not None and not isinstance(ov[k], dict):
                raise SuiteError(file, f"{w}.{k}", "must be a mapping")
        # validate now, so a bad override fails even if it matches no cell
        _settings({k: {**to_dict(base_settings[k]), **(ov.get(k) or {})} for k in settings_keys}, file, f"{w}.")
        parsed_overrides.append((when, {k: dict(ov.get(k) or {}) for k in settings_keys}, w))

    lb = data.get("leaderboard")
    reports: tuple[ComponentSpec, ...] = ()
    if isinstance(lb, dict) and "reports" in lb:
        lb = dict(lb)
        reports = _reports(lb.pop("reports"), file)
    tables = _tables(lb, file)

    runs = []
    seen = set()
    memo: dict = {}
    for combo in itertools.product(*axes.values()):
        cell = dict(zip(axes, combo))
        if any(all(_matches(cell[k], v) for k, v in ex.items()) for ex in excludes):
            continue
        settings = dict(base_settings)
        matching = [(ov, w) for when, ov, w in parsed_overrides if all(_matches(cell[k], v) for k, v in when.items())]
        if matching:  # apply every matching override in order, each on top of the last
            raw = {k: to_dict(base_settings[k]) for k in settings_keys}
            for ov, w in matching:
                for k in settings_keys:
                    raw[k].update(ov[k])
            settings = _settings(raw, file, f"{matching[-1][1]}.")
        cell = _normalise(cell, file, stages, memo)
        spec = RunSpec(suite=name, suite_version=version, values=tuple(cell.items()),
                       settings=tuple(settings.items()), stages=stages)
        if spec in seen:
            continue
        seen.add(spec)
        runs.append(spec)
    if not runs:
        raise SuiteError(file, "exclude", "every cell of the matrix is excluded: nothing to run")
    datasets = tuple(dict.fromkeys(r.dataset for r in runs))
    track = data.get("track") or []
    if not isinstance(track, list):
        raise SuiteError(file, "track", "must be a list of tracker names (`bench ls trackers`)")
    track = tuple(_component("trackers", t, file, f"track[{i}]") for i, t in enumerate(track))
    return Suite(name=name, version=version, description=str(data.get("description", "")).strip(),
                 path=str(file), runs=tuple(runs), tables=tables, datasets=datasets, reports=reports,
                 stages=stages, track=track, device=_device(data.get("device", "auto"), file),
                 executor=_executor(data.get("executor"), file))


def _check_cell_count(matrix: dict, file: Path, max_cells: int) -> None:
    """Refuse a matrix bigger than ``max_cells`` from the axis sizes alone, before anything is expanded."""
    sizes = {a: len(v) if isinstance(v, list) else 1 for a, v in matrix.items()}
    cells = math.prod(sizes.values())
    if cells > max_cells:
        big = " x ".join(f"{a} {n}" for a, n in sizes.items() if n > 1)
        raise SuiteError(file, "matrix", f"{cells:,} cells ({big}) is more than the limit of {max_cells:,}; "
                                         "shrink an axis, or pass --max-cells N if you mean it")


def _executor(raw: Any, file: Path) -> Optional[tuple]:
    """``executor: NAME`` or ``{name: NAME, option: value}``, checked against the executor's Config."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise SuiteError(file, "executor", "expected an executor name or {name: ..., option: value}")
    options = {k: v for k, v in raw.items() if k != "name"}
    try:
        cls = get_registry("executors").get(raw["name"])
    except UnknownComponentError as exc:
        raise SuiteError(file, "executor.name", str(exc)) from None
    try:
        from_dict(cls.Config, options, "")
    except ConfigError as exc:
        raise SuiteError(file, f"executor.{exc.field}" if exc.field else "executor", exc.message) from None
    return (raw["name"], options)


def _device(raw: Any, file: Path) -> str:
    import re

    if not isinstance(raw, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", raw):
        raise SuiteError(file, "device", f"expected auto, cpu, cuda or cuda:N, got {raw!r}")
    return raw


def _stages(raw: Any, file: Path) -> tuple[str, ...]:
    """Optional stages a suite asks for (``stages: [name, ...]``)."""
    if raw is None:
        return ()
    from .plugins import stage_graph

    optional = [st.name for st in stage_graph() if st.optional]
    if not isinstance(raw, list):
        raise SuiteError(file, "stages", f"must be a list of optional stage names ({', '.join(optional) or 'none registered'})")
    for i, n in enumerate(raw):
        if n not in optional:
            raise SuiteError(file, f"stages[{i}]", f"unknown optional stage {n!r}{did_you_mean(str(n), optional, True)}")
    return tuple(raw)


def _reports(raw: Any, file: Path) -> tuple[ComponentSpec, ...]:
    if not isinstance(raw, list):
        names = ", ".join(get_registry("reports").names())
        raise SuiteError(file, "leaderboard.reports", f"must be a list of report names ({names})")
    return tuple(_component("reports", r, file, f"leaderboard.reports[{i}]") for i, r in enumerate(raw))


def known_quantity(name: str) -> bool:
    """A registered metric, or a quantity that a stage or a calibrator reports in result rows."""
    from .plugins import stage_graph

    if name in get_registry("metrics"):
        return True
    for st in stage_graph():
        if name in st.quantities():
            return True
    return False


def _tables(raw: Any, file: Path) -> tuple[LeaderboardTable, ...]:
    if raw is None:
        return (_resolve_table(LeaderboardTable()),)
    if not isinstance(raw, dict):
        raise SuiteError(file, "leaderboard", "must be a mapping")
    tables_raw = raw.get("tables")
    if tables_raw is None:
        if not raw:
            return (_resolve_table(LeaderboardTable()),)
        tables_raw = [raw]
    elif set(raw) - {"tables"}:
        raise SuiteError(file, "leaderboard", "use either 'tables: [...]' or a single table's keys, not both")
    if not isinstance(tables_raw, list) or not tables_raw:
        raise SuiteError(file, "leaderboard.tables", "must be a non-empty list")
    out = []
    for i, t in enumerate(tables_raw):
        w = "leaderboard" if raw.get("tables") is None else f"leaderboard.tables[{i}]"
        if t is not None and not isinstance(t, dict):
            raise SuiteError(file, w, f"a table must be a mapping (title, metrics, rows, pivot, split, where), got {t!r}")
        t = dict(t or {})
        if "where" in t:
            t["where"] = tuple(sorted((k, v) for k, v in _check_where(t["where"], file, f"{w}.where").items()))
        cols = t.pop("metrics", None)
        if cols is not None and not isinstance(cols, list):
            raise SuiteError(file, f"{w}.metrics", "must be a list of metric names or {metric: ..., split: ...}")
        parsed = []
        for j, c in enumerate(cols or []):
            try:
                col = from_dict(MetricColumn, c if isinstance(c, dict) else {"metric": c}, "")
            except ConfigError as exc:
                raise SuiteError(file, f"{w}.metrics[{j}]" + (f".{exc.field}" if exc.field else ""), exc.message) from None
            if not isinstance(col.metric, str) or not known_quantity(col.metric):
                try:
                    get_registry("metrics").get(str(col.metric))
                except UnknownComponentError as exc:
                    raise SuiteError(file, f"{w}.metrics[{j}]", str(exc)) from None
            parsed.append(col)
        try:
            table = from_dict(LeaderboardTable, t, "")
        except ConfigError as exc:
            raise SuiteError(file, f"{w}.{exc.field}" if exc.field else w, exc.message) from None
        out.append(_resolve_table(dataclasses.replace(table, metrics=tuple(parsed))))
    return tuple(out)


def _resolve_table(table: LeaderboardTable) -> LeaderboardTable:
    """An empty metric list means every metric of the table's families."""
    if table.metrics:
        return table
    reg = get_registry("metrics")
    cols = tuple(MetricColumn(n) for f in table.families for n in reg.names() if reg.get(n).family == f)
    return dataclasses.replace(table, metrics=cols)


def resolve_data_root(cli_value: str | None) -> str | None:
    """--data-root, then $BENCH_DATA_ROOT, then None (medmnist's default root, with its download)."""
    root = cli_value or os.environ.get("BENCH_DATA_ROOT") or None
    if root is not None and not Path(root).expanduser().is_dir():
        src = "--data-root" if cli_value else "BENCH_DATA_ROOT"
        raise UserError(f"{src}: data root {root} does not exist")
    return str(Path(root).expanduser()) if root else None
