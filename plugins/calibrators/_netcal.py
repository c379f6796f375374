"""Shared adapter from netcal 1.4.0 calibrators to the harness's 1-D P(positive) contract."""
from __future__ import annotations

import copy

from harness import Calibrator

from ._state import check_state

# Keep scores off 0 and 1 so logits stay finite; 1e-7 is far above float64 eps, so it changes no real score.
EPS = 1e-7


def prepare(probs):
    """float64, 1-D, clipped to [EPS, 1 - EPS].

    float64 matters: netcal's MLE fit differentiates numerically in the input's dtype, and with
    float32 scipy's finite-difference steps vanish, so the fit silently stays at its start
    (temperature 1.0); the fitted weights also take that dtype and must match at transform.
    """
    import numpy as np

    return np.clip(np.asarray(probs, dtype=np.float64).reshape(-1), EPS, 1.0 - EPS)


def logit(p):
    """netcal's logit of prepared scores (``scipy.special.logit``, as its ``_inverse_sigmoid``)."""
    from scipy.special import logit as _logit

    return _logit(p)


def sigmoid(z):
    """Overflow-free logistic function."""
    from scipy.special import expit

    return expit(z)


class NetcalCalibrator(Calibrator):
    """Base for calibrators fitted by a netcal model built by ``_build``.

    After ``fit`` the fitted parameters are read out of the netcal model into a plain state
    (``_read_state``), and ``transform`` computes from that state alone (``_apply``, in numpy, the
    same formula netcal evaluates for 1-D binary input), so a state reloaded with ``load_state``
    transforms exactly as the fitted calibrator does. ``model`` (the netcal object) is kept after
    ``fit`` for inspection only; it is None after ``load_state``.
    """

    #: the state's fields, ``{name: kind}`` (kinds in ``_state.KINDS``)
    state_fields: dict = {}

    def _build(self):
        raise NotImplementedError

    def _read_state(self, model, p, y) -> dict:
        """The state (Python floats, lists of floats) of the fitted netcal ``model``; ``p``, ``y`` are its fit data."""
        raise NotImplementedError(f"{type(self).__name__} must implement _read_state and _apply (its persisted state)")

    def _check(self, state: dict) -> None:
        """Checks beyond the field kinds; raise ValueError naming the field."""

    def _apply(self, state: dict, p):
        """Calibrated probabilities of prepared scores ``p`` (float64, in [EPS, 1 - EPS])."""
        raise NotImplementedError(f"{type(self).__name__} must implement _read_state and _apply (its persisted state)")

    def fit(self, probs, labels):
        import numpy as np

        p = prepare(probs)
        y = np.asarray(labels).reshape(-1).astype(np.int64)
        if y.shape != p.shape:
            raise ValueError(f"probs and labels differ in length: {p.size} vs {y.size}")
        self.model = self._build()
        self.model.fit(p, y)
        self._state = self._read_state(self.model, p, y)
        return self

    def transform(self, probs):
        import numpy as np

        if getattr(self, "_state", None) is None:
            raise RuntimeError(f"{type(self).__name__}.transform called before fit")
        out = self._apply(self._state, prepare(probs))
        return np.clip(np.asarray(out, dtype=np.float64).reshape(-1), 0.0, 1.0)

    def state(self) -> dict:
        if getattr(self, "_state", None) is None:
            raise RuntimeError(f"{type(self).__name__}.state called before fit")
        return copy.deepcopy(self._state)

    def load_state(self, state: dict) -> "NetcalCalibrator":
        owner = type(self).__name__
        checked = check_state(owner, state, self.state_fields)
        self._check(checked)
        self.model = None
        self._state = checked
        return self
