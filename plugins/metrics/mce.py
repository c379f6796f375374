"""Maximum calibration error, top-label form."""
from harness import Metric
from harness import hookimpl

from ._common import BinningConfig


class MCE(Metric):
    """Top-label MCE: the largest |accuracy - confidence| over bins (Guo et al., arXiv:1706.04599).

    Same bins and argmax rule as ``ece``; ignores ``threshold``. Noisy on small splits, since a
    single sparsely filled bin can set it.
    """

    display_name = "MCE"

    direction = "min"
    family = "calibration"
    version = 1
    Config = BinningConfig

    def __call__(self, labels, probs, threshold):
        from ._calibration import calibration_error

        return calibration_error(labels, probs, self.config.bins, self.config.binning,
                                 form="top_label", reduce="max")


@hookimpl
def register_metrics(register):
    register("mce", MCE)
