"""A generic, checked name -> component-class registry."""
from __future__ import annotations

import fnmatch
import re
from typing import Generic, TypeVar

from ._config import close_matches

T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RegistryError(Exception):
    """A plugin registered something invalid (a bug in that plugin)."""


class UnknownComponentError(LookupError):
    """A user asked for a name that is not registered."""

    def __init__(self, kind: str, name: str, suggestions: list[str], available: list[str]):
        hint = f"did you mean {', '.join(repr(s) for s in suggestions)}? " if suggestions else ""
        super().__init__(f"unknown {kind[:-1] if kind.endswith('s') else kind} {name!r}; {hint}"
                         f"available: {', '.join(available) or '(none)'}")
        self.kind, self.name, self.suggestions, self.available = kind, name, suggestions, available


class Registry(Generic[T]):
    """Maps lower_snake names to subclasses of ``base``; duplicates are errors."""

    def __init__(self, kind: str, base: type):
        self.kind = kind
        self.base = base
        self._entries: dict[str, type] = {}
        self._owner: dict[str, str] = {}

    def check(self, name: str, cls: type, plugin: str = "?") -> None:
        """Raise RegistryError if ``register`` would refuse this entry."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise RegistryError(f"{plugin}: {self.kind} name {name!r} must be lower_snake_case")
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise RegistryError(f"{plugin}: {self.kind} {name!r} must be a subclass of {self.base.__name__}")
        if name in self._entries:
            raise RegistryError(f"duplicate {self.kind} name {name!r}: registered by "
                                f"{self._owner[name]} and again by {plugin}")

    def register(self, name: str, cls: type, plugin: str = "?") -> None:
        self.check(name, cls, plugin)
        self._entries[name] = cls
        self._owner[name] = plugin

    def get(self, name: str) -> type:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownComponentError(self.kind, name, close_matches(str(name), self.names()),
                                        self.names()) from None

    def owner(self, name: str) -> str:
        return self._owner[name]

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
