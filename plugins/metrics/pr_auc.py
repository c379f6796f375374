"""Area under the precision-recall curve (average precision) of the positive class."""
from harness import Metric
from harness import hookimpl


class PRAUC(Metric):
    """Average precision of the positive class (label 1); threshold-free, NaN without positives."""

    display_name = "PR-AUC"

    direction = "max"
    family = "ranking"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import average_precision_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        if not y.any():
            return float("nan")  # sklearn warns and returns 0, but precision is undefined
        return float(average_precision_score(y, p, pos_label=1))


@hookimpl
def register_metrics(register):
    register("pr_auc", PRAUC)
