"""Balanced accuracy at the decision threshold."""
from harness import Metric
from harness import hookimpl


class BalancedAccuracy(Metric):
    """Mean of sensitivity and specificity at the threshold (sklearn; with one class, its recall)."""

    direction = "max"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        import warnings

        from sklearn.metrics import balanced_accuracy_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        with warnings.catch_warnings():
            # one-class splits (bootstrap, tiny tests) warn on every call; the value is still defined
            warnings.simplefilter("ignore", UserWarning)
            return float(balanced_accuracy_score(y, (p >= threshold).astype(int)))


@hookimpl
def register_metrics(register):
    register("balanced_accuracy", BalancedAccuracy)
