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


def confusion_rows(labels, probs, threshold: float):
    """(tn, fp, fn, tp) float arrays, one value per row of (B, n) ``labels`` and ``probs``."""
    import numpy as np

    y = np.asarray(labels) == 1
    pred = np.asarray(probs, dtype=np.float64) >= threshold
    return ((~pred & ~y).sum(axis=1).astype(float), (pred & ~y).sum(axis=1).astype(float),
            (~pred & y).sum(axis=1).astype(float), (pred & y).sum(axis=1).astype(float))


def ratio(num, den):
    """num / den per row; NaN where den is 0 (an undefined rate, as with zero_division=nan)."""
    import numpy as np

    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
