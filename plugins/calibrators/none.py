"""Identity calibrator: keeps the probe's probabilities."""
from harness.components import Calibrator
from harness.hookspecs import hookimpl


class Identity(Calibrator):
    """No calibration: returns the probabilities unchanged (as 1-D float64 in [0, 1])."""

    def fit(self, probs, labels):
        return self

    def transform(self, probs):
        import numpy as np

        return np.clip(np.asarray(probs, dtype=np.float64).reshape(-1), 0.0, 1.0)


@hookimpl
def register_calibrators(register):
    register("none", Identity)
