"""Histogram binning calibration."""
from dataclasses import dataclass

from harness import hookimpl

from ._netcal import NetcalCalibrator
from ._state import increasing


class HistogramBinning(NetcalCalibrator):
    """Histogram binning: a score maps to the positive frequency of its val bin (Zadrozny & Elkan 2001).

    Wraps ``netcal.binning.HistogramBinning``; an empty bin maps to its centre. netcal's equal-mass
    option is not offered: with tied scores its quantile edges coincide and scipy raises
    "The smallest edge difference is numerically 0".
    """

    display_name = 'histogram binning'

    @dataclass(frozen=True)
    class Config:
        """Attributes: bins: number of equal-width bins over [0, 1]."""

        bins: int = 10

        def __post_init__(self):
            if self.bins < 1:
                raise ValueError("bins must be >= 1")

    #: edges: the bins + 1 bin edges over [0, 1]; values: each bin's output (val positive frequency)
    state_fields = {"edges": "reals", "values": "probs"}

    def _build(self):
        from netcal.binning import HistogramBinning as NetcalHistogramBinning

        return NetcalHistogramBinning(bins=int(self.config.bins), equal_intervals=True)

    def _read_state(self, model, p, y):
        (edges,) = model._bin_bounds
        return {"edges": [float(v) for v in edges], "values": [float(v) for v in model._bin_map.reshape(-1)]}

    def _check(self, state):
        owner = type(self).__name__
        bins = int(self.config.bins)
        if len(state["edges"]) != bins + 1:
            raise ValueError(f"{owner} state: field 'edges' must hold bins + 1 = {bins + 1} edges, "
                             f"got {len(state['edges'])}")
        if len(state["values"]) != bins:
            raise ValueError(f"{owner} state: field 'values' must hold bins = {bins} values, "
                             f"got {len(state['values'])}")
        increasing(owner, "edges", state["edges"])

    def _apply(self, state, p):
        """netcal's ``HistogramBinning.transform``: bin of p by right-closed edges, ends folded inwards."""
        import numpy as np

        edges = np.asarray(state["edges"], dtype=np.float64)
        values = np.asarray(state["values"], dtype=np.float64)
        idx = np.digitize(p, edges, right=True) - 1
        idx[idx == -1] = 0
        idx[idx == values.size] = values.size - 1
        return values[idx]


@hookimpl
def register_calibrators(register):
    register("histogram_binning", HistogramBinning)
