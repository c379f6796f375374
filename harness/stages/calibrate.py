"""Post-hoc calibration of the model's val/test probabilities, fitted on val only."""
from __future__ import annotations

import numpy as np

from ..hookspecs import hookimpl
from ..stage import ROWS, Stage, row


def model_entry(ctx):
    """The upstream entry of the stage that made the model (its role is "model")."""
    from ..plugins import get_registry

    stages = get_registry("stages")
    for name, entry in ctx.inputs.items():
        if stages.get(name).role == "model":
            return entry
    raise KeyError(f"stage {ctx.stage!r} has no model stage upstream")


class Calibrate(Stage):
    """Fits the cell's calibrator on val probabilities and applies it to val and test."""

    upstream = ("train", "probe")
    reads = ("calibrator",)
    role = "calibrator"
    info = "calibrator.json"
    version = 2  # 2: warnings (e.g. a negative slope) recorded with the fit
    artifacts = ("calibrated.npz", "calibrator.json", ROWS)

    def quantities(self) -> tuple[str, ...]:
        from ..plugins import get_registry

        reg = get_registry("calibrators")
        return tuple(dict.fromkeys(p for n in reg.names() for p in reg.get(n).params))

    def run(self, ctx) -> None:
        pred = model_entry(ctx).npz("predictions.npz")
        val, test = pred["val_prob"].astype(np.float64), pred["test_prob"].astype(np.float64)
        cal = ctx.spec.calibrator.build()
        cal.fit(val, ctx.y["val"])  # val only: the calibrator never sees test labels
        np.savez(ctx.out / "calibrated.npz", val_prob=np.asarray(cal.transform(val), dtype=np.float64),
                 test_prob=np.asarray(cal.transform(test), dtype=np.float64))
        params = {k: float(v) for k, v in cal.fitted_params().items()}
        warnings = list(cal.warnings())
        ctx.write_json("calibrator.json", {"name": ctx.spec.calibrator.name, "params": params,
                                           "state": cal.state(), "warnings": warnings})
        ctx.write_json(ROWS, [row("val", k, v, family="calibrator") for k, v in params.items()]
                       + [row("val", w, 1.0, family="warning") for w in warnings])

    def load(self, spec, entry):
        """The fitted calibrator, restored from its JSON state (no unpickling)."""
        return spec.calibrator.build().load_state(entry.json("calibrator.json")["state"])


@hookimpl
def register_stages(register):
    register("calibrate", Calibrate)
