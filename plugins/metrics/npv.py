"""Negative predictive value at the decision threshold."""
from harness.components import Metric
from harness.hookspecs import hookimpl


class NPV(Metric):
    """TN / (TN + FN) at the threshold; 0 when nothing is predicted negative (as precision does)."""

    direction = "max"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import precision_score

        from ._common import as_arrays

        y, p = as_arrays(labels, probs)
        # NPV is the precision of the negative class
        return float(precision_score(y, (p >= threshold).astype(int), pos_label=0, zero_division=0))


@hookimpl
def register_metrics(register):
    register("npv", NPV)
