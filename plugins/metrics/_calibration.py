"""Binned calibration error and reliability-diagram bins, shared by the calibration metrics.

Two forms for a binary problem with ``probs`` = P(positive):

* ``top_label`` (Guo et al. 2017, arXiv:1706.04599): confidence ``max(p, 1 - p)`` of the argmax class
  (positive iff ``p >= 0.5``, whatever the decision threshold) against how often that class is right.
* ``positive``: ``p`` against the empirical frequency of the positive class.

Equal-width errors come from netcal; equal-mass ones are computed here, because netcal 1.4.0 raises
``ValueError: The smallest edge difference is numerically 0.`` (from scipy's ``binned_statistic_dd``)
whenever tied scores make two quantile edges coincide, e.g. ``ECE(3, equal_intervals=False)`` on
``[0.2] * 5 + [0.9]``. Tied scores are routine here: isotonic and histogram-binning outputs are
piecewise constant. Our equal-mass binning uses netcal's edges (score quantiles, outer edges pinned
to 0 and 1) and its side rule (a score on an inner edge belongs to the upper bin); a zero-width bin
is simply empty. On tie-free scores both agree (tests/unit/test_metrics.py checks this).
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from harness import as_arrays



Binning = Literal["equal_width", "equal_mass"]
Form = Literal["top_label", "positive"]


def _confidence_and_outcome(labels: np.ndarray, probs: np.ndarray, form: Form):
    """The score binned and the 0/1 outcome it should match, for the given form."""
    if form == "top_label":
        pred = probs >= 0.5
        return np.where(pred, probs, 1.0 - probs), (pred == (labels == 1)).astype(np.int64)
    if form == "positive":
        return probs, labels
    raise ValueError(f"form must be 'top_label' or 'positive', got {form!r}")


def _edges(conf: np.ndarray, bins: int, binning: Binning) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, bins + 1)
    if binning == "equal_mass":
        edges = np.quantile(conf, edges)
        edges[0], edges[-1] = 0.0, 1.0
    elif binning != "equal_width":
        raise ValueError(f"binning must be 'equal_width' or 'equal_mass', got {binning!r}")
    return edges


def reliability_bins(labels, probs, bins: int = 15, binning: Binning = "equal_width",
                     form: Form = "top_label") -> dict:
    """Per-bin statistics for a reliability diagram.

    Args:
        labels: 1 for the positive class, 0 otherwise.
        probs: P(positive).
        bins: number of bins.
        binning: ``equal_width`` or ``equal_mass`` (quantile edges; tied scores share a bin).
        form: ``top_label`` or ``positive`` (see the module docstring).

    Returns:
        A dict with ``edges`` (bins + 1), and per bin ``confidence`` (mean score), ``accuracy``
        (mean outcome; NaN where the bin is empty) and ``count``; plus ``ece`` (count-weighted mean
        of |accuracy - confidence|) and ``mce`` (its maximum over non-empty bins).
    """
    y, p = as_arrays(labels, probs)
    conf, hit = _confidence_and_outcome(y, p, form)
    # netcal clips scores to [eps, 1 - eps] before binning; do the same so the two agree exactly
    eps = np.finfo(np.float64).eps
    conf = np.clip(conf, eps, 1.0 - eps)
    edges = _edges(conf, bins, binning)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=bins) / count
        accuracy = np.bincount(idx, weights=hit, minlength=bins) / count
    gap = np.abs(accuracy - mean_conf)
    filled = count > 0
    return {
        "edges": edges,
        "confidence": mean_conf,
        "accuracy": accuracy,
        "count": count,
        "ece": float(np.sum(gap[filled] * count[filled]) / count.sum()),
        "mce": float(gap[filled].max()),
    }


def calibration_error(labels, probs, bins: int = 15, binning: Binning = "equal_width",
                      form: Form = "top_label", reduce: Literal["mean", "max"] = "mean") -> float:
    """ECE (``reduce="mean"``) or MCE (``"max"``) in the given form; netcal for equal-width bins."""
    if reduce not in ("mean", "max"):
        raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    y, p = as_arrays(labels, probs)
    if binning != "equal_width":  # equal_mass, or an unknown value that _edges rejects
        return reliability_bins(y, p, bins, binning, form)["ece" if reduce == "mean" else "mce"]
    from netcal.metrics import ECE, MCE

    conf, hit = _confidence_and_outcome(y, p, form)
    # netcal treats 1-D input (and 2 columns) as binary: X is compared with y == 1 per bin, i.e. the
    # positive-class form. Top-label is the same computation on (confidence, is-correct).
    metric = (ECE if reduce == "mean" else MCE)(bins=int(bins), equal_intervals=True)
    return float(metric.measure(conf, hit))


def calibration_error_rows(labels, probs, bins: int = 15, form: Form = "top_label") -> np.ndarray:
    """Equal-width ECE of each row of (B, n) ``labels`` and ``probs`` at once (bootstrap resamples):
    the same clipping, bin edges and side rule as ``reliability_bins``, which agree with netcal's."""
    y = np.asarray(labels).astype(np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 2:
        raise ValueError(f"labels and probs must be equal (B, n) arrays, got {y.shape} and {p.shape}")
    conf, hit = _confidence_and_outcome(y, p, form)
    eps = np.finfo(np.float64).eps
    conf = np.clip(conf, eps, 1.0 - eps)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    flat = (idx + bins * np.arange(len(idx))[:, None]).ravel()  # one bin range per row
    size = bins * len(idx)
    count = np.bincount(flat, minlength=size).reshape(-1, bins)
    conf_sum = np.bincount(flat, weights=conf.ravel(), minlength=size).reshape(-1, bins)
    hit_sum = np.bincount(flat, weights=hit.ravel().astype(np.float64), minlength=size).reshape(-1, bins)
    # per bin |sum(hit) - sum(conf)| / n is count * |accuracy - confidence| / n
    return np.abs(hit_sum - conf_sum).sum(axis=1) / count.sum(axis=1)
