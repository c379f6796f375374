"""Temperature scaling."""
from harness.hookspecs import hookimpl

from ._netcal import NetcalCalibrator, prepare


class TemperatureScaling(NetcalCalibrator):
    """Temperature scaling: sigmoid(logit(p) / T), T > 0 fitted by NLL on val (Guo et al., arXiv:1706.04599).

    Wraps ``netcal.scaling.TemperatureScaling`` (MLE). netcal's ``temperature`` is the multiplier on
    the logit, i.e. 1 / T; ``fitted_params`` reports T itself (T > 1 softens over-confident scores).
    """

    version = 2  # 2: T constrained to be positive

    def _build(self):
        from netcal.scaling import TemperatureScaling as NetcalTemperature

        return NetcalTemperature(method="mle")

    def fit(self, probs, labels):
        import numpy as np

        super().fit(probs, labels)
        self._own_t = None
        w = float(self.model.temperature[0])
        if not (np.isfinite(w) and w > 0):
            # netcal's MLE weight is unconstrained: on a val split where the model ranks worse than
            # chance it fits a negative multiplier, which flips every prediction (seen here: a 1-epoch
            # Breast model's test AUROC went 0.657 -> 0.343). A temperature must be positive, so
            # refit log T on a bounded interval instead.
            from scipy.optimize import minimize_scalar

            z = _logit(prepare(probs))
            y = np.asarray(labels, dtype=np.float64).reshape(-1)

            def nll(log_t):
                s = z / np.exp(log_t)
                return float(np.mean(np.logaddexp(0.0, s) - y * s))

            self._own_t = float(np.exp(minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded").x))
        return self

    def transform(self, probs):
        import numpy as np

        if getattr(self, "_own_t", None) is None:
            return super().transform(probs)
        return 1.0 / (1.0 + np.exp(-_logit(prepare(probs)) / self._own_t))

    def fitted_params(self):
        if getattr(self, "_own_t", None) is not None:
            return {"temperature": self._own_t}
        return {"temperature": float(1.0 / self.model.temperature[0])}


def _logit(p):
    import numpy as np

    return np.log(p) - np.log1p(-p)


@hookimpl
def register_calibrators(register):
    register("temperature", TemperatureScaling)
