"""Metrics against values worked out by hand on tiny arrays; calibration helpers cross-checked with netcal."""
import importlib
import math

import numpy as np
import pytest

from harness.stats import bootstrap_ci
from plugins.metrics._calibration import calibration_error, reliability_bins
from plugins.metrics.auroc import AUROC
from plugins.metrics.ece import ECE
from plugins.metrics.ece_pos import PositiveClassECE
from plugins.metrics.mce import MCE
from plugins.metrics.pr_auc import PRAUC

# At t = 0.5: predictions 1 1 1 0 0 0 -> TP 2 (0.9, 0.6), FP 1 (0.8), FN 1 (0.3), TN 2 (0.2, 0.1).
Y = np.array([1, 0, 1, 1, 0, 0])
P = np.array([0.9, 0.8, 0.6, 0.3, 0.2, 0.1])

METRIC_MODULES = ["auroc", "pr_auc", "accuracy", "balanced_accuracy", "precision", "recall", "specificity",
                  "fpr", "npv", "f1", "tp", "fp", "tn", "fn", "ece", "ece_pos", "mce", "brier", "nll"]


def metrics():
    found = {}
    for module in METRIC_MODULES:
        mod = importlib.import_module(f"plugins.metrics.{module}")
        mod.register_metrics(register=lambda name, cls: found.setdefault(name, cls))
    return found


def test_every_module_registers_its_name_with_a_direction():
    found = metrics()
    assert sorted(found) == sorted(METRIC_MODULES)
    minimised = {name for name, cls in found.items() if cls.direction == "min"}
    assert minimised == {"fpr", "ece", "ece_pos", "mce", "brier", "nll"}
    counts = {name for name, cls in found.items() if cls.family == "count"}
    assert counts == {"tp", "fp", "tn", "fn"}
    assert all(cls.direction is None for name, cls in found.items() if name in counts)
    assert {n for n, c in found.items() if c.family == "ranking"} == {"auroc", "pr_auc"}
    assert {n for n, c in found.items() if c.family == "calibration"} == {"ece", "ece_pos", "mce", "brier", "nll"}
    assert all(cls.describe() for cls in found.values())


@pytest.mark.parametrize("name, expected", [
    ("accuracy", 4 / 6), ("balanced_accuracy", 2 / 3), ("precision", 2 / 3), ("recall", 2 / 3),
    ("specificity", 2 / 3), ("fpr", 1 / 3), ("npv", 2 / 3), ("f1", 2 / 3),
    ("tp", 2), ("fp", 1), ("tn", 2), ("fn", 1),
    # positive scores .9 .6 .3 vs negatives .8 .2 .1: 3 + 2 + 2 of 9 pairs ranked right
    ("auroc", 7 / 9),
    # ranking .9(+) .8(-) .6(+) .3(+): precision at each positive 1, 2/3, 3/4 -> mean 29/36
    ("pr_auc", 29 / 36),
    # squared errors .01 .64 .16 .49 .04 .01 -> 1.35 / 6
    ("brier", 0.225),
    ("nll", -(math.log(.9) + math.log(.2) + math.log(.6) + math.log(.3) + math.log(.8) + math.log(.9)) / 6),
])
def test_hand_values(name, expected):
    value = metrics()[name]()(Y, P, 0.5)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, abs=1e-12)


def test_threshold_is_inclusive():
    # at t = 0.6 the score 0.6 is predicted positive, so TP stays 2 and FP 1
    m = metrics()
    assert (m["tp"]()(Y, P, 0.6), m["fp"]()(Y, P, 0.6)) == (2.0, 1.0)
    assert m["tp"]()(Y, P, 0.61) == 1.0


def test_pr_auc_scores_the_positive_class_label_1():
    # swapping roles (1 - y, 1 - p) gives the negative class's AP: ranking .9(+) .8(+) .7(-) .4(-) .2(+)
    # -> precisions 1, 1, 3/5 -> 13/15, which must differ from the positive class's 29/36
    assert PRAUC()(1 - Y, 1 - P, 0.5) == pytest.approx(13 / 15)
    assert PRAUC()(Y, P, 0.5) == pytest.approx(29 / 36)


def test_degenerate_cases():
    m = metrics()
    one_class = np.zeros(6, dtype=int)
    assert math.isnan(m["auroc"]()(one_class, P, 0.5))
    assert math.isnan(m["pr_auc"]()(one_class, P, 0.5))
    assert math.isnan(m["recall"]()(one_class, P, 0.5))  # no positives: undefined, not 0
    assert math.isnan(m["specificity"]()(np.ones(6, dtype=int), P, 0.5))
    assert m["precision"]()(Y, P, 0.95) == 0.0  # nothing predicted positive
    assert m["npv"]()(Y, P, 0.0) == 0.0  # nothing predicted negative
    assert m["f1"]()(Y, P, 0.95) == 0.0
    assert [m[k]()(Y, P, 0.95) for k in ("tp", "fp", "tn", "fn")] == [0.0, 0.0, 3.0, 3.0]
    assert math.isfinite(m["nll"]()(np.array([0, 1]), np.array([1.0, 0.0]), 0.5))  # clipped, not inf
    assert m["brier"]()(one_class, P, 0.5) == pytest.approx((.81 + .64 + .36 + .09 + .04 + .01) / 6)


def test_float32_and_column_inputs():
    m = metrics()
    p = P + 0.013  # off the 15-bin edges (.8 = 12/15), which float32 rounding could cross
    for name in ("auroc", "brier", "ece", "accuracy"):
        a = m[name]()(Y, p, 0.5)
        column32 = p.astype(np.float32).reshape(-1, 1)
        assert m[name]()(Y.reshape(-1, 1), column32, 0.5) == pytest.approx(a, abs=1e-6)
    with pytest.raises(ValueError, match="differ in length"):
        m["auroc"]()(Y, P[:-1], 0.5)


# ---- calibration errors ------------------------------------------------------------------------
# Eight cases, 5 equal-width bins [0,.2) [.2,.4) [.4,.6) [.6,.8) [.8,1].
CP = np.array([0.05, 0.15, 0.3, 0.55, 0.65, 0.72, 0.85, 0.95])
CY = np.array([0, 1, 0, 1, 0, 1, 1, 1])
# Positive-class form (p vs frequency of y = 1), per bin |freq - mean p| * n_b / 8:
#   bin0 {.05:0, .15:1}  |.5 - .10|   * 2/8 = .1
#   bin1 {.3:0}          |0 - .3|     * 1/8 = .0375
#   bin2 {.55:1}         |1 - .55|    * 1/8 = .05625
#   bin3 {.65:0, .72:1}  |.5 - .685|  * 2/8 = .04625
#   bin4 {.85:1, .95:1}  |1 - .9|     * 2/8 = .025        -> ECE_pos = .265
ECE_POS = 0.265
# Top-label form: confidence max(p, 1-p), predicted class p >= .5, outcome = prediction correct:
#   p    .05 .15 .3  .55 .65 .72 .85 .95
#   conf .95 .85 .7  .55 .65 .72 .85 .95
#   hit   1   0   1   1   0   1   1   1
#   bin2 {.55:1}                 |1 - .55|       * 1/8 = .05625
#   bin3 {.7:1, .65:0, .72:1}    |2/3 - 2.07/3|  * 3/8 = .00875
#   bin4 {.95:1,.85:0,.85:1,.95:1} |.75 - .9|    * 4/8 = .075   -> ECE_top = .14, MCE_top = .45
ECE_TOP, MCE_TOP = 0.14, 0.45
# Equal mass, 2 bins: the inner edge is the median score.
#   positive: edge (.55 + .65)/2 = .6; {.05 .15 .3 .55}: |.5 - .2625| * 4/8 = .11875;
#             {.65 .72 .85 .95}: |.75 - .7925| * 4/8 = .02125 -> .14
#   top-label: edge (.72 + .85)/2; {.55 .65 .7 .72}: |.75 - .655| * 4/8 = .0475;
#              {.85 .85 .95 .95}: |.75 - .9| * 4/8 = .075 -> .1225
EM_POS, EM_TOP = 0.14, 0.1225


def test_ece_forms_by_hand():
    five = ECE.Config(bins=5)
    assert ECE(five)(CY, CP, 0.5) == pytest.approx(ECE_TOP, abs=1e-12)
    assert PositiveClassECE(PositiveClassECE.Config(bins=5))(CY, CP, 0.5) == pytest.approx(ECE_POS, abs=1e-12)
    assert MCE(MCE.Config(bins=5))(CY, CP, 0.5) == pytest.approx(MCE_TOP, abs=1e-12)
    # top-label uses the argmax, not the decision threshold
    assert ECE(five)(CY, CP, 0.9) == ECE(five)(CY, CP, 0.1)


def test_ece_equal_mass_by_hand():
    assert ECE(ECE.Config(bins=2, binning="equal_mass"))(CY, CP, 0.5) == pytest.approx(EM_TOP, abs=1e-12)
    cfg = PositiveClassECE.Config(bins=2, binning="equal_mass")
    assert PositiveClassECE(cfg)(CY, CP, 0.5) == pytest.approx(EM_POS, abs=1e-12)


def test_equal_mass_with_tied_scores():
    # netcal 1.4.0 raises on this input (coinciding quantile edges). Edges are [0, .2, .2, 1]; the
    # zero-width bin stays empty and all six scores share [.2, 1]: |3/6 - (5*.2 + .9)/6| = .18333
    p = np.array([0.2] * 5 + [0.9])
    y = np.array([0, 1, 0, 1, 0, 1])
    assert calibration_error(y, p, 3, "equal_mass", "positive") == pytest.approx(0.5 - 1.9 / 6)
    rb = reliability_bins(y, p, 3, "equal_mass", "positive")
    assert rb["count"].tolist() == [0, 0, 6]


def test_default_config_and_validation():
    assert ECE.Config() == ECE.Config(bins=15, binning="equal_width")
    with pytest.raises(ValueError):
        ECE.Config(bins=0)


def test_reliability_bins_shape_and_values():
    rb = reliability_bins(CY, CP, bins=5, form="top_label")
    assert rb["edges"] == pytest.approx(np.linspace(0, 1, 6))
    assert rb["count"].tolist() == [0, 0, 1, 3, 4]
    assert rb["accuracy"][2:] == pytest.approx([1, 2 / 3, 0.75])
    assert rb["confidence"][2:] == pytest.approx([0.55, 0.69, 0.9])
    assert np.isnan(rb["accuracy"][:2]).all()
    assert (rb["ece"], rb["mce"]) == (pytest.approx(ECE_TOP), pytest.approx(MCE_TOP))
    assert reliability_bins(CY, CP, bins=5, form="positive")["ece"] == pytest.approx(ECE_POS)


@pytest.mark.parametrize("form", ["top_label", "positive"])
@pytest.mark.parametrize("bins", [10, 15])
def test_numpy_binning_matches_netcal_on_tie_free_scores(form, bins):
    from netcal.metrics import ECE as NetcalECE

    rng = np.random.default_rng(1)
    p = rng.random(500)
    y = (rng.random(500) < p ** 1.5).astype(int)
    conf, hit = (np.maximum(p, 1 - p), ((p >= 0.5) == y).astype(int)) if form == "top_label" else (p, y)
    for binning, equal in (("equal_width", True), ("equal_mass", False)):
        expected = NetcalECE(bins, equal_intervals=equal).measure(conf, hit)
        assert reliability_bins(y, p, bins, binning, form)["ece"] == pytest.approx(expected, abs=1e-12)
        if binning == "equal_mass":
            # equal-width calibration_error *is* netcal, so comparing it with netcal would prove nothing;
            # its values are checked by hand in test_ece_forms_by_hand and tests/unit/test_boundaries.py
            assert calibration_error(y, p, bins, binning, form) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_ci():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(30, int), np.zeros(170, int)]
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    auc = AUROC()(y, p, 0.5)
    fn = lambda yy, pp: AUROC()(yy, pp, 0.5)  # noqa: E731
    low, high = bootstrap_ci(y, p, fn, n_boot=150, seed=3)
    assert low < auc < high and high - low < 0.3
    assert bootstrap_ci(y, p, fn, n_boot=150, seed=3) == (low, high)  # seeded
    # one positive in twenty: many resamples lack it; they are skipped, so the interval is finite
    y1 = np.r_[1, np.zeros(19, int)]
    low1, high1 = bootstrap_ci(y1, np.linspace(1, 0, 20), fn, n_boot=200)
    assert 0.0 <= low1 <= high1 <= 1.0
    assert bootstrap_ci(y, p, lambda yy, pp: 0.5, n_boot=50) == (0.5, 0.5)
    with pytest.raises(ValueError):
        bootstrap_ci(y, p, fn, alpha=1.5)


def test_bootstrap_ci_vectorised_rows_draw_the_same_resamples_as_the_scalar_form():
    """``rows=`` scores a chunk of resamples at once; the interval is the scalar form's, skipped
    one-class resamples included (50 of 20 cases with one positive: many lack it)."""
    from harness.plugins import get_registry

    rng = np.random.default_rng(1)
    y = np.r_[np.ones(40, int), np.zeros(160, int)]
    p = np.round(np.clip(0.25 * y + rng.random(200) * 0.75, 0, 1), 2)  # ties, as real scores have
    y1, p1 = np.r_[1, np.zeros(19, int)], np.linspace(1, 0, 20)
    for name in ("auroc", "accuracy", "balanced_accuracy", "recall"):
        m = get_registry("metrics").get(name)()
        for yy, pp in ((y, p), (y1, p1)):
            scalar = bootstrap_ci(yy, pp, lambda a, b: m(a, b, 0.5), n_boot=120, seed=5, chunk=50)
            rows = bootstrap_ci(yy, pp, lambda a, b: m(a, b, 0.5), n_boot=120, seed=5, chunk=50,
                                rows=lambda a, b: m.rows(a, b, 0.5))
            assert rows == pytest.approx(scalar, abs=1e-12), name
    # a different seed draws other resamples: the equality above is not two constant answers
    m = get_registry("metrics").get("auroc")()
    assert bootstrap_ci(y, p, None, n_boot=300, seed=6, rows=lambda a, b: m.rows(a, b, 0.5)) != \
        bootstrap_ci(y, p, None, n_boot=300, seed=5, rows=lambda a, b: m.rows(a, b, 0.5))


def test_top_label_argmax_at_one_half_is_the_positive_class():
    """p = 0.5 exactly predicts positive (``p >= 0.5``), as the decision rule at the default threshold does.

    One bin: confidences 0.5 and 0.9 (mean 0.7); both samples are positive, so both argmax
    predictions are right (accuracy 1, ECE 0.3). Calling 0.5 negative would give accuracy 0.5, ECE 0.2.
    """
    y, p = np.array([1, 1]), np.array([0.5, 0.9])
    assert ECE(ECE.Config(bins=1))(y, p, 0.5) == pytest.approx(0.3, abs=1e-12)
    assert MCE(MCE.Config(bins=1))(y, p, 0.5) == pytest.approx(0.3, abs=1e-12)
    rb = reliability_bins(y, p, bins=1)
    assert rb["accuracy"][0] == 1.0 and rb["ece"] == pytest.approx(0.3, abs=1e-12)
    # a negative at p = 0.5 is a wrong positive call
    assert reliability_bins(np.array([0, 1]), p, bins=1)["accuracy"][0] == 0.5


def test_reliability_bins_keep_every_bin_and_pin_outer_edges():
    """Empty upper bins still have entries (NaN accuracy, count 0); equal-mass edges start at 0, end at 1."""
    y, p = np.array([1, 0, 1]), np.array([0.6, 0.55, 0.7])  # top-label confidences all below 0.75
    rb = reliability_bins(y, p, bins=4)
    assert len(rb["accuracy"]) == len(rb["confidence"]) == len(rb["count"]) == 4
    assert list(rb["count"]) == [0, 0, 3, 0] and math.isnan(rb["accuracy"][3])
    em = reliability_bins(y, p, bins=2, binning="equal_mass")
    assert em["edges"][0] == 0.0 and em["edges"][-1] == 1.0 and list(em["count"]) == [1, 2]


def test_mce_uses_its_binning():
    cfg = MCE.Config(bins=2, binning="equal_mass")
    assert MCE(cfg)(CY, CP, 0.5) == pytest.approx(calibration_error(CY, CP, 2, "equal_mass", reduce="max"))
    assert MCE(cfg)(CY, CP, 0.5) != pytest.approx(MCE(MCE.Config(bins=2))(CY, CP, 0.5))


def test_threshold_metric_rows_on_one_class_rows_match_the_scalar_form():
    """Bootstrap resamples can hold one class: the per-row forms give what the metric gives."""
    import warnings

    import numpy as np

    from harness import get_registry

    y = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1]])
    p = np.array([[0.1, 0.7, 0.2, 0.9], [0.1, 0.7, 0.2, 0.9], [0.1, 0.7, 0.2, 0.9]])
    for name in ("recall", "fpr", "balanced_accuracy", "specificity", "auroc", "ece"):
        m = get_registry("metrics").get(name)()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = [m(y[i], p[i], 0.5) for i in range(3)]
        np.testing.assert_allclose(m.rows(y, p, 0.5), want, rtol=0, atol=1e-12, err_msg=name)
