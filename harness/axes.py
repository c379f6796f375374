"""The matrix axes, declared once: they drive RunSpec fields, labels, run ids, ordering and tables.

An axis is either a *component* axis (its values are registered components of one kind, written in a
suite as ``name`` or ``{name: ..., option: value}``) or a *value* axis (numbers or words checked by
``parse``). A component axis left out of a suite takes the kind's default component (the one whose
class sets ``default = True``); the core never names it.

Which axes a cell actually *reads* is decided by its stages (``Stage.reads``): an axis no active
stage reads is shown as ``-`` and does not split cells (e.g. the augmentation of a linear probe).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional


def _fraction(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
        raise ValueError(f"label fraction must be a number in (0, 1], got {v!r}")
    return float(v)


def _seed(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"seed must be a non-negative integer, got {v!r}")
    return v


def _val(v: Any) -> str:
    if v not in VAL_PROTOCOLS:
        raise ValueError(f"val must be one of {', '.join(VAL_PROTOCOLS)}, got {v!r}")
    return v


#: ``full``: every stage selects (epochs, C), fits calibrators and picks thresholds on the whole val
#: split; ``match``: on a stratified val subset in proportion to the labelled training fraction
#: (``harness.data.val_subset``), the realistic low-label protocol.
VAL_PROTOCOLS = ("full", "match")


def _regime(v: Any) -> str:
    from .plugins import regimes

    known = regimes()
    if v not in known:
        from ._config import did_you_mean

        raise ValueError(f"unknown regime {v!r}{did_you_mean(str(v), known, available=True)}")
    return v


@dataclass(frozen=True)
class Axis:
    """One matrix axis.

    Attributes:
        name: the key under ``matrix:`` and the result-row column.
        kind: registry kind of a component axis; None for a value axis.
        parse: value axes: validate and normalise one value (raise ValueError).
        default: value axes: the value when the suite leaves the axis out.
        auto: component axes: the value ``auto`` means the dataset class attribute of this name.
        run_id: short run-id piece from the label (None: the label itself).
        required: a suite must list it.
        key_if_set: added after results were cached: at its default it is left out of stage keys and
            run ids, so those results keep their keys.
        title: how a table heads the axis' column (None: the name).
    """

    name: str
    kind: Optional[str] = None
    parse: Optional[Callable[[Any], Any]] = None
    default: Any = None
    auto: Optional[str] = None
    run_id: Optional[Callable[[str], str]] = None
    required: bool = False
    key_if_set: bool = False
    title: Optional[str] = None

    @property
    def is_component(self) -> bool:
        return self.kind is not None


AXES: tuple[Axis, ...] = (
    Axis("dataset", "datasets", required=True),
    Axis("encoder", "encoders", required=True),
    Axis("ssl", "ssl-methods", run_id=lambda s: f"ssl-{s}", title="SSL method"),
    Axis("ssl_augmentation", "augmentations", auto="default_ssl_augmentation", title="SSL augmentation"),
    Axis("regime", parse=_regime, default="all"),
    Axis("augmentation", "augmentations"),
    Axis("fraction", parse=_fraction, default=1.0, run_id=lambda s: f"f{s}", title="labelled"),
    Axis("seed", parse=_seed, default=0, run_id=lambda s: f"s{s}"),
    Axis("calibrator", "calibrators", run_id=lambda s: f"cal-{s}"),
    Axis("threshold", "threshold-selectors", run_id=lambda s: f"thr-{s}", title="threshold rule"),
    Axis("val", parse=_val, default="full", run_id=lambda s: f"val-{s}", key_if_set=True,
         title="val protocol"),
)
AXIS_NAMES: tuple[str, ...] = tuple(a.name for a in AXES)
BY_NAME: dict[str, Axis] = {a.name: a for a in AXES}
#: axes that never make two configurations different (tables average over seeds, split by dataset)
REPLICATE_AXES = ("seed",)
#: how a value that no stage of the cell reads is shown
UNREAD = "-"
