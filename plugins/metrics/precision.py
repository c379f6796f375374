"""Precision (positive predictive value) at the decision threshold."""
from harness.components import Metric
from harness.hookspecs import hookimpl


class Precision(Metric):
    """TP / (TP + FP) at the threshold; 0 when nothing is predicted positive."""

    direction = "max"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import precision_score

        from ._common import as_arrays

        y, p = as_arrays(labels, probs)
        return float(precision_score(y, (p >= threshold).astype(int), pos_label=1, zero_division=0))


@hookimpl
def register_metrics(register):
    register("precision", Precision)
