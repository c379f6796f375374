"""Precision (positive predictive value) at the decision threshold."""
from harness import Metric
from harness import hookimpl


class Precision(Metric):
    """TP / (TP + FP) at the threshold; 0 when nothing is predicted positive."""

    display_name = "precision"

    direction = "max"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import precision_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        return float(precision_score(y, (p >= threshold).astype(int), pos_label=1, zero_division=0))


@hookimpl
def register_metrics(register):
    register("precision", Precision)
