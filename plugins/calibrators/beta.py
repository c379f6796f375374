"""Beta calibration."""
from harness import hookimpl

from ._netcal import NetcalCalibrator, sigmoid


class BetaCalibration(NetcalCalibrator):
    """Beta calibration: sigmoid(a ln p - b ln(1 - p) + c) with a, b >= 0 (Kull et al. 2017, PMLR 54:623-631).

    Wraps ``netcal.scaling.BetaCalibration`` (MLE; netcal refits with a negative weight pinned to 0).
    """

    display_name = 'beta calibration'

    params = ("a", "b", "c")

    state_fields = {"a": "real", "b": "real", "c": "real"}

    def _build(self):
        from netcal.scaling import BetaCalibration as NetcalBeta

        return NetcalBeta(method="mle")

    def _read_state(self, model, p, y):
        # netcal's ``weights`` property reads a missing key (KeyError 'bias'); read the fitted sites
        a, b = model._sites["weights"]["values"]
        return {"a": float(a), "b": float(b), "c": float(model._sites["bias"]["values"][0])}

    def _apply(self, state, p):
        import numpy as np

        # netcal's features: [ln p, -ln(1 - p)], with 1 - p formed before the log as netcal does
        return sigmoid(state["a"] * np.log(p) + state["b"] * -np.log(1.0 - p) + state["c"])

    def warnings(self):
        st = self.state()
        if st["a"] < 0 or st["b"] < 0:
            return ["negative slope (a or b < 0): the beta map is not monotone and reorders the scores"]
        return []

    def fitted_params(self):
        return self.state()


@hookimpl
def register_calibrators(register):
    register("beta", BetaCalibration)
