"""Temperature scaling."""
from harness.hookspecs import hookimpl

from ._netcal import NetcalCalibrator


class TemperatureScaling(NetcalCalibrator):
    """Temperature scaling: sigmoid(logit(p) / T), T fitted by NLL on val (Guo et al., arXiv:1706.04599).

    Wraps ``netcal.scaling.TemperatureScaling`` (MLE). netcal's ``temperature`` is the multiplier on
    the logit, i.e. 1 / T; ``fitted_params`` reports T itself (T > 1 softens over-confident scores).
    """

    def _build(self):
        from netcal.scaling import TemperatureScaling as NetcalTemperature

        return NetcalTemperature(method="mle")

    def fitted_params(self):
        return {"temperature": float(1.0 / self.model.temperature[0])}


@hookimpl
def register_calibrators(register):
    register("temperature", TemperatureScaling)
