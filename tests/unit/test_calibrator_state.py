"""Every registered calibrator persists as a JSON state and reloads without its fit (or any unpickling)."""
import json
import math

import numpy as np
import pytest

from harness import get_registry
from plugins.calibrators._netcal import NetcalCalibrator, prepare

NAMES = get_registry("calibrators").names()


def synthetic(kind, n, seed):
    """Labels drawn from sigmoid(z); scores sigmoid(3 z) (over-confident) or sigmoid(z / 3) (under-confident)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    scale = {"over": 3.0, "under": 1 / 3}[kind]
    return 1 / (1 + np.exp(-scale * z)), y


def queries():
    """Random probabilities, many within 1e-8 of 0 and 1, plus exact ends and bin edges."""
    rng = np.random.default_rng(7)
    u = rng.random(2000)
    return np.concatenate([u, u ** 12, 1 - u ** 12, [0.0, 1.0, 1e-300, 1e-12, 1e-7, 0.5, 1 - 1e-7, 1 - 1e-12],
                           np.linspace(0.0, 1.0, 101)])


def build(name):
    return get_registry("calibrators").get(name)()


def roundtrip(cal):
    """A fresh instance of the same class and config, loaded from the state through strict JSON."""
    text = json.dumps(cal.state(), allow_nan=False)
    return type(cal)(cal.config).load_state(json.loads(text))


def plain(value):
    """True if value is built only from dicts with str keys, lists, bool, int, finite float (and str)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    if type(value) is float:
        return math.isfinite(value)
    return type(value) in (bool, int, str)


def test_every_calibrator_is_covered():
    assert {"none", "temperature", "platt", "isotonic", "histogram_binning", "beta"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["over", "under"])
@pytest.mark.parametrize("n", [40, 600])
def test_reloaded_state_transforms_identically(name, kind, n):
    p, y = synthetic(kind, n, seed=n)
    cal = build(name).fit(p, y)
    state = cal.state()
    assert plain(state), state
    assert state == cal.state() and state is not cal.state()  # a copy: mutating it cannot change cal
    fresh = type(cal)(cal.config)
    loaded = fresh.load_state(json.loads(json.dumps(state)))
    assert loaded is fresh
    q = queries()
    expected = cal.transform(q)
    got = loaded.transform(q)
    assert got.dtype == np.float64 and got.shape == q.shape
    assert np.max(np.abs(got - expected)) <= 1e-12
    assert loaded.fitted_params() == cal.fitted_params()
    assert roundtrip(loaded).state() == state  # stable through a second round trip


@pytest.mark.parametrize("name", NAMES)
def test_state_before_fit_is_an_error(name):
    with pytest.raises(RuntimeError, match="before fit"):
        build(name).state()


def fitted(name):
    p, y = synthetic("over", 300, seed=1)
    return build(name).fit(p, y)


@pytest.mark.parametrize("name", NAMES)
def test_load_state_rejects_an_unexpected_field(name):
    state = {**fitted(name).state(), "bogus_field": 1.0}
    with pytest.raises(ValueError, match="bogus_field"):
        build(name).load_state(state)


@pytest.mark.parametrize("name", NAMES)
def test_load_state_rejects_a_non_dict(name):
    with pytest.raises(ValueError):
        build(name).load_state([1.0, 2.0])


@pytest.mark.parametrize("name", NAMES)
def test_load_state_names_a_missing_or_ill_typed_field(name):
    state = fitted(name).state()
    for field in state:
        missing = {k: v for k, v in state.items() if k != field}
        with pytest.raises(ValueError, match=f"missing field '{field}'"):
            build(name).load_state(missing)
        with pytest.raises(ValueError, match=f"'{field}'"):
            build(name).load_state({**state, field: "not a number"})


@pytest.mark.parametrize("name", [n for n in NAMES if issubclass(get_registry("calibrators").get(n), NetcalCalibrator)])
@pytest.mark.parametrize("kind", ["over", "under"])
def test_fit_path_matches_netcal_transform(name, kind):
    """transform computes from the state in numpy; it must agree with netcal's own transform."""
    p, y = synthetic(kind, 500, seed=3)
    cal = build(name).fit(p, y)
    if cal.state().get("bounded_refit"):
        pytest.skip("netcal's temperature was replaced by the bounded refit")
    q = queries()
    netcal = np.clip(np.asarray(cal.model.transform(prepare(q)), dtype=np.float64).reshape(-1), 0.0, 1.0)
    assert np.max(np.abs(cal.transform(q) - netcal)) <= 1e-9
    assert type(cal)(cal.config).load_state(cal.state()).model is None  # the reload has no netcal object


def anti_correlated():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    return np.clip(0.7 - 0.4 * y + rng.normal(0, 0.15, 400), 0.01, 0.99), y


def test_temperature_bounded_refit_is_in_the_state():
    from plugins.calibrators.temperature import TemperatureScaling, _logit

    p, y = anti_correlated()
    cal = TemperatureScaling().fit(p, y)
    assert float(cal.model.temperature[0]) <= 0  # netcal's multiplier flips the ranking here
    state = cal.state()
    assert state["bounded_refit"] is True and state["temperature"] == cal.fitted_params()["temperature"] > 0
    q = queries()
    loaded = roundtrip(cal)
    assert loaded.fitted_params() == cal.fitted_params()
    assert np.max(np.abs(loaded.transform(q) - cal.transform(q))) <= 1e-12
    x = prepare(q)
    assert np.allclose(loaded.transform(q), 1 / (1 + np.exp(-_logit(x) / state["temperature"])), rtol=0, atol=1e-12)


def test_temperature_state_and_reported_t_agree():
    from plugins.calibrators.temperature import TemperatureScaling

    p, y = synthetic("over", 3000, seed=0)
    cal = TemperatureScaling().fit(p, y)
    state = cal.state()
    assert state["bounded_refit"] is False
    assert state["temperature"] == pytest.approx(3.0, abs=0.3) == cal.fitted_params()["temperature"]
    assert state["temperature"] == 1.0 / float(cal.model.temperature[0])


@pytest.mark.parametrize("bad", [0.0, -1.5, float("inf"), float("nan"), True])
def test_temperature_rejects_a_non_positive_temperature(bad):
    from plugins.calibrators.temperature import TemperatureScaling

    with pytest.raises(ValueError, match="'temperature'"):
        TemperatureScaling().load_state({"temperature": bad, "bounded_refit": False})


def test_histogram_state_must_match_the_configured_bins():
    from plugins.calibrators.histogram_binning import HistogramBinning

    p, y = synthetic("over", 300, seed=2)
    state = HistogramBinning(HistogramBinning.Config(bins=10)).fit(p, y).state()
    assert len(state["edges"]) == 11 and len(state["values"]) == 10
    with pytest.raises(ValueError, match="'edges'"):
        HistogramBinning(HistogramBinning.Config(bins=5)).load_state(state)
    with pytest.raises(ValueError, match="'values'"):
        HistogramBinning(HistogramBinning.Config(bins=10)).load_state({**state, "values": [0.5] * 9})
    with pytest.raises(ValueError, match="'values'"):
        HistogramBinning(HistogramBinning.Config(bins=10)).load_state({**state, "values": [1.5] * 10})
    with pytest.raises(ValueError, match="'edges'"):
        HistogramBinning(HistogramBinning.Config(bins=10)).load_state({**state, "edges": state["edges"][::-1]})


def test_histogram_state_holds_the_bin_frequencies():
    from plugins.calibrators.histogram_binning import HistogramBinning

    # as in test_calibrators: bin [0, .5) -> 2/3, bin [.5, 1] -> 1/2
    cal = HistogramBinning(HistogramBinning.Config(bins=2)).fit(np.array([0.1, 0.2, 0.3, 0.6, 0.9]),
                                                                np.array([0, 1, 1, 0, 1]))
    state = cal.state()
    assert state["edges"] == [0.0, 0.5, 1.0] and state["values"] == pytest.approx([2 / 3, 1 / 2])


def test_isotonic_state_checks_its_knots():
    from plugins.calibrators.isotonic import IsotonicCalibration

    p, y = synthetic("over", 300, seed=4)
    state = IsotonicCalibration().fit(p, y).state()
    assert len(state["x_thresholds"]) == len(state["y_thresholds"]) >= 2
    with pytest.raises(ValueError, match="'x_thresholds'"):
        IsotonicCalibration().load_state({**state, "x_thresholds": state["x_thresholds"][::-1]})
    with pytest.raises(ValueError, match="'y_thresholds'"):
        IsotonicCalibration().load_state({**state, "y_thresholds": state["y_thresholds"][:-1]})
    with pytest.raises(ValueError, match="'y_thresholds'"):
        IsotonicCalibration().load_state({**state, "y_thresholds": [1.0] + state["y_thresholds"][1:-1] + [0.0]})


def test_isotonic_single_knot_is_constant():
    from plugins.calibrators.isotonic import IsotonicCalibration

    cal = IsotonicCalibration().load_state({"x_thresholds": [0.3], "y_thresholds": [0.25]})
    assert cal.transform(np.array([0.0, 0.3, 1.0])).tolist() == [0.25, 0.25, 0.25]


def test_identity_state_is_empty():
    from plugins.calibrators.none import Identity

    assert Identity().fit(np.array([0.2]), np.array([1])).state() == {}
    assert Identity().load_state({}).transform(np.array([0.2, 1.3])).tolist() == [0.2, 1.0]
