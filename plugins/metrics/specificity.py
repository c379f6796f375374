"""Specificity (TNR) at the decision threshold."""
from harness import Metric
from harness import hookimpl


class Specificity(Metric):
    """TN / (TN + FP) at the threshold (TNR); NaN when there are no negatives."""

    display_name = "specificity"

    direction = "max"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import recall_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        # specificity is the recall of the negative class
        return float(recall_score(y, (p >= threshold).astype(int), pos_label=0, zero_division=float("nan")))


@hookimpl
def register_metrics(register):
    register("specificity", Specificity)
