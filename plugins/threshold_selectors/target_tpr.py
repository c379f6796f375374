"""Threshold reaching a target sensitivity on val."""
from dataclasses import dataclass

from harness import ThresholdSelector
from harness import hookimpl


class TargetTPR(ThresholdSelector):
    """The largest threshold whose val sensitivity (TPR) is at least ``target``: a rule-out operating point."""

    display_name = 'target TPR'

    @dataclass(frozen=True)
    class Config:
        """Attributes: target: the minimum val TPR, in (0, 1)."""

        target: float = 0.90

        def __post_init__(self):
            if not 0.0 < self.target < 1.0:
                raise ValueError("target must be in (0, 1)")

    def select(self, probs, labels):
        import numpy as np

        from ._roc import roc_points

        _, tpr, thr = roc_points(probs, labels)
        # thresholds fall as TPR rises, so the first point reaching the target has the largest threshold;
        # one always does, since the last point has TPR 1
        return float(thr[np.argmax(tpr >= self.config.target)])


@hookimpl
def register_threshold_selectors(register):
    register("target_tpr", TargetTPR)
