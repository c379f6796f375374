"""Threshold maximising Youden's J on val."""
from harness import ThresholdSelector
from harness import hookimpl


class Youden(ThresholdSelector):
    """The threshold maximising Youden's J = TPR - FPR on val (Youden 1950); ties go to the largest threshold."""

    display_name = "Youden's J"

    def select(self, probs, labels):
        from ._roc import first_max, roc_points

        fpr, tpr, thr = roc_points(probs, labels)
        return float(thr[first_max(tpr - fpr)])  # thresholds decrease: the first maximum is the largest


@hookimpl
def register_threshold_selectors(register):
    register("youden", Youden)
