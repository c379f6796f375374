"""Count of false negatives at the decision threshold."""
from harness.components import Metric
from harness.hookspecs import hookimpl


class FN(Metric):
    """Number of false negatives when predicting positive iff p >= threshold."""

    direction = "min"
    version = 1

    def __call__(self, labels, probs, threshold):
        from ._common import confusion

        return float(confusion(labels, probs, threshold)[2])  # (tn, fp, fn, tp)


@hookimpl
def register_metrics(register):
    register("fn", FN)
