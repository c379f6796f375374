"""Histogram binning calibration."""
from dataclasses import dataclass

from harness.hookspecs import hookimpl

from ._netcal import NetcalCalibrator


class HistogramBinning(NetcalCalibrator):
    """Histogram binning: a score maps to the positive frequency of its val bin (Zadrozny & Elkan 2001).

    Wraps ``netcal.binning.HistogramBinning``; an empty bin maps to its centre. netcal's equal-mass
    option is not offered: with tied scores its quantile edges coincide and scipy raises
    "The smallest edge difference is numerically 0".
    """

    @dataclass(frozen=True)
    class Config:
        """Attributes: bins: number of equal-width bins over [0, 1]."""

        bins: int = 10

        def __post_init__(self):
            if self.bins < 1:
                raise ValueError("bins must be >= 1")

    def _build(self):
        from netcal.binning import HistogramBinning as NetcalHistogramBinning

        return NetcalHistogramBinning(bins=int(self.config.bins), equal_intervals=True)


@hookimpl
def register_calibrators(register):
    register("histogram_binning", HistogramBinning)
