"""Isotonic regression calibration."""
from harness.hookspecs import hookimpl

from ._netcal import NetcalCalibrator


class IsotonicCalibration(NetcalCalibrator):
    """Isotonic regression: the best monotone step map from scores to frequencies (Zadrozny & Elkan 2002).

    Wraps ``netcal.binning.IsotonicRegression`` (sklearn's, clipped to [0, 1]). Outputs are
    piecewise constant, so ties appear and AUROC can drop slightly.
    """

    def _build(self):
        from netcal.binning import IsotonicRegression

        return IsotonicRegression()

    def fitted_params(self):
        return {"steps": float(len(self.model._iso.X_thresholds_))}


@hookimpl
def register_calibrators(register):
    register("isotonic", IsotonicCalibration)
