"""Isotonic regression calibration."""
from harness import hookimpl

from ._netcal import NetcalCalibrator
from ._state import increasing


class IsotonicCalibration(NetcalCalibrator):
    """Isotonic regression: the best monotone step map from scores to frequencies (Zadrozny & Elkan 2002).

    Wraps ``netcal.binning.IsotonicRegression`` (sklearn's, clipped to [0, 1]). Outputs are
    piecewise constant, so ties appear and AUROC can drop slightly.
    """

    display_name = 'isotonic regression'

    params = ("steps",)

    #: sklearn's fitted knots: X_thresholds_ (strictly increasing) and y_thresholds_ (non-decreasing, in [0, 1])
    state_fields = {"x_thresholds": "reals", "y_thresholds": "probs"}

    def _build(self):
        from netcal.binning import IsotonicRegression

        return IsotonicRegression()

    def _read_state(self, model, p, y):
        iso = model._iso
        if not (iso.out_of_bounds == "clip" and iso.X_min_ == iso.X_thresholds_[0]
                and iso.X_max_ == iso.X_thresholds_[-1]):  # what ``_apply`` relies on
            raise RuntimeError("unexpected sklearn IsotonicRegression fit: clip bounds are not its end knots")
        return {"x_thresholds": [float(v) for v in iso.X_thresholds_],
                "y_thresholds": [float(v) for v in iso.y_thresholds_]}

    def _check(self, state):
        owner = type(self).__name__
        if len(state["x_thresholds"]) != len(state["y_thresholds"]):
            raise ValueError(f"{owner} state: fields 'x_thresholds' and 'y_thresholds' differ in length")
        increasing(owner, "x_thresholds", state["x_thresholds"])
        increasing(owner, "y_thresholds", state["y_thresholds"], strict=False)

    def _apply(self, state, p):
        """sklearn's ``IsotonicRegression.transform`` with out_of_bounds="clip".

        sklearn clips to [X_min_, X_max_] (the first and last knots) and interpolates linearly with
        scipy's ``interp1d``, which for float64 1-D data delegates to ``np.interp``; one knot is constant.
        """
        import numpy as np

        x = np.asarray(state["x_thresholds"], dtype=np.float64)
        y = np.asarray(state["y_thresholds"], dtype=np.float64)
        if x.size == 1:
            return np.full(p.shape, y[0])
        return np.interp(np.clip(p, x[0], x[-1]), x, y)

    def fitted_params(self):
        return {"steps": float(len(self.state()["x_thresholds"]))}


@hookimpl
def register_calibrators(register):
    register("isotonic", IsotonicCalibration)
