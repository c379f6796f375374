"""The calibrate stage in process: what it writes for a real calibrator (params, state, warnings, rows)."""
import json

import numpy as np
import pytest

from harness.stage import StageContext
from harness.stages.calibrate import Calibrate, model_entry

from ..synthetic import N, spec_of


class FakeModel:
    def __init__(self, val, test):
        self.arrays = {"val_prob": val.astype(np.float32), "test_prob": test.astype(np.float32)}

    def npz(self, name):
        assert name == "predictions.npz"
        return self.arrays


def calibrate(tmp_path, calibrator, val, test):
    spec = spec_of(tmp_path, f"  regime: [probe]\n  calibrator: [{calibrator}]")
    out = tmp_path / "out"
    out.mkdir()
    ctx = StageContext(spec=spec, stage="calibrate", out=out, inputs={"probe": FakeModel(val, test)})
    Calibrate().run(ctx)
    rows = json.loads((out / "rows.json").read_text())
    return ctx, dict(np.load(out / "calibrated.npz")), json.loads((out / "calibrator.json").read_text()), rows


def test_temperature_fit_is_recorded_and_applied(tmp_path, synthetic):
    rng = np.random.default_rng(0)
    ctx0 = StageContext(spec=spec_of(tmp_path), stage="x", out=tmp_path)
    y = ctx0.y["val"]
    val = np.clip(np.where(y == 1, 0.97, 0.03) + rng.normal(0, 0.02, len(y)), 0.01, 0.99)
    val[:4] = 1 - val[:4]  # over-confident: a few confident mistakes
    test = rng.uniform(0.05, 0.95, N["test"])
    ctx, cal, info, rows = calibrate(tmp_path, "temperature", val, test)
    assert cal["val_prob"].dtype == np.float64 and cal["test_prob"].dtype == np.float64
    assert cal["val_prob"].shape == (N["val"],) and cal["test_prob"].shape == (N["test"],)
    assert set(info) == {"name", "params", "state", "warnings"} and info["name"] == "temperature"
    t = info["params"]["temperature"]
    assert t > 1 and info["warnings"] == []
    assert rows == [{"split": "val", "metric": "temperature", "family": "calibrator", "calibrated": False,
                     "stat": "value", "condition": "clean", "value": t}]
    # the stored state rebuilds the same map
    class Entry:  # answers only for the artifact the stage declares
        def json(self, name):
            assert name == "calibrator.json"
            return info

    restored = Calibrate().load(ctx.spec, Entry())
    np.testing.assert_allclose(restored.transform(test.astype(np.float32).astype(np.float64)), cal["test_prob"],
                               rtol=1e-9)


def test_a_suspicious_fit_is_a_warning_row(tmp_path, synthetic):
    ctx0 = StageContext(spec=spec_of(tmp_path), stage="x", out=tmp_path)
    y = ctx0.y["val"]
    val = np.where(y == 1, 0.2, 0.8) + np.linspace(-0.05, 0.05, len(y))  # ranks val backwards
    _, cal, info, rows = calibrate(tmp_path, "platt", val, np.linspace(0.1, 0.9, N["test"]))
    assert info["params"]["slope"] < 0 and len(info["warnings"]) == 1 and "negative slope" in info["warnings"][0]
    warn = [r for r in rows if r["family"] == "warning"]
    assert warn == [{"split": "val", "metric": info["warnings"][0], "family": "warning", "calibrated": False,
                     "stat": "value", "condition": "clean", "value": 1.0}]
    assert [r["metric"] for r in rows if r["family"] == "calibrator"] == ["slope", "intercept"]


def test_model_entry_needs_a_model_stage(tmp_path, synthetic):
    ctx = StageContext(spec=spec_of(tmp_path), stage="calibrate", out=tmp_path, inputs={"features": object()})
    with pytest.raises(KeyError, match="stage 'calibrate' has no model stage upstream"):
        model_entry(ctx)
    model = object()
    ctx.inputs = {"features": object(), "train": model}
    assert model_entry(ctx) is model


def test_quantities_are_every_calibrators_params(synthetic):
    q = Calibrate().quantities()
    assert {"temperature", "slope", "intercept"} <= set(q) and len(q) == len(set(q))
