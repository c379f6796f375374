"""Identity calibrator: keeps the probe's probabilities."""
from harness import Calibrator
from harness import hookimpl

from ._state import check_state


class Identity(Calibrator):
    """No calibration: returns the probabilities unchanged (as 1-D float64 in [0, 1])."""

    display_name = 'no calibration'

    default = True

    def fit(self, probs, labels):
        self._fitted = True
        return self

    def transform(self, probs):
        import numpy as np

        return np.clip(np.asarray(probs, dtype=np.float64).reshape(-1), 0.0, 1.0)

    def state(self):
        """Empty: nothing is fitted (still an error before fit, as for every calibrator)."""
        if not getattr(self, "_fitted", False):
            raise RuntimeError(f"{type(self).__name__}.state called before fit")
        return {}

    def load_state(self, state):
        check_state(type(self).__name__, state, {})
        self._fitted = True
        return self


@hookimpl
def register_calibrators(register):
    register("none", Identity)
