"""Expected calibration error, positive-class form."""
from harness import Metric
from harness import hookimpl

from ._common import BinningConfig


class PositiveClassECE(Metric):
    """Positive-class ECE: P(positive) vs positive frequency per bin (Nixon et al., arXiv:1904.01685).

    This is the per-class ("static") calibration error of the positive class; it ignores ``threshold``.
    """

    display_name = "positive-class ECE"

    direction = "min"
    family = "calibration"
    version = 1
    Config = BinningConfig

    def __call__(self, labels, probs, threshold):
        from ._calibration import calibration_error

        return calibration_error(labels, probs, self.config.bins, self.config.binning, form="positive")


@hookimpl
def register_metrics(register):
    register("ece_pos", PositiveClassECE)
