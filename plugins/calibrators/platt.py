"""Platt scaling (logistic calibration)."""
from harness import hookimpl

from ._netcal import NetcalCalibrator, logit, sigmoid


class PlattScaling(NetcalCalibrator):
    """Platt scaling: sigmoid(a * logit(p) + b) fitted by NLL on val (Platt 1999; arXiv:1706.04599).

    Wraps ``netcal.scaling.LogisticCalibration`` (MLE) on the logit of P(positive).
    """

    display_name = 'Platt scaling'

    params = ("slope", "intercept")

    state_fields = {"slope": "real", "intercept": "real"}

    def _build(self):
        from netcal.scaling import LogisticCalibration

        return LogisticCalibration(method="mle")

    def _read_state(self, model, p, y):
        return {"slope": float(model.weights[0]), "intercept": float(model.intercept[0])}

    def _apply(self, state, p):
        return sigmoid(state["slope"] * logit(p) + state["intercept"])

    def warnings(self):
        if self.state()["slope"] <= 0:
            return ["negative slope: the calibrated scores reverse the model's ranking (AUROC becomes 1 - AUROC)"]
        return []

    def fitted_params(self):
        return self.state()


@hookimpl
def register_calibrators(register):
    register("platt", PlattScaling)
