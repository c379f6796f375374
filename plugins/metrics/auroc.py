"""Area under the ROC curve."""
from harness import Metric
from harness import hookimpl


class AUROC(Metric):
    """Area under the ROC curve of P(positive); threshold-free, NaN when val/test holds one class."""

    display_name = "AUROC"

    direction = "max"
    family = "ranking"
    bootstrap = True  # a 95 % CI by default
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import roc_auc_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        if y.min() == y.max():
            return float("nan")  # undefined: sklearn would raise
        return float(roc_auc_score(y, p))

    def rows(self, labels, probs, threshold):
        from harness import auroc_rows

        return auroc_rows(labels, probs)


@hookimpl
def register_metrics(register):
    register("auroc", AUROC)
