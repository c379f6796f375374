"""YAML suites -> validated, frozen RunSpecs (``include:``, ``matrix:``, ``exclude:``, ``overrides:``)."""
from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from ._config import ConfigError, close_matches, from_dict, to_dict
from .errors import UserError
from .plugins import get_registry
from .registry import UnknownComponentError
from .settings import EvalSettings, PretrainSettings, ProbeSettings, TrainSettings

REGIMES = ("head", "all", "finetune", "probe")
#: matrix axis -> registry kind (None: a plain value axis)
AXES: dict[str, Optional[str]] = {
    "dataset": "datasets",
    "encoder": "encoders",
    "ssl": "ssl-methods",
    "ssl_augmentation": "augmentations",
    "regime": None,
    "augmentation": "augmentations",
    "fraction": None,
    "seed": None,
    "calibrator": "calibrators",
    "threshold": "threshold-selectors",
}
DEFAULT_AXES: dict[str, list] = {
    "ssl": ["none"], "ssl_augmentation": ["auto"], "regime": ["all"], "augmentation": ["none"],
    "fraction": [1.0], "seed": [0], "calibrator": ["none"], "threshold": ["fixed"],
}
REQUIRED_AXES = ("dataset", "encoder")
SETTINGS = {"pretrain": PretrainSettings, "train": TrainSettings, "probe": ProbeSettings, "eval": EvalSettings}
TOP_KEYS = {"name", "version", "description", "include", "matrix", "exclude", "overrides", "leaderboard",
            *SETTINGS}


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

    def options(self) -> dict:
        return to_dict(self.config) if self.config is not None else {}

    def to_json(self) -> dict:
        out = {"name": self.name, **self.options()}
        if self.name != "none" or self.kind != "ssl-methods":
            version = get_registry(self.kind).get(self.name).version
            if version != 1:  # keys of version-1 components stay as they were
                out["_version"] = version
        return out

    def label(self) -> str:
        """``name``, or ``name(key=value, ...)`` listing only the non-default options."""
        if self.config is None:
            return self.name
        default = to_dict(type(self.config)())
        diff = {k: v for k, v in self.options().items() if default.get(k) != v}
        if not diff:
            return self.name
        return f"{self.name}(" + ",".join(f"{k}={v}" for k, v in diff.items()) + ")"

    def build(self):
        return get_registry(self.kind).get(self.name)(self.config)

    @property
    def is_none(self) -> bool:
        return self.name == "none"


@dataclass(frozen=True)
class RunSpec:
    """One cell of a suite's matrix: everything a run reads, and nothing else."""

    suite: str
    suite_version: int
    dataset: ComponentSpec
    encoder: ComponentSpec
    ssl: ComponentSpec
    ssl_augmentation: ComponentSpec
    regime: str
    augmentation: ComponentSpec
    fraction: float
    seed: int
    calibrator: ComponentSpec
    threshold: ComponentSpec
    pretrain: PretrainSettings
    train: TrainSettings
    probe: ProbeSettings
    eval: EvalSettings

    def labels(self) -> dict[str, Any]:
        """Flat, human-readable fields for result rows and tables."""
        out = {}
        for axis in AXES:
            v = getattr(self, axis)
            out[axis] = v.label() if isinstance(v, ComponentSpec) else v
        if self.ssl.is_none:
            out["ssl_augmentation"] = "-"
        if self.regime == "probe":
            out["augmentation"] = "-"  # a probe fits on un-augmented frozen features
        return out

    def to_json(self) -> dict:
        out = {"suite": self.suite, "suite_version": self.suite_version}
        for axis in AXES:
            v = getattr(self, axis)
            out[axis] = v.to_json() if isinstance(v, ComponentSpec) else v
        for s in SETTINGS:
            out[s] = to_dict(getattr(self, s))
        return out


@dataclass(frozen=True)
class LeaderboardTable:
    title: str = ""
    metrics: tuple[str, ...] = ("auroc", "pr_auc", "balanced_accuracy", "accuracy", "ece", "brier")
    rows: tuple[str, ...] = ("encoder", "regime", "augmentation")
    pivot: Optional[str] = None  # an axis whose values become columns (one table per metric)
    split: str = "test"
    where: tuple = ()  # ((axis, label), ...) filters

    def __post_init__(self):
        for r in self.rows + ((self.pivot,) if self.pivot else ()):
            if r not in AXES:
                hint = close_matches(r, list(AXES))
                raise ValueError(f"unknown axis {r!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
        if self.pivot and self.pivot in self.rows:
            raise ValueError(f"pivot {self.pivot!r} cannot also be one of the rows")
        if self.split not in ("val", "test"):
            raise ValueError("split must be val or test")


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    description: str
    path: str
    runs: tuple[RunSpec, ...]
    tables: tuple[LeaderboardTable, ...]
    datasets: tuple[ComponentSpec, ...] = field(default=())
    reports: tuple[str, ...] = ()  # extra leaderboard sections: calibration, operating_points, errors


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
    for key, cls in SETTINGS.items():
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


def _axis_values(axis: str, values: Any, file: Path) -> list:
    where = f"matrix.{axis}"
    if not isinstance(values, list):
        values = [values]
    if not values:
        raise SuiteError(file, where, "empty axis: list at least one value")
    kind = AXES[axis]
    out = []
    for i, v in enumerate(values):
        w = f"{where}[{i}]"
        if axis == "ssl_augmentation" and v == "auto":
            out.append("auto")
        elif axis == "ssl" and v == "none":
            out.append(ComponentSpec("ssl-methods", "none"))  # no pretraining
        elif kind is not None:
            out.append(_component(kind, v, file, w))
        elif axis == "regime":
            if v not in REGIMES:
                hint = close_matches(str(v), list(REGIMES))
                raise SuiteError(file, w, f"unknown regime {v!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                                 + f"; available: {', '.join(REGIMES)}")
            out.append(v)
        elif axis == "fraction":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise SuiteError(file, w, f"label fraction must be a number in (0, 1], got {v!r}")
            out.append(float(v))
        elif axis == "seed":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise SuiteError(file, w, f"seed must be a non-negative integer, got {v!r}")
            out.append(v)
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


def _check_values(entry: dict, axes: dict, file: Path, where: str) -> None:
    """Catch typos in exclude/override patterns, which would otherwise silently match nothing.

    A pattern may name a value the matrix does not currently hold (so axes can be edited without
    touching every exclude), but it must be a value the axis could hold.
    """
    for axis, pattern in entry.items():
        for i, p in enumerate(pattern if isinstance(pattern, list) else [pattern]):
            w = f"{where}.{axis}" + (f"[{i}]" if isinstance(pattern, list) else "")
            kind = AXES[axis]
            if kind is not None:
                if axis == "ssl" and p == "none":
                    continue
                name = p.get("name") if isinstance(p, dict) else p
                if not isinstance(name, str):
                    raise SuiteError(file, w, f"expected a component name or {{name: ...}}, got {p!r}")
                try:
                    get_registry(kind).get(name)
                except UnknownComponentError as exc:
                    raise SuiteError(file, w, str(exc)) from None
            elif axis == "regime" and p not in REGIMES:
                hint = close_matches(str(p), list(REGIMES))
                raise SuiteError(file, w, f"unknown regime {p!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
            elif axis in ("fraction", "seed") and (isinstance(p, bool) or not isinstance(p, (int, float))):
                raise SuiteError(file, w, f"expected a number, got {p!r}")


def _check_where(entry: Any, file: Path, where: str) -> dict:
    if not isinstance(entry, dict) or not entry:
        raise SuiteError(file, where, "must be a non-empty mapping of axis: value")
    for k in entry:
        if k not in AXES:
            hint = close_matches(str(k), list(AXES))
            raise SuiteError(file, f"{where}.{k}", f"unknown axis {k!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return entry


def load_suite(path: str | os.PathLike, max_cells: int = DEFAULT_MAX_CELLS) -> Suite:
    """Read, merge includes, validate every component and expand the matrix.

    Args:
        path: the suite's YAML file.
        max_cells: refuse a matrix whose product of axis sizes (before exclusions) is larger.
    """
    file = Path(path)
    data = _read_yaml(file.resolve(), ())
    for key in data:
        if key not in TOP_KEYS:
            hint = close_matches(str(key), sorted(TOP_KEYS))
            raise SuiteError(file, str(key), f"unknown key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                             + f" (keys: {', '.join(sorted(TOP_KEYS))})")
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
        if axis not in AXES:
            hint = close_matches(str(axis), list(AXES))
            raise SuiteError(file, f"matrix.{axis}", f"unknown axis {axis!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                             + f" (axes: {', '.join(AXES)})")
    for axis in REQUIRED_AXES:
        if axis not in matrix:
            raise SuiteError(file, f"matrix.{axis}", "required axis is missing")
    _check_cell_count(matrix, file, max_cells)
    axes = {a: _axis_values(a, matrix.get(a, DEFAULT_AXES.get(a)), file) for a in AXES}

    excludes = data.get("exclude") or []
    if not isinstance(excludes, list):
        raise SuiteError(file, "exclude", "must be a list of {axis: value} mappings")
    excludes = [_check_where(e, file, f"exclude[{i}]") for i, e in enumerate(excludes)]
    for i, e in enumerate(excludes):
        _check_values(e, axes, file, f"exclude[{i}]")
    none_aug = _component("augmentations", "none", file, "matrix.augmentation")

    base_settings = _settings(data, file, "")
    overrides = data.get("overrides") or []
    if not isinstance(overrides, list):
        raise SuiteError(file, "overrides", "must be a list of {when: {...}, train: {...}, ...}")
    parsed_overrides = []
    for i, ov in enumerate(overrides):
        w = f"overrides[{i}]"
        if not isinstance(ov, dict) or "when" not in ov:
            raise SuiteError(file, w, "needs a 'when: {axis: value}' mapping")
        extra = set(ov) - {"when", *SETTINGS}
        if extra:
            raise SuiteError(file, f"{w}.{sorted(extra)[0]}", f"unknown key; allowed: when, {', '.join(SETTINGS)}")
        when = _check_where(ov["when"], file, f"{w}.when")
        _check_values(when, axes, file, f"{w}.when")
        for k in SETTINGS:
            if ov.get(k) is not None and not isinstance(ov[k], dict):
                raise SuiteError(file, f"{w}.{k}", "must be a mapping")
        # validate now, so a bad override fails even if it matches no cell
        _settings({k: {**to_dict(base_settings[k]), **(ov.get(k) or {})} for k in SETTINGS}, file, f"{w}.")
        parsed_overrides.append((when, {k: dict(ov.get(k) or {}) for k in SETTINGS}, w))

    lb = data.get("leaderboard")
    reports: tuple[str, ...] = ()
    if isinstance(lb, dict) and "reports" in lb:
        lb = dict(lb)
        reports = _reports(lb.pop("reports"), file)
    tables = _tables(lb, file)

    runs = []
    seen = set()
    for combo in itertools.product(*axes.values()):
        cell = dict(zip(axes, combo))
        if any(all(_matches(cell[k], v) for k, v in ex.items()) for ex in excludes):
            continue
        if cell["ssl"].is_none:
            cell["ssl_augmentation"] = "none"
        if cell["ssl_augmentation"] == "auto":
            ds_cls = get_registry("datasets").get(cell["dataset"].name)
            cell["ssl_augmentation"] = ds_cls.default_ssl_augmentation
        if isinstance(cell["ssl_augmentation"], str):
            cell["ssl_augmentation"] = _component("augmentations", cell["ssl_augmentation"], file, "matrix.ssl_augmentation")
        if cell["regime"] == "probe":
            cell["augmentation"] = none_aug  # a probe fits on un-augmented frozen features
        settings = dict(base_settings)
        matching = [(ov, w) for when, ov, w in parsed_overrides if all(_matches(cell[k], v) for k, v in when.items())]
        if matching:  # apply every matching override in order, each on top of the last
            raw = {k: to_dict(base_settings[k]) for k in SETTINGS}
            for ov, w in matching:
                for k in SETTINGS:
                    raw[k].update(ov[k])
            settings = _settings(raw, file, f"{matching[-1][1]}.")
        spec = RunSpec(suite=name, suite_version=version, **cell, **settings)
        if spec in seen:
            continue
        seen.add(spec)
        runs.append(spec)
    if not runs:
        raise SuiteError(file, "exclude", "every cell of the matrix is excluded: nothing to run")
    datasets = tuple(dict.fromkeys(r.dataset for r in runs))
    return Suite(name=name, version=version, description=str(data.get("description", "")).strip(),
                 path=str(file), runs=tuple(runs), tables=tables, datasets=datasets, reports=reports)


def _check_cell_count(matrix: dict, file: Path, max_cells: int) -> None:
    """Refuse a matrix bigger than ``max_cells`` from the axis sizes alone, before anything is expanded."""
    sizes = {a: len(v) if isinstance(v, list) else 1 for a, v in matrix.items()}
    cells = math.prod(sizes.values())
    if cells > max_cells:
        big = " x ".join(f"{a} {n}" for a, n in sizes.items() if n > 1)
        raise SuiteError(file, "matrix", f"{cells:,} cells ({big}) is more than the limit of {max_cells:,}; "
                                         "shrink an axis, or pass --max-cells N if you mean it")


def _reports(raw: Any, file: Path) -> tuple[str, ...]:
    from .reports import REPORTS

    if not isinstance(raw, list):
        raise SuiteError(file, "leaderboard.reports", f"must be a list of report names ({', '.join(REPORTS)})")
    for i, name in enumerate(raw):
        if not isinstance(name, str) or name not in REPORTS:
            hint = close_matches(str(name), list(REPORTS))
            raise SuiteError(file, f"leaderboard.reports[{i}]", f"unknown report {name!r}"
                             + (f"; did you mean {hint[0]!r}?" if hint else "") + f"; available: {', '.join(REPORTS)}")
    return tuple(raw)


def _tables(raw: Any, file: Path) -> tuple[LeaderboardTable, ...]:
    if raw is None:
        return (LeaderboardTable(),)
    if not isinstance(raw, dict):
        raise SuiteError(file, "leaderboard", "must be a mapping")
    tables_raw = raw.get("tables")
    if tables_raw is None:
        if not raw:
            return (LeaderboardTable(),)
        tables_raw = [raw]
    elif set(raw) - {"tables"}:
        raise SuiteError(file, "leaderboard", "use either 'tables: [...]' or a single table's keys, not both")
    if not isinstance(tables_raw, list) or not tables_raw:
        raise SuiteError(file, "leaderboard.tables", "must be a non-empty list")
    metrics = get_registry("metrics")
    out = []
    for i, t in enumerate(tables_raw):
        w = "leaderboard" if raw.get("tables") is None else f"leaderboard.tables[{i}]"
        if t is not None and not isinstance(t, dict):
            raise SuiteError(file, w, f"a table must be a mapping (title, metrics, rows, pivot, split, where), got {t!r}")
        t = dict(t or {})
        if "where" in t:
            t["where"] = tuple(sorted((k, v) for k, v in _check_where(t["where"], file, f"{w}.where").items()))
        try:
            table = from_dict(LeaderboardTable, t, "")
        except ConfigError as exc:
            raise SuiteError(file, f"{w}.{exc.field}" if exc.field else w, exc.message) from None
        for j, m in enumerate(table.metrics):
            base = m
            for suffix in ("_ci_low", "_ci_high", "_uncal"):
                base = base[: -len(suffix)] if base.endswith(suffix) else base
            if base not in metrics and base not in _DERIVED and not base.startswith("cal_"):
                try:
                    metrics.get(base)
                except UnknownComponentError as exc:
                    raise SuiteError(file, f"{w}.metrics[{j}]", str(exc)) from None
        out.append(table)
    return tuple(out)


#: row metrics written by stages rather than Metric plugins (CIs, thresholds, calibration params)
_DERIVED = {"threshold", "temperature", "tpr_gap", "fpr_gap", "best_epoch", "train_seconds"}


def resolve_data_root(cli_value: str | None) -> str | None:
    """--data-root, then $BENCH_DATA_ROOT, then None (medmnist's default root, with its download)."""
    root = cli_value or os.environ.get("BENCH_DATA_ROOT") or None
    if root is not None and not Path(root).expanduser().is_dir():
        src = "--data-root" if cli_value else "BENCH_DATA_ROOT"
        raise UserError(f"{src}: data root {root} does not exist")
    return str(Path(root).expanduser()) if root else None
