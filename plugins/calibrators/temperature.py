"""Temperature scaling."""
from harness import hookimpl

from ._netcal import NetcalCalibrator, logit, sigmoid


class TemperatureScaling(NetcalCalibrator):
    """Temperature scaling: sigmoid(logit(p) / T), T > 0 fitted by NLL on val (Guo et al., arXiv:1706.04599).

    Wraps ``netcal.scaling.TemperatureScaling`` (MLE). netcal's ``temperature`` is the multiplier on
    the logit, i.e. 1 / T; ``fitted_params`` reports T itself (T > 1 softens over-confident scores).
    """

    display_name = 'temperature scaling'

    params = ("temperature",)

    version = 2  # 2: T constrained to be positive

    #: temperature: T; bounded_refit: True when netcal's multiplier was not positive and T was refitted
    state_fields = {"temperature": "positive", "bounded_refit": "bool"}

    def _build(self):
        from netcal.scaling import TemperatureScaling as NetcalTemperature

        return NetcalTemperature(method="mle")

    def _read_state(self, model, p, y):
        import numpy as np

        w = float(model.temperature[0])
        if np.isfinite(w) and w > 0:
            return {"temperature": 1.0 / w, "bounded_refit": False}
        # netcal's MLE weight is unconstrained: on a val split where the model ranks worse than
        # chance it fits a negative multiplier, which flips every prediction (seen here: a 1-epoch
        # Breast model's test AUROC went 0.657 -> 0.343). A temperature must be positive, so
        # refit log T on a bounded interval instead.
        from scipy.optimize import minimize_scalar

        z = _logit(p)
        y = y.astype(np.float64)

        def nll(log_t):
            s = z / np.exp(log_t)
            return float(np.mean(np.logaddexp(0.0, s) - y * s))

        t = float(np.exp(minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded").x))
        return {"temperature": t, "bounded_refit": True}

    def _apply(self, state, p):
        return sigmoid(logit(p) / state["temperature"])

    def fitted_params(self):
        return {"temperature": self.state()["temperature"]}


def _logit(p):
    import numpy as np

    return np.log(p) - np.log1p(-p)


@hookimpl
def register_calibrators(register):
    register("temperature", TemperatureScaling)
