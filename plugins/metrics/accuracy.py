"""Accuracy at the decision threshold."""
from harness import Metric
from harness import hookimpl


class Accuracy(Metric):
    """Fraction of cases classified correctly when predicting positive iff p >= threshold."""

    display_name = "accuracy"

    direction = "max"
    family = "threshold"
    bootstrap = True  # a 95 % CI by default
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import accuracy_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        return float(accuracy_score(y, (p >= threshold).astype(int)))

    def rows(self, labels, probs, threshold):
        import numpy as np

        y = np.asarray(labels).astype(np.int64)
        p = np.asarray(probs, dtype=np.float64)
        return np.mean((p >= threshold) == (y == 1), axis=1)


@hookimpl
def register_metrics(register):
    register("accuracy", Accuracy)
