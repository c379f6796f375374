"""Negative log-likelihood (log loss)."""
from harness import Metric
from harness import hookimpl


class NLL(Metric):
    """Mean negative log-likelihood of the labels under P(positive) (log loss); ignores the threshold."""

    display_name = "NLL"

    direction = "min"
    family = "calibration"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import log_loss

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        # sklearn clips p to [eps, 1 - eps] of float64, so a confident miss costs ~36 nats, not inf
        return float(log_loss(y, p, labels=[0, 1]))


@hookimpl
def register_metrics(register):
    register("nll", NLL)
