"""Platt scaling (logistic calibration)."""
from harness.hookspecs import hookimpl

from ._netcal import NetcalCalibrator


class PlattScaling(NetcalCalibrator):
    """Platt scaling: sigmoid(a * logit(p) + b) fitted by NLL on val (Platt 1999; arXiv:1706.04599).

    Wraps ``netcal.scaling.LogisticCalibration`` (MLE) on the logit of P(positive).
    """

    def _build(self):
        from netcal.scaling import LogisticCalibration

        return LogisticCalibration(method="mle")

    def fitted_params(self):
        return {"slope": float(self.model.weights[0]), "intercept": float(self.model.intercept[0])}


@hookimpl
def register_calibrators(register):
    register("platt", PlattScaling)
