"""Threshold maximising Youden's J on val."""
from harness.components import ThresholdSelector
from harness.hookspecs import hookimpl


class Youden(ThresholdSelector):
    """The threshold maximising Youden's J = TPR - FPR on val (Youden 1950); ties go to the largest threshold."""

    def select(self, probs, labels):
        import numpy as np

        from ._roc import roc_points

        fpr, tpr, thr = roc_points(probs, labels)
        return float(thr[np.argmax(tpr - fpr)])  # argmax keeps the first, i.e. largest, threshold


@hookimpl
def register_threshold_selectors(register):
    register("youden", Youden)
