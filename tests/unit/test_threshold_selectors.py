"""Threshold selectors on a hand-worked example, plus validation and edge cases."""
import numpy as np
import pytest

from plugins.threshold_selectors.fixed import FixedThreshold
from plugins.threshold_selectors.max_f1 import MaxF1
from plugins.threshold_selectors.target_fpr import TargetFPR
from plugins.threshold_selectors.target_tpr import TargetTPR
from plugins.threshold_selectors.youden import Youden

# 5 positives (0.3, 0.6, 0.8, 0.9, 0.95) and 5 negatives (0.1, 0.2, 0.4, 0.5, 0.7).
# Operating points, predicting positive iff p >= t (worked by hand):
#   t     TP FP  TPR  FPR  J    F1 = 2TP / (2TP + FP + FN)
#   0.95   1  0  0.2  0.0  0.2  2/6  = 0.333
#   0.9    2  0  0.4  0.0  0.4  4/7  = 0.571
#   0.8    3  0  0.6  0.0  0.6  6/8  = 0.75
#   0.7    3  1  0.6  0.2  0.4  6/9  = 0.667
#   0.6    4  1  0.8  0.2  0.6  8/10 = 0.8   <- max F1
#   0.5    4  2  0.8  0.4  0.4  8/11 = 0.727
#   0.4    4  3  0.8  0.6  0.2  8/12 = 0.667
#   0.3    5  3  1.0  0.6  0.4  10/13 = 0.769
#   0.2    5  4  1.0  0.8  0.2
#   0.1    5  5  1.0  1.0  0.0
P = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
Y = np.array([0, 0, 1, 0, 0, 1, 0, 1, 1, 1])


def rates(t, p=P, y=Y):
    pred = p >= t
    return pred[y == 1].mean(), pred[y == 0].mean()


@pytest.mark.parametrize("target, expected", [(0.5, 0.8), (0.8, 0.6), (0.9, 0.3), (0.2, 0.95)])
def test_target_tpr_is_largest_threshold_reaching_target(target, expected):
    t = TargetTPR(TargetTPR.Config(target=target)).select(P, Y)
    assert t == expected
    assert rates(t)[0] >= target
    # one step up (the next larger score) misses the target
    higher = P[P > t]
    if higher.size:
        assert rates(higher.min())[0] < target


@pytest.mark.parametrize("target, expected", [
    (0.1, 0.8),    # only FPR 0 is allowed: best TPR 0.6 at t = 0.8
    (0.25, 0.6),   # FPR 0.2 allowed: TPR 0.8 at t = 0.6
    (0.2, 0.6),    # the cap is inclusive: FPR exactly 0.2 (1 of 5 negatives) is allowed
    (0.6, 0.3),    # FPR exactly 0.6 reaches TPR 1 at t = 0.3
    (0.5, 0.6),    # FPR 0.4 allowed too, but TPR 0.8 is already reached at FPR 0.2 (t = 0.6), not 0.5
])
def test_target_fpr_is_best_tpr_under_cap(target, expected):
    t = TargetFPR(TargetFPR.Config(target=target)).select(P, Y)
    assert t == expected
    assert rates(t)[1] <= target


def test_youden_tie_goes_to_larger_threshold():
    # J = 0.6 at t = 0.8 and at t = 0.6 (0.8 - 0.2 is 0.6000000000000001 in floats); the larger wins
    assert Youden().select(P, Y) == 0.8


def test_max_f1():
    t = MaxF1().select(P, Y)
    assert t == 0.6
    tpr, fpr = rates(t)
    assert (tpr, fpr) == (0.8, 0.2)


def test_fixed_and_defaults():
    assert FixedThreshold().select(P, Y) == 0.5
    assert FixedThreshold(FixedThreshold.Config(threshold=0.7)).select(P, Y) == 0.7
    assert TargetTPR.Config().target == 0.90 and TargetFPR.Config().target == 0.10


@pytest.mark.parametrize("make", [
    lambda: TargetTPR.Config(target=0.0), lambda: TargetTPR.Config(target=1.0),
    lambda: TargetFPR.Config(target=-0.1), lambda: TargetFPR.Config(target=1.5),
    lambda: FixedThreshold.Config(threshold=1.5), lambda: FixedThreshold.Config(threshold=float("nan")),
])
def test_bad_config_rejected(make):
    with pytest.raises(ValueError):
        make()


def test_no_feasible_point_gives_finite_threshold_predicting_nothing_even_in_float32():
    # the top score is a negative, so any threshold admitting a positive has FPR 0.5 > 0.1
    p = np.array([1.0, 0.8, 0.1], dtype=np.float32)
    y = np.array([0, 1, 0])
    t = TargetFPR(TargetFPR.Config(target=0.1)).select(p, y)
    assert np.isfinite(t) and t > 1.0
    assert not (p >= t).any()  # np.nextafter(1.0, 2.0) would fail here: float32 rounds it to 1.0
    # anti-informative scores: Youden's best is predicting nothing (J = 0 beats J = -1)
    p_anti = np.array([1.0, 0.1], dtype=np.float32)
    assert not (p_anti >= Youden().select(p_anti, np.array([0, 1]))).any()


def test_float32_scores_reproduce_operating_point():
    p32 = P.astype(np.float32)
    t = TargetTPR(TargetTPR.Config(target=0.8)).select(p32, Y)
    assert (p32 >= t).sum() == 5  # 0.6, 0.7, 0.8, 0.9, 0.95


@pytest.mark.parametrize("selector", [TargetTPR(), TargetFPR(), Youden(), MaxF1()])
def test_single_class_rejected(selector):
    with pytest.raises(ValueError, match="both classes"):
        selector.select(P, np.ones_like(Y))


def test_registered_names():
    import importlib

    names = {}
    for module in ("fixed", "target_tpr", "target_fpr", "youden", "max_f1"):
        mod = importlib.import_module(f"plugins.threshold_selectors.{module}")
        mod.register_threshold_selectors(register=lambda name, cls: names.setdefault(name, cls))
    assert names == {"fixed": FixedThreshold, "target_tpr": TargetTPR, "target_fpr": TargetFPR,
                     "youden": Youden, "max_f1": MaxF1}


def test_points_on_a_straight_roc_segment_are_kept():
    """drop_intermediate=False: 0.8 (TPR 2/3) lies on the vertical segment from TPR 1/3 to 1; it must stay."""
    p, y = np.array([0.9, 0.8, 0.7, 0.2, 0.1]), np.array([1, 1, 1, 0, 0])
    assert TargetTPR(TargetTPR.Config(target=0.6)).select(p, y) == 0.8


def test_max_f1_when_the_top_score_is_a_negative():
    """At the top threshold precision and recall are both 0: F1 is 0 there (not 0/0)."""
    p, y = np.array([0.95, 0.9, 0.8, 0.3, 0.2, 0.1]), np.array([0, 1, 1, 0, 1, 0])
    # t = 0.8: TP 2, FP 1, FN 1 -> F1 2/3; t = 0.2: TP 3, FP 2 -> F1 3/4 (the maximum); t = 0.95: F1 0
    assert MaxF1().select(p, y) == 0.2
    assert MaxF1().select(np.array([0.9, 0.1]), np.array([0, 1])) == 0.1


def test_no_feasible_point_threshold_is_just_above_one():
    from plugins.threshold_selectors._roc import above_all

    assert above_all(np.array([0.2, 0.7])) == float(np.nextafter(np.float32(1), np.float32(2)))
    assert above_all(np.array([0.2, 1.5])) == float(np.nextafter(np.float32(1.5), np.float32(2)))
