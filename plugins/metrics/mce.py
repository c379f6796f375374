"""Maximum calibration error, top-label form."""
from harness.components import Metric
from harness.hookspecs import hookimpl

from ._common import BinningConfig


class MCE(Metric):
    """Top-label MCE: the largest |accuracy - confidence| over bins (Guo et al., arXiv:1706.04599).

    Same bins and argmax rule as ``ece``; ignores ``threshold``. Noisy on small splits, since a
    single sparsely filled bin can set it.
    """

    direction = "min"
    version = 1
    Config = BinningConfig

    def __call__(self, labels, probs, threshold):
        from harness.calibration import calibration_error

        return calibration_error(labels, probs, self.config.bins, self.config.binning,
                                 form="top_label", reduce="max")


@hookimpl
def register_metrics(register):
    register("mce", MCE)
