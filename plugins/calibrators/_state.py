"""Checks for calibrator states: the JSON-able dicts of ``Calibrator.state()`` / ``load_state()``.

A state holds only numbers, booleans and lists of numbers, so persisting it never pickles code. Each
calibrator declares its fields as ``{name: kind}``; ``check_state`` rejects a missing, unexpected or
ill-typed field with a ValueError that names it, and returns a normalised copy (Python floats).
"""
from __future__ import annotations

import math

# kinds of field:
#   "real"     any float (a diverged fit may be inf or NaN; it is kept so a reload reproduces it)
#   "positive" a finite float > 0
#   "bool"     True or False
#   "reals"    a non-empty list of finite floats
#   "probs"    a non-empty list of floats in [0, 1]
KINDS = ("real", "positive", "bool", "reals", "probs")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_state(owner: str, state, fields: dict[str, str]) -> dict:
    """Validate ``state`` against ``fields`` and return a normalised copy; ValueError names the field."""
    if not isinstance(state, dict):
        raise ValueError(f"{owner} state must be a dict, got {type(state).__name__}")
    extra = sorted(str(k) for k in state if k not in fields)
    if extra:
        raise ValueError(f"{owner} state: unexpected field {extra[0]!r} (fields: {', '.join(fields) or '(none)'})")
    out = {}
    for name, kind in fields.items():
        if name not in state:
            raise ValueError(f"{owner} state: missing field {name!r}")
        v = state[name]
        if kind == "bool":
            if not isinstance(v, bool):
                raise ValueError(f"{owner} state: field {name!r} must be true or false, got {v!r}")
            out[name] = v
        elif kind in ("real", "positive"):
            if not _is_number(v):
                raise ValueError(f"{owner} state: field {name!r} must be a number, got {v!r}")
            v = float(v)
            if kind == "positive" and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{owner} state: field {name!r} must be a finite number > 0, got {v!r}")
            out[name] = v
        elif kind in ("reals", "probs"):
            if not isinstance(v, list) or not v or not all(_is_number(x) for x in v):
                raise ValueError(f"{owner} state: field {name!r} must be a non-empty list of numbers")
            v = [float(x) for x in v]
            if not all(math.isfinite(x) for x in v):
                raise ValueError(f"{owner} state: field {name!r} holds a non-finite number")
            if kind == "probs" and not all(0.0 <= x <= 1.0 for x in v):
                raise ValueError(f"{owner} state: field {name!r} holds a value outside [0, 1]")
            out[name] = v
        else:  # pragma: no cover - a programming error in a calibrator's field table
            raise AssertionError(f"unknown state field kind {kind!r}")
    return out


def increasing(owner: str, name: str, values: list, strict: bool = True) -> None:
    """ValueError naming ``name`` unless ``values`` is (strictly) increasing."""
    pairs = zip(values, values[1:])
    if not all((a < b) if strict else (a <= b) for a, b in pairs):
        raise ValueError(f"{owner} state: field {name!r} must be {'strictly ' if strict else ''}increasing")
