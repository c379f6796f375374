"""Plugin manager: every plugin, built-in or third-party, loads from the ``bench`` entry-point group.

An entry point may name a module or a package; a package contributes every module inside it that
defines hook implementations, so a built-in component is added by adding one file. Set
``BENCH_LOAD_PLUGINS`` to a comma-separated list of entry-point names to load only those.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import pkgutil
import types
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .components import KINDS
from .registry import Registry

GROUP = "bench"
HOOKS = {kind: f"register_{kind.replace('-', '_')}" for kind in KINDS}


@dataclass
class PluginInfo:
    name: str  # module name
    entry_point: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)


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
        only = os.environ.get("BENCH_LOAD_PLUGINS")
        allowed = None if only is None else {s.strip() for s in only.split(",") if s.strip()}
        for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name):
            if allowed is not None and ep.name not in allowed:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            self.add(ep.load(), entry_point=ep.name, distribution=dist, version=version)

    def add(self, obj: types.ModuleType, entry_point: str = "<direct>", distribution: str = "?",
            version: str = "?") -> None:
        """Register a module, or every hook-bearing module of a package."""
        modules = [obj]
        if hasattr(obj, "__path__"):
            for mod in pkgutil.walk_packages(obj.__path__, prefix=obj.__name__ + "."):
                if mod.name.rsplit(".", 1)[-1].startswith("_"):
                    continue  # private helpers are not plugins
                modules.append(importlib.import_module(mod.name))
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
        for kind, hook_name in HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                def register(name, cls, _kind=kind, _plugin=impl.plugin_name):
                    self.registries[_kind].register(name, cls, plugin=_plugin)
                    info = self.info.get(_plugin)
                    if info is not None:
                        info.registered.setdefault(_kind, []).append(name)
                impl.function(register=register)
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


def get_registry(kind: str) -> Registry:
    return get_plugin_manager().registry(kind)
