"""Shared helpers for threshold selectors: validated inputs and the full ROC with finite thresholds."""
from __future__ import annotations


def scores_and_labels(probs, labels):
    """Return (float64 probs, int64 labels); both classes must be present to pick an operating point."""
    from harness import as_arrays

    y, p = as_arrays(labels, probs)
    if y.min() == y.max():
        raise ValueError("threshold selection needs both classes in the val labels")
    return p, y


def above_all(p) -> float:
    """A threshold no score reaches: predicts every case negative.

    Stepped up in float32, because ``np.nextafter(1.0, 2.0)`` rounds back to 1.0 when compared
    with a float32 array (numpy 2 casts the Python float to the array's dtype), flagging p == 1.
    """
    import numpy as np

    top = np.float32(max(1.0, float(p.max())))
    return float(np.nextafter(top, np.float32(np.inf)))


def roc_points(probs, labels):
    """(fpr, tpr, thresholds) at every distinct score, thresholds decreasing, all finite.

    ``drop_intermediate=False`` keeps every operating point, so the first point reaching a target
    is never skipped. sklearn's first threshold is ``inf`` (nothing positive); it becomes
    ``above_all`` so the returned value is a usable float with the same meaning.
    """
    from sklearn.metrics import roc_curve

    p, y = scores_and_labels(probs, labels)
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    thr[0] = above_all(p)
    return fpr, tpr, thr


def first_max(values) -> int:
    """Index of the first maximum, treating values within 1e-12 of it as tied.

    Rates are ratios of counts, so an exact tie such as 0.6 - 0.0 vs 0.8 - 0.2 differs in the last bit.
    """
    import numpy as np

    values = np.asarray(values)
    return int(np.flatnonzero(values >= values.max() - 1e-12)[0])
