"""Typed component configs: dict -> frozen dataclass, with readable errors."""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import math
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from .errors import UserError


class ConfigError(UserError, ValueError):
    """A user-fixable problem in a config value; ``field`` is a dotted path.

    A component's ``check()`` may raise it too (``ConfigError("model", "unknown ...")``), so that the
    pre-flight message names the suite file and the option, like a bad value found while loading.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class FrozenDict(dict):
    """A read-only, hashable mapping: what a ``dict`` config field holds (configs are frozen and hashed).

    Nested lists become tuples and nested mappings FrozenDicts; JSON sees a plain object.
    """

    __slots__ = ("_hash",)

    def __init__(self, data=()):
        super().__init__((k, _freeze(v)) for k, v in dict(data).items())

    def __hash__(self):
        try:
            return self._hash
        except AttributeError:
            self._hash = hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))
            return self._hash

    def _readonly(self, *args, **kwargs):
        raise TypeError("a config mapping is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _readonly

    def __reduce__(self):
        return (FrozenDict, (dict(self),))


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return FrozenDict(value)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


#: ``dataclasses.field(metadata=KEY_IF_SET)``: an option added after results were cached, left out of
#: cache keys while it holds its default so that the existing results keep their keys.
KEY_IF_SET = {"key": "if-set"}


def key_options(cfg: Any) -> dict:
    """``to_dict(cfg)`` less the ``KEY_IF_SET`` options that hold their defaults: what cache keys see."""
    out = to_dict(cfg)
    if dataclasses.is_dataclass(cfg):
        for f in dataclasses.fields(cfg):
            if f.metadata.get("key") == "if-set":
                default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                if getattr(cfg, f.name) == default:
                    out.pop(f.name, None)
    return out


@dataclasses.dataclass(frozen=True)
class EmptyConfig:
    """A component with no options."""


def close_matches(word: str, options: list[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, options, n=n, cutoff=0.5)


def did_you_mean(word: str, options, available: bool = False) -> str:
    """``"; did you mean 'x'?"`` (empty when nothing is close), plus ``"; available: ..."`` if asked."""
    options = [str(o) for o in options]
    hint = close_matches(str(word), options)
    out = f"; did you mean {hint[0]!r}?" if hint else ""
    return out + (f"; available: {', '.join(options) or '(none)'}" if available else "")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, field: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            hint = close_matches(str(value), [str(a) for a in allowed])
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(field, f"must be one of {list(allowed)}, got {value!r}{extra}")
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, field)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:  # Optional[X]: X's own message says more than "expected X | None"
            raise errors[0]
        raise ConfigError(field, f"expected {_type_name(tp)}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(field, f"expected a list, got {value!r}")
        args = get_args(tp)
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, f"{field}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(field, f"expected a mapping, got {value!r}")
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ConfigError(field, f"keys must be strings, got {bad[0]!r}")
        return FrozenDict(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, field)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(field, f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(field, f"expected an integer, got {value!r}")
    if tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:  # YAML 1.1 reads "1e-3" as a string
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(field, f"expected a number, got {value!r}")
        try:
            number = float(number)
        except OverflowError:  # an integer beyond float range
            number = math.inf
        # NaN passes every "> 0" check in a __post_init__ and inf turns into NaN losses at run time:
        # both are refused here, for every float field of every config.
        if not math.isfinite(number):
            raise ConfigError(field, f"must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(field, f"expected a string, got {value!r}")
    return value


@contextlib.contextmanager
def no_gc():
    """Pause Python's cyclic garbage collector (planning allocates ~10^6 small acyclic objects, and
    the collector's passes over them cost more than the planning itself: 3.5 of 7 s for 98,000
    cells, measured with benchmarks/planning.py); nothing planning builds needs it."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def from_dict(cls: type, data: Any, field: str = "") -> Any:
    """Build the frozen dataclass ``cls`` from ``data``; unknown keys and bad types raise ConfigError."""
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(field, f"expected a mapping of options, got {data!r}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        sub = f"{field}.{key}" if field else str(key)
        if key not in fields:
            extra = did_you_mean(key, list(fields))
            known = ", ".join(fields) or "(none)"
            raise ConfigError(sub, f"unknown option {key!r}{extra} (options: {known})")
        kwargs[key] = _coerce(value, hints[key], sub)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(field, str(exc)) from None


def to_dict(cfg: Any) -> dict:
    """A JSON-able dict of a config dataclass (tuples become lists)."""
    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(cfg)
