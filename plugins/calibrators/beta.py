"""Beta calibration."""
from harness.hookspecs import hookimpl

from ._netcal import NetcalCalibrator


class BetaCalibration(NetcalCalibrator):
    """Beta calibration: sigmoid(a ln p - b ln(1 - p) + c) with a, b >= 0 (Kull et al. 2017, PMLR 54:623-631).

    Wraps ``netcal.scaling.BetaCalibration`` (MLE; netcal refits with a negative weight pinned to 0).
    """

    def _build(self):
        from netcal.scaling import BetaCalibration as NetcalBeta

        return NetcalBeta(method="mle")

    def fitted_params(self):
        # netcal's ``weights`` property reads a missing key (KeyError 'bias'); read the fitted sites
        a, b = self.model._sites["weights"]["values"]
        return {"a": float(a), "b": float(b), "c": float(self.model._sites["bias"]["values"][0])}


@hookimpl
def register_calibrators(register):
    register("beta", BetaCalibration)
