"""Boundary cases where an off-by-one comparison changes the answer, with hand-worked expected values.

Each test here exists to catch a specific one-character bug that the looser tests let through:

* ``fpr <= target`` written as ``fpr < target`` in ``target_fpr`` (a target the val ROC reaches exactly);
* ``tpr >= target`` written as ``tpr > target`` in ``target_tpr``;
* ``p >= 0.5`` written as ``p > 0.5`` in the top-label rule of ``ece`` / ``mce``, and ``p >= threshold``
  written as ``p > threshold`` in the thresholded metrics;
* a change of bin-edge side in ``ece`` / ``ece_pos`` (equal-width bins, 15 by default).

Everything goes through the registries (``get_registry(kind).get(name)``), not module paths, so the
tests survive the core moving code around. Expected values are worked out by hand in the comments,
never by a second call into netcal or sklearn.
"""
import numpy as np
import pytest

from harness import get_registry


def selector(name, **options):
    cls = get_registry("threshold-selectors").get(name)
    return cls(cls.Config(**options))


def metric(name, **options):
    cls = get_registry("metrics").get(name)
    return cls(cls.Config(**options)) if options else cls()


# ---- target-FPR / target-TPR at exactly achievable rates -------------------------------------------
# 4 positives, 4 negatives, so every rate is a multiple of 1/4 (exact in binary floating point, and
# sklearn's fps / fps[-1] gives exactly 0.25, 0.5, ...). Predicting positive iff p >= t:
#   score  label   t = score:  TP FP  TPR   FPR
#   0.9     +                   1  0  0.25  0.00
#   0.8     -                   1  1  0.25  0.25
#   0.7     +                   2  1  0.50  0.25
#   0.6     +                   3  1  0.75  0.25
#   0.5     -                   3  2  0.75  0.50
#   0.4     +                   4  2  1.00  0.50
#   0.3     -                   4  3  1.00  0.75
#   0.2     -                   4  4  1.00  1.00
P = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
Y = np.array([1, 0, 1, 1, 0, 1, 0, 0])


@pytest.mark.parametrize("target, threshold, tpr, fpr", [
    # FPR <= 0.25 allows t = 0.8, 0.7, 0.6; the best TPR among them is 0.75 at t = 0.6, where the FPR
    # is exactly the target. `fpr < target` would leave only FPR 0 (t = 0.9, TPR 0.25).
    (0.25, 0.6, 0.75, 0.25),
    # FPR <= 0.5: TPR 1.0 at t = 0.4 with FPR exactly 0.5 (`<` would stop at t = 0.6, TPR 0.75)
    (0.5, 0.4, 1.0, 0.5),
    # FPR <= 0.75: TPR 1.0 is first reached at t = 0.4 (FPR 0.5); t = 0.3 ties on TPR at a higher FPR
    (0.75, 0.4, 1.0, 0.5),
    # a target between achievable rates: FPR 0.25 is the most allowed
    (0.3, 0.6, 0.75, 0.25),
])
def test_target_fpr_at_exactly_achievable_rate(target, threshold, tpr, fpr):
    t = selector("target_fpr", target=target).select(P, Y)
    assert t == threshold
    assert metric("recall")(Y, P, t) == tpr
    assert metric("fpr")(Y, P, t) == fpr
    assert fpr <= target


@pytest.mark.parametrize("target, threshold, tpr, fpr", [
    # the largest threshold with TPR >= target; each target below is reached exactly.
    # `tpr > target` would move one step down the table: 0.9 -> 0.7, 0.7 -> 0.6, 0.6 -> 0.4
    (0.25, 0.9, 0.25, 0.0),
    (0.5, 0.7, 0.5, 0.25),
    (0.75, 0.6, 0.75, 0.25),
    # a target between achievable rates: 0.75 is the first TPR above 0.6
    (0.6, 0.6, 0.75, 0.25),
])
def test_target_tpr_at_exactly_achievable_rate(target, threshold, tpr, fpr):
    t = selector("target_tpr", target=target).select(P, Y)
    assert t == threshold
    assert metric("recall")(Y, P, t) == tpr
    assert metric("fpr")(Y, P, t) == fpr
    assert tpr >= target


def test_selected_threshold_reproduces_rate_with_float32_scores():
    # the operating point must survive the scores being float32 (as saved predictions are)
    p32 = P.astype(np.float32)
    t = selector("target_fpr", target=0.25).select(p32, Y)
    assert metric("fpr")(Y, p32, t) == 0.25 and metric("recall")(Y, p32, t) == 0.75
    t = selector("target_tpr", target=0.75).select(p32, Y)
    assert metric("fpr")(Y, p32, t) == 0.25 and metric("recall")(Y, p32, t) == 0.75


# ---- the decision rule at p == threshold ------------------------------------------------------------
# Thresholded metrics predict positive iff p >= threshold, so a score equal to the threshold is positive.
# Three cases at p = 0.5 exactly (labels 1, 0, 1) and one clear negative (0.2, label 0):
#   predicted 1 1 1 0 -> TP 2, FP 1, TN 1, FN 0; accuracy 3/4.
# With `p > threshold` all of the 0.5s would be negative: TP 0, FP 0, TN 2, FN 2; accuracy 1/2.
HALF_P = np.array([0.5, 0.5, 0.5, 0.2])
HALF_Y = np.array([1, 0, 1, 0])


@pytest.mark.parametrize("name, expected", [
    ("tp", 2.0), ("fp", 1.0), ("tn", 1.0), ("fn", 0.0),
    ("accuracy", 0.75), ("recall", 1.0), ("specificity", 0.5), ("fpr", 0.5), ("precision", 2 / 3),
    ("npv", 1.0), ("f1", 0.8), ("balanced_accuracy", 0.75),
])
def test_score_equal_to_threshold_is_predicted_positive(name, expected):
    assert metric(name)(HALF_Y, HALF_P, 0.5) == pytest.approx(expected, abs=1e-15)


# Top-label ECE takes the argmax class: positive iff p >= 0.5 (so p = 0.5 is a positive prediction),
# whatever the decision threshold; confidence max(p, 1 - p). 15 equal-width bins; bin 7 is
# [7/15, 8/15) = [.4667, .5333).
#   case       p     y   pred  conf  correct
#   A          0.50  1   1     0.50  1
#   B          0.52  1   1     0.52  1
#   -> one bin: accuracy 1, mean confidence 0.51, ECE = MCE = |1 - 0.51| = 0.49.
# With `p > 0.5`, A is predicted negative and wrong: accuracy 1/2, ECE = |0.5 - 0.51| = 0.01.
# The mirror case shows the rule is not "whichever is right":
#   C          0.50  0   1     0.50  0
#   D          0.48  0   0     0.52  1
#   -> accuracy 1/2, confidence 0.51, ECE 0.01 (with `p > 0.5`: accuracy 1, ECE 0.49).
@pytest.mark.parametrize("name", ["ece", "mce"])
def test_top_label_rule_counts_half_as_positive(name):
    m = metric(name)
    assert m(np.array([1, 1]), np.array([0.5, 0.52]), 0.5) == pytest.approx(0.49, abs=1e-12)
    assert m(np.array([0, 0]), np.array([0.5, 0.48]), 0.5) == pytest.approx(0.01, abs=1e-12)
    # the decision threshold does not move the argmax rule
    assert m(np.array([1, 1]), np.array([0.5, 0.52]), 0.9) == pytest.approx(0.49, abs=1e-12)
    assert m(np.array([0, 0]), np.array([0.5, 0.48]), 0.1) == pytest.approx(0.01, abs=1e-12)


def test_top_label_single_case_at_half():
    # one case at p = 0.5: predicted positive with confidence 0.5; right iff y = 1. Either way the gap
    # is 0.5, which is why the pairs above are needed to see the rule at all.
    for y in (0, 1):
        assert metric("ece")(np.array([y]), np.array([0.5]), 0.5) == pytest.approx(0.5, abs=1e-12)


# ---- bin edges ----------------------------------------------------------------------------------------
# Convention checked here: equal-width bins are [lo, hi) (a score on an inner edge belongs to the
# UPPER bin; 1.0 is in the last bin), i.e. netcal's / scipy.binned_statistic_dd's rule, which the
# harness's own equal-mass binning copies. With 15 bins the edges are k/15, and 0.4 = 6/15,
# 0.6 = 9/15, 0.8 = 12/15 are exactly representable edges (np.linspace(0, 1, 16)[k] == k / 15).
#
# Top-label form, 15 bins: bin 8 = [8/15, 9/15) = [.5333, .6), bin 9 = [.6, .6667).
#   p     y   pred  conf  correct
#   0.60  1   1     0.60  1        conf on the edge 9/15
#   0.40  1   0     0.60  0        conf = 1 - 0.4, also exactly on the edge
#   0.65  1   1     0.65  1        bin 9 under either convention
#   0.55  0   1     0.55  0        bin 8 under either convention
# [lo, hi): bin 8 {.55}: |0 - .55| * 1/4 = .1375; bin 9 {.6, .6, .65}: |2/3 - 1.85/3| * 3/4 = .0375
#           -> ECE = 0.175
# (lo, hi]: bin 8 {.6, .6, .55}: |1/3 - 1.75/3| * 3/4 = .1875; bin 9 {.65}: |1 - .65| * 1/4 = .0875
#           -> ECE = 0.275
EDGE_TOP_P = np.array([0.6, 0.4, 0.65, 0.55])
EDGE_TOP_Y = np.array([1, 1, 1, 0])

# Positive-class form, 15 bins: bin 5 = [5/15, 6/15) = [.3333, .4), bin 6 = [.4, .4667).
#   p     y
#   0.40  1        on the edge 6/15
#   0.40  0        on the edge 6/15
#   0.45  0        bin 6 under either convention
#   0.35  1        bin 5 under either convention
# [lo, hi): bin 5 {.35}: |1 - .35| * 1/4 = .1625; bin 6 {.4, .4, .45}: |1/3 - 1.25/3| * 3/4 = .0625
#           -> ECE_pos = 0.225
# (lo, hi]: bin 5 {.4, .4, .35}: |2/3 - 1.15/3| * 3/4 = .2125; bin 6 {.45}: |0 - .45| * 1/4 = .1125
#           -> ECE_pos = 0.325
EDGE_POS_P = np.array([0.4, 0.4, 0.45, 0.35])
EDGE_POS_Y = np.array([1, 0, 0, 1])


def test_fifteen_bins_are_the_default_and_the_edges_are_exact():
    assert metric("ece").config.bins == 15 and metric("ece_pos").config.bins == 15
    edges = np.linspace(0.0, 1.0, 16)
    assert edges[6] == 0.4 and edges[9] == 0.6 == 1 - 0.4 and edges[12] == 0.8


def test_ece_top_label_bin_edge_is_lower_inclusive():
    assert metric("ece")(EDGE_TOP_Y, EDGE_TOP_P, 0.5) == pytest.approx(0.175, abs=1e-12)  # not 0.275


def test_ece_positive_bin_edge_is_lower_inclusive():
    assert metric("ece_pos")(EDGE_POS_Y, EDGE_POS_P, 0.5) == pytest.approx(0.225, abs=1e-12)  # not 0.325


def test_extreme_scores_fall_in_the_end_bins():
    # p = 1 and p = 0 with the right label are perfectly calibrated in both forms (the top edge 1.0 is
    # inside the last bin, not dropped); with the wrong label the gap is 1.
    y, p = np.array([1, 0]), np.array([1.0, 0.0])
    for name in ("ece", "ece_pos"):
        assert metric(name)(y, p, 0.5) == pytest.approx(0.0, abs=1e-12)
        assert metric(name)(1 - y, p, 0.5) == pytest.approx(1.0, abs=1e-12)
