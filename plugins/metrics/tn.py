"""Count of true negatives at the decision threshold."""
from harness import Metric
from harness import hookimpl


class TN(Metric):
    """Number of true negatives when predicting positive iff p >= threshold."""

    display_name = "TN"

    direction = None
    family = "count"
    version = 1

    def __call__(self, labels, probs, threshold):
        from ._common import confusion

        return float(confusion(labels, probs, threshold)[0])  # (tn, fp, fn, tp)


@hookimpl
def register_metrics(register):
    register("tn", TN)
