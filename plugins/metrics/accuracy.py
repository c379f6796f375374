"""Accuracy at the decision threshold."""
from harness.components import Metric
from harness.hookspecs import hookimpl


class Accuracy(Metric):
    """Fraction of cases classified correctly when predicting positive iff p >= threshold."""

    direction = "max"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import accuracy_score

        from ._common import as_arrays

        y, p = as_arrays(labels, probs)
        return float(accuracy_score(y, (p >= threshold).astype(int)))


@hookimpl
def register_metrics(register):
    register("accuracy", Accuracy)
