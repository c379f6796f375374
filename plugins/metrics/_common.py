"""Shared, harness-independent helpers for metric plugins (no heavy imports at module level)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BinningConfig:
    """Options of the binned calibration metrics (ECE, MCE).

    Attributes:
        bins: number of bins over [0, 1].
        binning: ``equal_width`` bins, or ``equal_mass`` bins whose edges are quantiles of the scores.
    """

    bins: int = 15
    binning: Literal["equal_width", "equal_mass"] = "equal_width"

    def __post_init__(self):
        if self.bins < 1:
            raise ValueError("bins must be >= 1")


def confusion(labels, probs, threshold: float) -> tuple[int, int, int, int]:
    """(tn, fp, fn, tp) when predicting positive iff ``probs >= threshold``."""
    from harness import confusion_counts

    return confusion_counts(labels, probs, threshold)
