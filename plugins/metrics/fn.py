"""Count of false negatives at the decision threshold."""
from harness import Metric
from harness import hookimpl


class FN(Metric):
    """Number of false negatives when predicting positive iff p >= threshold."""

    display_name = "FN"

    direction = None
    family = "count"
    version = 1

    def __call__(self, labels, probs, threshold):
        from ._common import confusion

        return float(confusion(labels, probs, threshold)[2])  # (tn, fp, fn, tp)


@hookimpl
def register_metrics(register):
    register("fn", FN)
