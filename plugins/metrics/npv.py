"""Negative predictive value at the decision threshold."""
from harness import Metric
from harness import hookimpl


class NPV(Metric):
    """TN / (TN + FN) at the threshold; 0 when nothing is predicted negative (as precision does)."""

    display_name = "NPV"

    direction = "max"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import precision_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        # NPV is the precision of the negative class
        return float(precision_score(y, (p >= threshold).astype(int), pos_label=0, zero_division=0))


@hookimpl
def register_metrics(register):
    register("npv", NPV)
