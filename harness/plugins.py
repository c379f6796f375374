"""Plugin manager: every plugin, built-in or third-party, loads from the ``bench`` entry-point group.

An entry point may name a module or a package; a package contributes every module inside it that
defines hook implementations (modules whose name starts with ``_`` are not imported: keep helpers
there), so a built-in component is added by adding one file. The core's own stages
(``harness.stages``) load the same way. Set ``BENCH_LOAD_PLUGINS`` to a comma-separated list of
entry-point names to load only those (an unknown name is an error).

A plugin that fails to import, or whose hook raises or registers an invalid or duplicate name, is
reported once on stderr (plugin, entry point, error) and skipped as a whole; every other plugin and
command keeps working, and ``bench plugins`` lists it as broken.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import pkgutil
import sys
import types
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .components import KINDS
from .registry import Registry, RegistryError

GROUP = "bench"
HOOKS = {kind: f"register_{kind.replace('-', '_')}" for kind in KINDS}


@dataclass
class PluginInfo:
    name: str  # module name
    entry_point: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""  # why the plugin was skipped ("" when it loaded)


class PluginManager:
    """Loads plugins and fills one Registry per kind."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.registries: dict[str, Registry] = {k: Registry(k, base) for k, base in KINDS.items()}
        self._loaded = False
        if load_entry_points:
            self._load_entry_points()

    # -- loading -----------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        from .errors import UserError

        from . import stages as core_stages

        self.add(core_stages, entry_point="<core>", distribution="medmnist-ssl-bench", version=_own_version())
        only = os.environ.get("BENCH_LOAD_PLUGINS")
        allowed = None if only is None else {s.strip() for s in only.split(",") if s.strip()}
        eps = sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name)
        if allowed is not None:
            unknown = sorted(allowed - {ep.name for ep in eps})
            if unknown:
                from ._config import did_you_mean

                raise UserError(f"BENCH_LOAD_PLUGINS: no entry point named {unknown[0]!r} in group {GROUP!r}"
                                + did_you_mean(unknown[0], [ep.name for ep in eps], available=True))
        for ep in eps:
            if allowed is not None and ep.name not in allowed:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the harness
                self._broken(ep.value, ep.name, dist, version, exc)
                continue
            self.add(obj, entry_point=ep.name, distribution=dist, version=version)

    def _broken(self, name: str, entry_point: str, dist: str, version: str, exc: BaseException) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        self.info[name] = PluginInfo(name, entry_point, dist, version, error=msg)
        print(f"warning: plugin {name} (entry point {entry_point!r}, {dist} {version}) skipped: {msg}",
              file=sys.stderr)

    def add(self, obj: types.ModuleType, entry_point: str = "<direct>", distribution: str = "?",
            version: str = "?") -> None:
        """Register a module, or every hook-bearing module of a package (a broken module is skipped)."""
        modules = [obj]
        if hasattr(obj, "__path__"):
            for mod in pkgutil.walk_packages(obj.__path__, prefix=obj.__name__ + ".",
                                             onerror=lambda name: None):
                if mod.name.rsplit(".", 1)[-1].startswith("_"):
                    continue  # private helpers are not plugins
                try:
                    modules.append(importlib.import_module(mod.name))
                except Exception as exc:  # noqa: BLE001
                    self._broken(mod.name, entry_point, distribution, version, exc)
        for module in modules:
            if not any(hasattr(module, h) for h in HOOKS.values()):
                continue
            if self.pm.is_registered(module):
                continue
            self.pm.register(module, name=module.__name__)
            self.info[module.__name__] = PluginInfo(module.__name__, entry_point, distribution, version)
        self._loaded = False

    def _fill(self) -> None:
        if self._loaded:
            return
        for reg in self.registries.values():
            reg._entries.clear()
            reg._owner.clear()
        for info in self.info.values():
            info.registered.clear()
        # Each plugin's registrations are staged and committed only if all of them are valid, so a
        # plugin with a bad or duplicate name is skipped whole rather than half-registered.
        for name, impl in self.pm.list_name_plugin():
            info = self.info.get(name)
            staged: list[tuple[str, str, type]] = []
            try:
                for kind, hook_name in HOOKS.items():
                    fn = getattr(impl, hook_name, None)
                    if fn is None:
                        continue
                    fn(register=lambda n, cls, _k=kind: staged.append((_k, n, cls)))
                seen: dict[tuple[str, str], bool] = {}
                for kind, n, cls in staged:
                    self.registries[kind].check(n, cls, plugin=name)
                    if (kind, n) in seen:
                        raise RegistryError(f"{name} registers {kind} {n!r} twice")
                    seen[(kind, n)] = True
            except Exception as exc:  # noqa: BLE001
                if info is not None:
                    self.pm.unregister(impl)
                    self._broken(name, info.entry_point, info.distribution, info.version, exc)
                continue
            for kind, n, cls in staged:
                self.registries[kind].register(n, cls, plugin=name)
                if info is not None:
                    info.registered.setdefault(kind, []).append(n)
        self._loaded = True

    # -- queries -----------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        self._fill()
        if kind not in self.registries:
            from .registry import UnknownComponentError
            from ._config import close_matches
            raise UnknownComponentError("kinds", kind, close_matches(kind, list(KINDS)), list(KINDS))
        return self.registries[kind]

    def plugins(self) -> list[PluginInfo]:
        self._fill()
        return list(self.info.values())


_default: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (loaded on first use)."""
    global _default
    if _default is None:
        _default = PluginManager()
    return _default


def reset_plugin_manager() -> None:
    global _default
    _default = None
    from . import runner  # stage keys memoised under the old plugins (e.g. metric versions) are stale

    runner._KEYS.clear()
    runner._FIELDS.clear()
    runner._FIELD_OWNERS.clear()
    runner._RESULT.clear()
    runner._GRAPHS.clear()
    runner._STRUCTURE.clear()
    runner._SELECTORS.clear()


def get_registry(kind: str) -> Registry:
    return get_plugin_manager().registry(kind)


def _own_version() -> str:
    try:
        return importlib.metadata.version("medmnist-ssl-bench")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def stage_graph() -> list:
    """Every registered stage (an instance with ``name`` set), upstream before downstream."""
    pm = get_plugin_manager()
    reg = pm.registry("stages")
    cached = getattr(pm, "_graph", None)
    if cached is not None and cached[0] == len(reg) and cached[2] is reg._entries:
        return cached[1]
    stages = {}
    for n in reg.names():
        st = reg.get(n)()
        st.name = n
        stages[n] = st
    order: list = []
    state: dict[str, int] = {}

    def visit(n: str, path: tuple) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise RegistryError(f"stage graph has a cycle: {' -> '.join(path + (n,))}")
        state[n] = 1
        for u in stages[n].upstream:
            if u in stages:  # an upstream stage nobody registered simply never applies
                visit(u, path + (n,))
        state[n] = 2
        order.append(stages[n])

    for n in stages:
        visit(n, ())
    pm._graph = (len(reg), order, reg._entries)
    return order


def regimes() -> tuple[str, ...]:
    """Every regime some stage serves (the values the ``regime`` axis accepts)."""
    return tuple(dict.fromkeys(r for st in stage_graph() for r in st.regimes))
