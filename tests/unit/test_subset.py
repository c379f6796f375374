import numpy as np
import pytest

from harness.data import label_subset, positive_labels


@pytest.mark.parametrize("fraction", [0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
def test_stratified_reproducible_at_least_one_per_class(fraction):
    y = np.array([0] * 147 + [1] * 399)  # Breast's train class balance
    a = label_subset(y, fraction, seed=3)
    b = label_subset(y, fraction, seed=3)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == len(a)
    for c, n in ((0, 147), (1, 399)):
        k = int((y[a] == c).sum())
        assert k >= 1
        assert k == max(1, round(fraction * n))
    assert not np.array_equal(a, label_subset(y, fraction, seed=4))


def test_full_fraction_is_everything():
    y = np.array([0, 1, 1, 0])
    np.testing.assert_array_equal(label_subset(y, 1.0, 0), np.arange(4))


def test_positive_labels_uses_declared_class():
    np.testing.assert_array_equal(positive_labels(np.array([0, 1, 1]), positive_label=0), [1, 0, 0])
    np.testing.assert_array_equal(positive_labels(np.array([0, 1, 1]), positive_label=1), [0, 1, 1])
