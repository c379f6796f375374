"""Expected calibration error, top-label form."""
from harness import Metric
from harness import hookimpl

from ._common import BinningConfig


class ECE(Metric):
    """Top-label ECE: argmax-class confidence max(p, 1-p) vs accuracy per bin (Guo et al., arXiv:1706.04599).

    The argmax class is positive iff p >= 0.5, whatever the decision threshold, so the metric
    ignores ``threshold``. Bins span [0, 1] (only the upper half is reachable), as in Guo et al.
    """

    display_name = "ECE"

    direction = "min"
    family = "calibration"
    version = 1
    Config = BinningConfig

    def __call__(self, labels, probs, threshold):
        from ._calibration import calibration_error

        return calibration_error(labels, probs, self.config.bins, self.config.binning, form="top_label")

    def rows(self, labels, probs, threshold):
        if self.config.binning != "equal_width":
            return super().rows(labels, probs, threshold)
        from ._calibration import calibration_error_rows

        return calibration_error_rows(labels, probs, self.config.bins, form="top_label")


@hookimpl
def register_metrics(register):
    register("ece", ECE)
