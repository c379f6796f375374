"""Negative log-likelihood (log loss)."""
from harness.components import Metric
from harness.hookspecs import hookimpl


class NLL(Metric):
    """Mean negative log-likelihood of the labels under P(positive) (log loss); ignores the threshold."""

    direction = "min"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import log_loss

        from ._common import as_arrays

        y, p = as_arrays(labels, probs)
        # sklearn clips p to [eps, 1 - eps] of float64, so a confident miss costs ~36 nats, not inf
        return float(log_loss(y, p, labels=[0, 1]))


@hookimpl
def register_metrics(register):
    register("nll", NLL)
