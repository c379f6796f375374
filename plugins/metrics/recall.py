"""Recall (sensitivity, TPR) at the decision threshold."""
from harness import Metric
from harness import hookimpl

from ._common import confusion_rows, ratio


class Recall(Metric):
    """TP / (TP + FN) at the threshold (sensitivity, TPR); NaN when there are no positives."""

    display_name = "sensitivity"

    direction = "max"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import recall_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        # no positives is a property of the data, not a failure of the model: undefined, not 0
        return float(recall_score(y, (p >= threshold).astype(int), pos_label=1, zero_division=float("nan")))


    def rows(self, labels, probs, threshold):
        tn, fp, fn, tp = confusion_rows(labels, probs, threshold)
        return ratio(tp, tp + fn)


@hookimpl
def register_metrics(register):
    register("recall", Recall)
