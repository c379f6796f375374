"""Count of false positives at the decision threshold."""
from harness import Metric
from harness import hookimpl


class FP(Metric):
    """Number of false positives when predicting positive iff p >= threshold."""

    display_name = "FP"

    direction = None
    family = "count"
    version = 1

    def __call__(self, labels, probs, threshold):
        from ._common import confusion

        return float(confusion(labels, probs, threshold)[1])  # (tn, fp, fn, tp)


@hookimpl
def register_metrics(register):
    register("fp", FP)
