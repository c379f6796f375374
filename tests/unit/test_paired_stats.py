"""Paired bootstrap comparisons and multiplicity corrections (the study report's statistics)."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from harness.stats import PairedBootstrap, auroc_rows, benjamini_hochberg, holm, paired_bootstrap, rowwise


def test_holm_by_hand():
    # sorted p: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> stays 0.06: monotone)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.6, 0.9]), [1.0, 1.0])
    out = holm([0.01, np.nan])
    assert out[0] == 0.01 and np.isnan(out[1])  # NaN is not counted as a comparison


def test_benjamini_hochberg_by_hand():
    # sorted p: 0.005 (x4/1 = 0.02), 0.01 (x4/2 = 0.02), 0.03 (x4/3 = 0.04), 0.04 (x4/4 = 0.04)
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02])
    # step-up: a large p-value later in the order caps nothing before it
    np.testing.assert_allclose(benjamini_hochberg([0.02, 0.9]), [0.04, 0.9])


def test_auroc_rows_matches_sklearn_with_ties_and_flags_one_class_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (6, 40))
    s = np.round(rng.random((6, 40)), 1)  # many ties
    np.testing.assert_allclose(auroc_rows(y, s), [roc_auc_score(y[i], s[i]) for i in range(6)])
    y[0] = 1
    assert np.isnan(auroc_rows(y, s)[0])


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = y * 0.8 + rng.normal(0, 1, n)
    return y, base, rng


def test_identical_arms_give_zero_and_p_one():
    y, base, _ = _data()
    r = paired_bootstrap(y, [(base, base), (base, base)], auroc_rows, n_boot=300)
    assert r.delta == 0 and r.low == 0 and r.high == 0 and r.p == 1.0 and r.n_seeds == 2


def test_pairing_resolves_a_small_consistent_gain():
    """b is a with noise added: a beats b on almost every resample of the same cases, though both
    AUROCs move a lot from resample to resample (an unpaired comparison could not resolve it)."""
    y, base, rng = _data()
    pairs = [(base, base + rng.normal(0, 0.35, y.size)) for _ in range(3)]
    r = paired_bootstrap(y, pairs, auroc_rows, n_boot=1000)
    point = np.mean([roc_auc_score(y, a) - roc_auc_score(y, b) for a, b in pairs])
    assert r.delta == pytest.approx(point)
    assert 0 < r.low < r.delta < r.high and r.p < 0.01
    # the spread of either AUROC alone over resamples is wider than the whole paired interval
    alone = PairedBootstrap(y, auroc_rows, n_boot=1000).values("a", base)[1]
    assert np.quantile(alone, 0.975) - np.quantile(alone, 0.025) > r.high - r.low


def test_seed_variation_is_in_the_interval():
    """One seed says +, the other -: resampling the seeds puts 0 inside the interval."""
    y, base, rng = _data()
    worse = base + rng.normal(0, 0.6, y.size)
    r = paired_bootstrap(y, [(base, worse), (worse, base)], auroc_rows, n_boot=1000)
    assert abs(r.delta) < 1e-12
    assert r.low < 0 < r.high and r.p > 0.5


def test_a_model_is_scored_once_per_test_set():
    y, base, rng = _data(n=100)
    calls = []

    def metric(yb, sb):
        calls.append(len(yb))
        return auroc_rows(yb, sb)

    boot = PairedBootstrap(y, metric, n_boot=50)
    ref = base + rng.normal(0, 1, y.size)
    boot.compare([("a", base, "ref", ref)])
    boot.compare([("b", -base, "ref", ref)])
    assert len(calls) == 2 * 3  # full set + resamples per model: a, ref, b (ref only once)


def test_rowwise_wraps_a_scalar_metric():
    y, base, _ = _data(n=50)
    p = 1 / (1 + np.exp(-base))
    fn = rowwise(lambda yy, pp: float(np.mean((pp >= 0.5) == yy)))
    out = fn(np.stack([y, y]), np.stack([p, 1 - p]))
    assert out.shape == (2,) and out[0] == pytest.approx(1 - out[1])


def test_length_mismatch_is_an_error():
    y, base, _ = _data(n=50)
    with pytest.raises(ValueError, match="49 scores for 50 cases"):
        paired_bootstrap(y, [(base[:-1], base[:-1])], auroc_rows, n_boot=10)


def test_p_value_is_not_floored_by_the_number_of_resamples():
    """A clear difference gets a p-value far below 2 / n_boot, so that a Holm adjustment over dozens
    of comparisons can still resolve it (a percentile p-value could not go below 2 / 201 here)."""
    y, base, rng = _data()
    pairs = [(base, base + rng.normal(0, 0.8, y.size)) for _ in range(3)]
    r = paired_bootstrap(y, pairs, auroc_rows, n_boot=200)
    assert r.low > 0 and r.p < 1e-4
    assert holm([r.p] + [0.5] * 40)[0] < 0.05


def test_one_resample_is_refused():
    y, base, _ = _data(n=30)
    with pytest.raises(ValueError, match="n_boot must be >= 2"):
        paired_bootstrap(y, [(base, base)], auroc_rows, n_boot=1)
