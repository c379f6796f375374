"""Calibrators on synthetic over-confident scores: labels drawn from sigmoid(z), scores sigmoid(3 z)."""
import importlib

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from plugins.calibrators.beta import BetaCalibration
from plugins.calibrators.histogram_binning import HistogramBinning
from plugins.calibrators.isotonic import IsotonicCalibration
from plugins.calibrators.none import Identity
from plugins.calibrators.platt import PlattScaling
from plugins.calibrators.temperature import TemperatureScaling
from plugins.metrics._calibration import calibration_error

FITTED = [TemperatureScaling, PlattScaling, IsotonicCalibration, HistogramBinning, BetaCalibration]


def overconfident(n, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return 1 / (1 + np.exp(-3 * z)), y  # the true temperature is 3


@pytest.fixture(scope="module")
def data():
    return overconfident(3000, 0), overconfident(3000, 1)


@pytest.mark.parametrize("cls", FITTED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_calibrator_fixes_overconfidence(cls, dtype, data):
    (p_val, y_val), (p_test, y_test) = data
    cal = cls().fit(p_val.astype(dtype), y_val)
    q = cal.transform(p_test.astype(dtype))
    assert q.dtype == np.float64 and q.shape == p_test.shape
    assert q.min() >= 0.0 and q.max() <= 1.0
    assert np.abs(q - p_test).mean() > 0.02  # really moved
    before = calibration_error(y_test, p_test)
    assert before > 0.1
    assert calibration_error(y_test, q) < 0.35 * before
    before_pos = calibration_error(y_test, p_test, form="positive")
    assert calibration_error(y_test, q, form="positive") < 0.35 * before_pos


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_temperature_recovers_three(dtype, data):
    # float32 matters: netcal's MLE would stay at its start (T = 1) without the float64 cast
    (p_val, y_val), _ = data
    cal = TemperatureScaling().fit(p_val.astype(dtype), y_val)
    assert cal.fitted_params()["temperature"] == pytest.approx(3.0, abs=0.3)
    # the map is sigmoid(logit(p) / T)
    t = cal.fitted_params()["temperature"]
    x = np.array([0.1, 0.5, 0.97])
    expected = 1 / (1 + np.exp(-np.log(x / (1 - x)) / t))
    assert cal.transform(x) == pytest.approx(expected, abs=1e-6)


def test_platt_and_beta_parameters(data):
    (p_val, y_val), _ = data
    platt = PlattScaling().fit(p_val, y_val).fitted_params()
    assert platt["slope"] == pytest.approx(1 / 3, abs=0.05) and abs(platt["intercept"]) < 0.15
    # with a = b beta calibration is a logit scaling, so both approach 1/3 here
    beta = BetaCalibration().fit(p_val, y_val).fitted_params()
    assert beta["a"] == pytest.approx(1 / 3, abs=0.06) and beta["b"] == pytest.approx(1 / 3, abs=0.06)
    assert set(beta) == {"a", "b", "c"}


@pytest.mark.parametrize("cls, tol", [
    (TemperatureScaling, 1e-3), (PlattScaling, 1e-3), (BetaCalibration, 1e-3),
    (IsotonicCalibration, 0.01),  # piecewise constant: ties cost a little AUROC
])
def test_monotone_calibrators_keep_auroc(cls, tol, data):
    (p_val, y_val), (p_test, y_test) = data
    q = cls().fit(p_val, y_val).transform(p_test)
    assert roc_auc_score(y_test, q) == pytest.approx(roc_auc_score(y_test, p_test), abs=tol)


def test_identity(data):
    (p_val, y_val), _ = data
    cal = Identity().fit(p_val, y_val)
    assert np.array_equal(cal.transform(p_val), p_val) and cal.fitted_params() == {}
    assert cal.transform(np.array([-0.1, 1.2])).tolist() == [0.0, 1.0]


def test_histogram_binning_outputs_bin_frequencies():
    # 2 bins: [0, .5) holds 0.1 (y 0), 0.2 (y 1), 0.3 (y 1) -> 2/3; [.5, 1] holds 0.6, 0.9 (y 0, 1) -> 1/2
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.9])
    y = np.array([0, 1, 1, 0, 1])
    cal = HistogramBinning(HistogramBinning.Config(bins=2)).fit(p, y)
    assert cal.transform(np.array([0.05, 0.4, 0.7])) == pytest.approx([2 / 3, 2 / 3, 0.5])
    with pytest.raises(ValueError):
        HistogramBinning.Config(bins=0)


@pytest.mark.parametrize("cls", FITTED)
def test_transform_before_fit_is_an_error(cls):
    with pytest.raises(RuntimeError, match="before fit"):
        cls().transform(np.array([0.5]))


def test_registered_names():
    names = {}
    for module in ("none", "temperature", "platt", "isotonic", "histogram_binning", "beta"):
        mod = importlib.import_module(f"plugins.calibrators.{module}")
        mod.register_calibrators(register=lambda name, cls: names.setdefault(name, cls))
    assert names == {"none": Identity, "temperature": TemperatureScaling, "platt": PlattScaling,
                     "isotonic": IsotonicCalibration, "histogram_binning": HistogramBinning,
                     "beta": BetaCalibration}


def test_temperature_stays_positive_and_keeps_ranking_when_val_is_anti_correlated():
    """netcal's unconstrained MLE fits a negative multiplier here, which would flip the ranking."""
    from sklearn.metrics import roc_auc_score

    from plugins.calibrators.temperature import TemperatureScaling

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.7 - 0.4 * y + rng.normal(0, 0.15, 400), 0.01, 0.99)  # worse than chance on val
    cal = TemperatureScaling().fit(p, y)
    t = cal.fitted_params()["temperature"]
    assert t > 0
    q = cal.transform(p)
    assert np.isclose(roc_auc_score(y, q), roc_auc_score(y, p))
    assert np.all(np.diff(q[np.argsort(p)]) >= -1e-12)  # monotone increasing in p
