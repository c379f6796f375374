"""Calibrators must correct miscalibration in either direction, not just soften scores.

The over-confident case alone cannot tell a calibrator from "always shrink towards 0.5"; the
under-confident case beside it can. Data: labels drawn from sigmoid(z); scores sigmoid(k z) with
k = 3 (over-confident, true temperature T = 3) or k = 1/2 (under-confident, T = 1/2).
"""
import numpy as np
import pytest

from harness import get_registry

FITTED = [n for n in get_registry("calibrators").names() if n != "none"]


def scores(k, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return 1 / (1 + np.exp(-k * z)), y


CASES = {"over": 3.0, "under": 0.5}


@pytest.fixture(scope="module")
def data():
    return {case: (scores(k, 3000, 0), scores(k, 3000, 1)) for case, k in CASES.items()}


def calibrator(name):
    cls = get_registry("calibrators").get(name)
    return cls(cls.Config())


def ece(y, p):
    return get_registry("metrics").get("ece")()(y, p, 0.5)


@pytest.mark.parametrize("case, expected", [("over", 3.0), ("under", 0.5)])
def test_temperature_direction(data, case, expected):
    (p_val, y_val), _ = data[case]
    t = calibrator("temperature").fit(p_val, y_val).fitted_params()["temperature"]
    assert (t > 1) if case == "over" else (t < 1)
    assert t == pytest.approx(expected, rel=0.15)


def test_under_confident_scores_are_sharpened(data):
    # T < 1 pushes scores away from 0.5: sigmoid(logit(p) / T)
    (p_val, y_val), _ = data["under"]
    cal = calibrator("temperature").fit(p_val, y_val)
    x = np.array([0.2, 0.4, 0.6, 0.8])
    q = cal.transform(x)
    assert np.all(np.abs(q - 0.5) > np.abs(x - 0.5))
    assert cal.transform(np.array([0.5]))[0] == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", FITTED)
def test_every_calibrator_reduces_ece_both_ways(data, name, case):
    (p_val, y_val), (p_test, y_test) = data[case]
    before = ece(y_test, p_test)
    assert before > 0.08, "the synthetic scores must start clearly miscalibrated"
    after = ece(y_test, calibrator(name).fit(p_val, y_val).transform(p_test))
    assert after < 0.5 * before, f"{name} on {case}-confident scores: ECE {before:.3f} -> {after:.3f}"


def test_platt_slope_direction(data):
    # Platt's slope on the logit is 1 / T: below 1 for over-confident scores, above 1 for under-confident
    over = calibrator("platt").fit(*data["over"][0]).fitted_params()["slope"]
    under = calibrator("platt").fit(*data["under"][0]).fitted_params()["slope"]
    assert over == pytest.approx(1 / 3, rel=0.15) and under == pytest.approx(2.0, rel=0.15)
