"""Count of true positives at the decision threshold."""
from harness import Metric
from harness import hookimpl


class TP(Metric):
    """Number of true positives when predicting positive iff p >= threshold."""

    display_name = "TP"

    direction = None
    family = "count"
    version = 1

    def __call__(self, labels, probs, threshold):
        from ._common import confusion

        return float(confusion(labels, probs, threshold)[3])  # (tn, fp, fn, tp)


@hookimpl
def register_metrics(register):
    register("tp", TP)
