"""Statistics shared by the core and plugins: input checking and bootstrap intervals."""
from __future__ import annotations

import dataclasses
import math
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
                 chunk: int = 256, rows: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> tuple[float, float]:
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
        rows: the same metric on a (B, n) batch of resamples at once (``Metric.rows``), used instead
            of calling ``fn`` per resample; the resamples drawn are the same either way.

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
        if rows is not None:
            values.extend(np.asarray(rows(yb[keep], pb[keep]), dtype=np.float64).reshape(-1).tolist())
        else:
            values.extend(fn(yb[i], pb[i]) for i in np.flatnonzero(keep))
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


# --- paired comparisons (the study report) ----------------------------------------------------------

def auroc_rows(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each row of (B, n) ``labels`` (1 = positive) and ``scores``; ties count one half
    (the Mann-Whitney form, equal to scikit-learn's ``roc_auc_score``). NaN for a one-class row."""
    from scipy.stats import rankdata

    y = np.asarray(labels).astype(bool)
    ranks = rankdata(np.asarray(scores, dtype=np.float64), axis=1)
    n_pos = y.sum(axis=1).astype(np.float64)
    n_neg = y.shape[1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        out = ((ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    out[(n_pos == 0) | (n_neg == 0)] = np.nan
    return out


def rowwise(fn: Callable[[np.ndarray, np.ndarray], float]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A per-row version of a metric ``fn(labels, probs) -> float`` for ``paired_bootstrap``."""
    def apply(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
        return np.array([fn(labels[i], probs[i]) for i in range(len(labels))], dtype=np.float64)
    return apply


@dataclasses.dataclass(frozen=True)
class PairedDelta:
    """``metric(a) - metric(b)``, mean over the paired seeds, with its bootstrap interval and p-value."""

    delta: float
    low: float
    high: float
    p: float
    n_seeds: int
    n_cases: int
    n_boot: int


class PairedBootstrap:
    """Paired bootstrap of mean differences ``metric(a_s) - metric(b_s)`` over seeds ``s``, on one test set.

    Every comparison on the same ``labels`` uses the same resampled test cases, so a model's
    bootstrap values are computed once (``key``) however many comparisons it enters. Each resample
    draws the test cases with replacement once and uses them for every seed and both arms (the
    pairing), and ``compare`` also draws the seeds with replacement, so the interval covers test-set
    and seed variation. The interval is the percentile interval of the resampled differences; the
    two-sided p-value comes from their standard error (normal approximation, ``erfc(|d / se| / √2)``),
    so that it is not floored at ``2 / n_boot``: with dozens of comparisons a Holm-adjusted
    percentile p-value could never get below 0.05 at a few thousand resamples.

    ``metric_rows(labels (B, n), scores (B, n)) -> (B,)``: e.g. ``auroc_rows`` or ``rowwise(fn)``.
    """

    def __init__(self, labels, metric_rows, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05):
        if n_boot < 2:
            raise ValueError("n_boot must be >= 2 (a standard error needs two resamples)")
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        self.y = np.asarray(labels).reshape(-1).astype(np.int64)
        self.metric_rows, self.n_boot, self.seed, self.alpha = metric_rows, n_boot, seed, alpha
        self.idx = np.random.default_rng(seed).integers(0, self.y.size, size=(n_boot, self.y.size))
        self.yb = self.y[self.idx]
        self._memo: dict = {}

    def values(self, key, scores) -> tuple[float, np.ndarray]:
        """(metric on the full test set, its (B,) bootstrap values) for one model's ``scores``."""
        if key is not None and key in self._memo:
            return self._memo[key]
        s = np.asarray(scores, np.float64).reshape(-1)
        if s.size != self.y.size:
            raise ValueError(f"{s.size} scores for {self.y.size} cases")
        out = (float(self.metric_rows(self.y[None], s[None])[0]), self.metric_rows(self.yb, s[self.idx]))
        if key is not None:
            self._memo[key] = out
        return out

    def compare(self, pairs: list[tuple]) -> PairedDelta:
        """``pairs``: one ``(key_a, scores_a, key_b, scores_b)`` per seed (keys may be None: no memo)."""
        if not pairs:
            raise ValueError("no pairs")
        k = len(pairs)
        point = np.empty(k)
        per_seed = np.empty((k, self.n_boot))
        for s, (ka, a, kb, b) in enumerate(pairs):
            pa, va = self.values(ka, a)
            pb, vb = self.values(kb, b)
            point[s], per_seed[s] = pa - pb, va - vb
        seeds = np.random.default_rng([self.seed, k]).integers(0, k, size=(self.n_boot, k))
        deltas = per_seed[seeds, np.arange(self.n_boot)[:, None]].mean(axis=1)
        deltas = deltas[np.isfinite(deltas)]
        if deltas.size == 0:
            return PairedDelta(float(point.mean()), float("nan"), float("nan"), float("nan"), k, self.y.size, 0)
        low, high = np.quantile(deltas, [self.alpha / 2, 1 - self.alpha / 2])
        m = deltas.size
        d = float(point.mean())
        se = float(np.std(deltas, ddof=1)) if m > 1 else float("nan")
        if m < 2:
            p = float("nan")
        elif se > 0:
            p = math.erfc(abs(d / se) / math.sqrt(2))
        else:  # every resample gives the same difference
            p = 1.0 if d == 0 else 0.0
        return PairedDelta(d, float(low), float(high), float(p), k, self.y.size, int(m))


def paired_bootstrap(labels, pairs: list[tuple[np.ndarray, np.ndarray]], metric_rows, n_boot: int = 2000,
                     seed: int = 0, alpha: float = 0.05) -> PairedDelta:
    """``PairedBootstrap(...).compare`` for one comparison: ``pairs`` holds one (a, b) per seed."""
    return PairedBootstrap(labels, metric_rows, n_boot, seed, alpha).compare([(None, a, None, b) for a, b in pairs])


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order; NaN stays NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order; NaN stays NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, p[i] * m / (rank + 1))
        out[i] = min(running, 1.0)
    return out
