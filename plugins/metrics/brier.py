"""Brier score."""
from harness import Metric
from harness import hookimpl


class Brier(Metric):
    """Mean squared error of P(positive) against the 0/1 label (Brier 1950); ignores the threshold."""

    display_name = "Brier score"

    direction = "min"
    family = "calibration"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import brier_score_loss

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        # labels=[0, 1]: a one-class split must not make sklearn guess which class is positive
        return float(brier_score_loss(y, p, labels=[0, 1]))


@hookimpl
def register_metrics(register):
    register("brier", Brier)
