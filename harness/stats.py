"""Bootstrap confidence intervals for any metric callable."""
from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_ci(fn: Callable[[np.ndarray, np.ndarray], float], labels: np.ndarray, probs: np.ndarray,
                 n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of ``fn(labels, probs)``; resamples with one class only are skipped."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    vals = []
    for row in idx:
        yb = labels[row]
        if yb.min() == yb.max():
            continue
        vals.append(fn(yb, probs[row]))
    vals = np.asarray(vals, dtype=float)
    vals = vals[np.isfinite(vals)]
    if len(vals) == 0:
        return float("nan"), float("nan")
    return float(np.quantile(vals, alpha / 2)), float(np.quantile(vals, 1 - alpha / 2))
