"""Shared adapter from netcal 1.4.0 calibrators to the harness's 1-D P(positive) contract."""
from __future__ import annotations

from harness.components import Calibrator

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


class NetcalCalibrator(Calibrator):
    """Base for calibrators that wrap a netcal model built by ``_build``."""

    def _build(self):
        raise NotImplementedError

    def fit(self, probs, labels):
        import numpy as np

        p = prepare(probs)
        y = np.asarray(labels).reshape(-1).astype(np.int64)
        if y.shape != p.shape:
            raise ValueError(f"probs and labels differ in length: {p.size} vs {y.size}")
        self.model = self._build()
        self.model.fit(p, y)
        return self

    def transform(self, probs):
        import numpy as np

        if getattr(self, "model", None) is None:
            raise RuntimeError(f"{type(self).__name__}.transform called before fit")
        out = self.model.transform(prepare(probs))
        return np.clip(np.asarray(out, dtype=np.float64).reshape(-1), 0.0, 1.0)
