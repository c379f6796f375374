"""The probe's Newton C grid (harness/_logreg.py) against scikit-learn's StandardScaler + LogisticRegression."""
import math

import numpy as np
import pytest

from harness._logreg import ARRAY_FIELDS, ProbeFit, fit_probe, fit_probe_grid, select_c

CS = (0.01, 0.1, 1.0, 10.0)


def _data(n=120, d=8, seed=0, shift=0.7):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 5.0, d) + rng.normal(size=d) * 3
    x[:, :3] += shift * y[:, None]  # three informative features, the rest noise
    return x.astype(np.float32), y


def _sklearn(x, y, c):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Tight tolerance and float64 (sklearn keeps float32 input in float32): the exact optimum.
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, tol=1e-12, max_iter=100_000))
    return clf.fit(np.asarray(x, dtype=np.float64), y)


@pytest.mark.parametrize("c", [0.001, 0.03, 1.0, 30.0])
def test_matches_sklearn_coefficients_and_decisions(c):
    x, y = _data()
    xv, yv = _data(n=60, seed=1)
    fit = fit_probe(x, y, xv, yv, [c])
    ref = _sklearn(x, y, c)
    np.testing.assert_allclose(fit.mean, ref[0].mean_, rtol=1e-6)
    np.testing.assert_allclose(fit.scale, ref[0].scale_, rtol=1e-6)
    np.testing.assert_allclose(fit.coef, ref[1].coef_[0], rtol=1e-4, atol=1e-6)
    assert fit.intercept == pytest.approx(ref[1].intercept_[0], rel=1e-4, abs=1e-6)
    np.testing.assert_allclose(fit.decision_function(xv), ref.decision_function(xv), rtol=1e-4, atol=1e-5)
    assert fit.grad_max.max() <= 1e-8


def test_separable_data_large_c():
    """Linearly separable subset (n < d): the weights grow with C and Newton still converges."""
    x, y = _data(n=20, d=40, shift=3.0)
    fit = fit_probe(x, y, x, y, CS)
    norms = np.linalg.norm(fit.coefs, axis=1)
    assert np.all(np.diff(norms) > 0)
    for k, c in enumerate(CS):
        np.testing.assert_allclose(fit.decision_function(x, k), _sklearn(x, y, c).decision_function(x),
                                   rtol=1e-4, atol=1e-5)


def test_zero_and_near_constant_features_are_scaled_like_sklearn():
    x, y = _data(n=50, d=6)
    x[:, 0] = 3.0                 # constant
    x[:, 1] = np.float32(1e8)     # constant at a large offset
    x[:, 2] = 0.0
    x[0, 3] = x[0, 3] + 1e-3      # varies in one sample only: not constant
    fit = fit_probe(x, y, x, y, [1.0])
    ref = _sklearn(x, y, 1.0)
    np.testing.assert_allclose(fit.scale, ref[0].scale_, rtol=1e-6)
    assert fit.scale[0] == fit.scale[1] == fit.scale[2] == 1.0
    np.testing.assert_allclose(fit.decision_function(x), ref.decision_function(x), rtol=1e-4, atol=1e-5)


def _correlated_noise(n, seed, noise_in_feature_2: bool):
    """x1 = label + e; x2 = e + small noise in train. If x2 carries e in val too, the weakly
    penalized fit that learns x1 - x2 ranks val almost perfectly; if x2 is independent noise in val,
    that fit only adds noise and the strongly penalized one (close to the class-mean difference,
    i.e. x1 alone) wins."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    e = rng.normal(size=n)
    x2 = e + 0.3 * rng.normal(size=n) if noise_in_feature_2 else rng.normal(size=n)
    return np.stack([y + e, x2], 1), y


def _sklearn_choice(x, y, xv, yv, cs):
    """Today's probe loop: the first C with the strictly best val AUROC."""
    from sklearn.metrics import roc_auc_score

    best = None
    for c in cs:
        auc = roc_auc_score(yv, _sklearn(x, y, c).decision_function(xv))
        if best is None or auc > best[0]:
            best = (auc, c)
    return best[1]


@pytest.mark.parametrize("val_keeps_correlation", [True, False])
def test_c_choice_where_the_right_c_is_known(val_keeps_correlation):
    cs = (0.0003, 0.03, 3.0)
    x, y = _correlated_noise(400, 0, True)
    xv, yv = _correlated_noise(2000, 1, val_keeps_correlation)
    fit = fit_probe(x, y, xv, yv, cs)
    if val_keeps_correlation:
        assert fit.c == cs[-1] and np.all(np.diff(fit.val_auroc) > 0)
    else:
        assert fit.c == cs[0] and np.all(np.diff(fit.val_auroc) < 0)
    assert fit.val_auroc.max() > fit.val_auroc.min() + 0.05
    assert fit.c == _sklearn_choice(x, y, xv, yv, cs)


def test_ties_pick_the_first_c_in_the_given_order():
    # One feature: every C ranks val the same way, so every val AUROC is equal.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    x = (y + rng.normal(size=80))[:, None]
    fit = fit_probe(x, y, x, y, [1.0, 0.01, 10.0])
    assert len(set(fit.val_auroc.tolist())) == 1
    assert fit.best_index == 0 and fit.c == 1.0
    assert select_c([0.5, 0.7, 0.7, 0.6]) == 1


def test_one_class_val_gives_nan_auroc_and_the_first_c():
    x, y = _data()
    fit = fit_probe(x, y, x[:10], np.ones(10, dtype=int), [0.1, 1.0])
    assert np.isnan(fit.val_auroc).all() and math.isnan(fit.best_val_auroc)
    assert fit.best_index == 0
    assert fit.val_auroc_by_c().keys() == {"0.1", "1.0"}
    assert select_c([math.nan, math.nan]) == 0


def test_subsets_and_duplicates():
    from harness.data import label_subset

    x, y = _data(n=300)
    xv, yv = _data(n=60, seed=1)
    subsets = [label_subset(y, f, s) for f in (0.1, 1.0) for s in (0, 1)]
    fits = fit_probe_grid(x, y, xv, yv, CS, subsets)
    assert len(fits) == 4
    assert fits[2] is fits[3]  # fraction 1.0 ignores the seed: solved once
    assert fits[0].n_train == len(subsets[0]) and fits[0] is not fits[1]
    one = fit_probe(x[subsets[1]], y[subsets[1]], xv, yv, CS)
    np.testing.assert_allclose(fits[1].coefs, one.coefs, rtol=1e-10, atol=1e-12)


def test_no_convergence_warns_and_keeps_the_last_iterate():
    x, y = _data()
    with pytest.warns(RuntimeWarning, match="no convergence in 1 Newton steps"):
        fit = fit_probe(x, y, x, y, CS, max_iter=1)
    assert (fit.n_iter == 1).all() and fit.grad_max.max() > 1e-8
    assert np.isfinite(fit.coefs).all()


def test_one_class_subset_and_bad_labels_are_errors():
    x, y = _data()
    with pytest.raises(ValueError, match="one class"):
        fit_probe_grid(x, y, x, y, CS, [np.flatnonzero(y == 1)])
    with pytest.raises(ValueError, match="labels 0 and 1"):
        fit_probe(x, y + 1, x, y, CS)


def test_round_trip_through_plain_arrays(tmp_path):
    x, y = _data()
    fit = fit_probe(x, y, x, y, CS)
    np.savez(tmp_path / "probe.npz", **fit.to_arrays())
    with np.load(tmp_path / "probe.npz", allow_pickle=False) as f:
        assert set(f.files) == set(ARRAY_FIELDS)
        back = ProbeFit.from_arrays(f)
    assert back.c == fit.c and back.best_index == fit.best_index
    np.testing.assert_array_equal(back.decision_function(x), fit.decision_function(x))


def test_cpu_path_never_touches_cuda():
    # Only a GPU machine can tell: without one, any CUDA call in a CPU fit raises, and every other CPU
    # test here would fail. In a fresh interpreter: another test in this process may already have
    # initialised CUDA.
    import subprocess
    import sys

    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (without one, a CPU fit that touched CUDA would fail every CPU test here)")

    code = ("import numpy as np, torch\n"
            "from harness._logreg import fit_probe\n"
            "r = np.random.default_rng(0); x = r.normal(size=(60, 5)); y = (x[:, 0] > 0).astype(int)\n"
            "fit = fit_probe(x, y, x, y, (0.1, 1.0), device='cpu')\n"
            "assert fit.coefs.dtype == np.float64 and fit.decision_function(x).dtype == np.float64\n"
            "print(torch.cuda.is_initialized())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_cuda_matches_cpu():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, y = _data()
    cpu = fit_probe(x, y, x, y, CS, device="cpu")
    gpu = fit_probe(x, y, x, y, CS, device="cuda")
    np.testing.assert_allclose(gpu.coefs, cpu.coefs, rtol=1e-6, atol=1e-8)
    assert gpu.best_index == cpu.best_index
