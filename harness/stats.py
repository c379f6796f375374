"""Statistics shared by the core and plugins: input checking and bootstrap intervals."""
from __future__ import annotations

from typing import Callable

import numpy as np


def as_arrays(labels, probs):
    """Return (int64 labels, float64 probs) as flat arrays of equal, non-zero length."""
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"labels and probs differ in length: {y.size} vs {p.size}")
    if y.size == 0:
        raise ValueError("empty input")
    return y, p


def confusion_counts(labels, probs, threshold: float) -> tuple[int, int, int, int]:
    """(tn, fp, fn, tp) when predicting positive iff ``probs >= threshold`` (labels: 1 = positive)."""
    y, p = as_arrays(labels, probs)
    pred = p >= threshold
    pos = y == 1
    return (int(np.sum(~pred & ~pos)), int(np.sum(pred & ~pos)), int(np.sum(~pred & pos)),
            int(np.sum(pred & pos)))


def bootstrap_ci(labels, probs, fn: Callable[[np.ndarray, np.ndarray], float], n_boot: int = 1000,
                 seed: int = 0, alpha: float = 0.05, skip_single_class: bool = True,
                 chunk: int = 256) -> tuple[float, float]:
    """Percentile bootstrap interval of ``fn(labels, probs)`` over resampled cases.

    Args:
        labels: 1 for the positive class, 0 otherwise.
        probs: P(positive).
        fn: metric of (labels, probs), e.g. ``lambda y, p: metric(y, p, threshold)``.
        n_boot: number of resamples drawn.
        seed: seed of the resampling generator.
        alpha: 1 - coverage; the interval is the (alpha/2, 1 - alpha/2) quantiles.
        skip_single_class: drop resamples holding one class only (AUROC, recall, ... are undefined).
        chunk: resamples drawn per batch of indices, bounding memory at ``chunk * n`` indices.

    Returns:
        (low, high); (nan, nan) when no resample gave a finite value.
    """
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    y, p = as_arrays(labels, probs)
    n = y.size
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        yb, pb = y[idx], p[idx]
        keep = np.ones(len(idx), dtype=bool)
        if skip_single_class:
            positives = yb.sum(axis=1)
            keep = (positives > 0) & (positives < n)
        values.extend(fn(yb[i], pb[i]) for i in np.flatnonzero(keep))
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
