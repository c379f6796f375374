"""Threshold with the best sensitivity under a false-positive-rate cap on val."""
from dataclasses import dataclass

from harness import ThresholdSelector
from harness import hookimpl


class TargetFPR(ThresholdSelector):
    """The threshold with the highest val TPR whose val FPR is at most ``target`` (lowest FPR on ties)."""

    display_name = 'target FPR'

    @dataclass(frozen=True)
    class Config:
        """Attributes: target: the maximum val FPR, in (0, 1)."""

        target: float = 0.10

        def __post_init__(self):
            if not 0.0 < self.target < 1.0:
                raise ValueError("target must be in (0, 1)")

    def select(self, probs, labels):
        import numpy as np

        from ._roc import roc_points

        fpr, tpr, thr = roc_points(probs, labels)
        # FPR and TPR both rise along the curve: the feasible points are a prefix (the first, with
        # nothing positive, always qualifies) and its best TPR is first reached at its lowest FPR
        feasible = fpr <= self.config.target
        best = tpr[feasible].max()
        return float(thr[np.argmax(feasible & (tpr == best))])


@hookimpl
def register_threshold_selectors(register):
    register("target_fpr", TargetFPR)
