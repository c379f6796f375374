"""The representations stage's measures, on hand-made features."""
import numpy as np
import pytest

from harness._config import ConfigError, from_dict
from plugins.stages.representations import RepresentationSettings, knn_scores, silhouette, subsample


def test_knn_uses_cosine_direction_not_length():
    # class 0 points along +x, class 1 along +y, at very different lengths: cosine neighbours are exact
    train = np.array([[1, 0.1], [50, 2], [3, 0.2], [0.1, 1], [2, 60], [0.3, 4]], dtype=float)
    ty = np.array([0, 0, 0, 1, 1, 1])
    test = np.array([[100, 1], [0.01, 0.02], [1, 100]], dtype=float)
    acc, bal = knn_scores(train, ty, test, np.array([0, 1, 1]), k=3)
    assert acc == pytest.approx(1.0) and bal == pytest.approx(1.0)
    acc, bal = knn_scores(train, ty, test, np.array([1, 1, 1]), k=3)
    assert acc == pytest.approx(2 / 3) and bal == pytest.approx(2 / 3)  # one class in test: its recall


def test_knn_vote_ties_go_to_the_positive_class_and_k_is_capped():
    train = np.array([[1.0, 0.0], [0.0, 1.0]])
    acc, _ = knn_scores(train, np.array([0, 1]), np.array([[1.0, 1.0]]), np.array([1]), k=50)
    assert acc == 1.0


def test_silhouette_of_separated_and_mixed_classes():
    rng = np.random.default_rng(0)
    a = np.c_[rng.normal(10, 0.1, 20), rng.normal(0, 0.1, 20)]
    b = np.c_[rng.normal(0, 0.1, 20), rng.normal(10, 0.1, 20)]
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    assert silhouette(np.r_[a, b], y) > 0.9
    assert abs(silhouette(np.r_[a, b], rng.permutation(y))) < 0.2
    assert np.isnan(silhouette(a, np.zeros(20, int)))


def test_subsample_keeps_class_shares():
    y = np.r_[np.zeros(900, int), np.ones(100, int)]
    keep = subsample(y, 200, seed=1)
    assert len(keep) == 200 and (y[keep] == 1).sum() == 20 and (np.diff(keep) > 0).all()
    assert (subsample(y, 5000, 0) == np.arange(1000)).all()
    assert not np.array_equal(keep, subsample(y, 200, seed=2))


@pytest.mark.parametrize("bad,says", [({"k": 0}, "k must be >= 1"), ({"maps": ["pca"]}, "must be one of"),
                                      ({"maps": ["tsne", "tsne"]}, "twice")])
def test_settings_are_checked(bad, says):
    with pytest.raises(ConfigError, match=says):
        from_dict(RepresentationSettings, bad, "representations")
