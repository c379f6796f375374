"""Fixed decision threshold."""
import math
from dataclasses import dataclass

from harness import ThresholdSelector
from harness import hookimpl


class FixedThreshold(ThresholdSelector):
    """A fixed threshold on P(positive), 0.5 by default; ignores the val data."""

    display_name = 'fixed threshold'

    default = True

    @dataclass(frozen=True)
    class Config:
        """Attributes: threshold: predict positive iff p >= threshold."""

        threshold: float = 0.5

        def __post_init__(self):
            if not (math.isfinite(self.threshold) and 0.0 <= self.threshold <= 1.0):
                raise ValueError("threshold must be in [0, 1]")

    def select(self, probs, labels):
        return float(self.config.threshold)


@hookimpl
def register_threshold_selectors(register):
    register("fixed", FixedThreshold)
