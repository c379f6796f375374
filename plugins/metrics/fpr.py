"""False positive rate at the decision threshold."""
from harness import Metric
from harness import hookimpl

from ._common import confusion_rows, ratio


class FPR(Metric):
    """FP / (FP + TN) at the threshold (1 - specificity); NaN when there are no negatives."""

    display_name = "FPR"

    direction = "min"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import recall_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        return float(1.0 - recall_score(y, (p >= threshold).astype(int), pos_label=0,
                                        zero_division=float("nan")))


    def rows(self, labels, probs, threshold):
        tn, fp, fn, tp = confusion_rows(labels, probs, threshold)
        return ratio(fp, fp + tn)


@hookimpl
def register_metrics(register):
    register("fpr", FPR)
