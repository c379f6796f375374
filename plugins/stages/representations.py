"""Representation maps (plan B4): how well a cell's backbone separates the classes, as numbers and maps.

An optional stage (a suite asks for it with ``stages: [representations]``): it reloads the cell's
trained model through its model stage's ``embedder`` (the frozen or fine-tuned backbone, without
head or probe), embeds every split, and writes

* ``rows.json``: kNN accuracy and balanced accuracy (k nearest train images by cosine similarity,
  majority vote, scored on the test split) and the silhouette score of the test features (cosine
  distance, labels = the dataset's classes);
* ``embedding.npz``: 2-D t-SNE (scikit-learn) and UMAP (umap-learn, when installed) maps of the
  test features with their labels, for the ``representations`` report's figures.

Retrains nothing. Seeds are fixed (``representations.seed``), so the maps reproduce.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness import ROWS, Stage, StageFailed, atomic_write_json, get_registry, hookimpl, row

METHODS = ("tsne", "umap")


@dataclass(frozen=True)
class RepresentationSettings:
    """``representations:`` in a suite.

    Attributes:
        k: neighbours of the kNN classifier (train -> test).
        maps: 2-D projections to compute: ``tsne`` and/or ``umap`` (umap needs umap-learn).
        max_points: test images in a map (a stratified-by-order subsample when there are more).
        perplexity: t-SNE perplexity.
        seed: seed of t-SNE, UMAP and the subsample.
    """

    k: int = 20
    maps: tuple[Literal["tsne", "umap"], ...] = ("tsne", "umap")
    max_points: int = 1000
    perplexity: float = 30.0
    seed: int = 0

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.max_points < 10:
            raise ValueError(f"max_points must be >= 10, got {self.max_points}")
        if self.perplexity <= 0:
            raise ValueError(f"perplexity must be > 0, got {self.perplexity}")
        if len(set(self.maps)) != len(self.maps):
            raise ValueError(f"maps lists a method twice: {list(self.maps)}")


def knn_scores(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
               k: int) -> tuple[float, float]:
    """(accuracy, balanced accuracy) of a k-nearest-neighbour vote by cosine similarity, train -> test.

    Ties in the vote go to the positive class (label 1). ``k`` is capped at the train size.
    """
    a = train_x / np.maximum(np.linalg.norm(train_x, axis=1, keepdims=True), 1e-12)
    b = test_x / np.maximum(np.linalg.norm(test_x, axis=1, keepdims=True), 1e-12)
    k = min(k, len(a))
    pred = np.empty(len(b), dtype=np.int64)
    for start in range(0, len(b), 512):
        sim = b[start:start + 512] @ a.T
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        votes = train_y[nn].mean(axis=1)
        pred[start:start + 512] = (votes >= 0.5).astype(np.int64)
    acc = float(np.mean(pred == test_y))
    rates = [float(np.mean(pred[test_y == c] == c)) for c in (0, 1) if np.any(test_y == c)]
    return acc, float(np.mean(rates))


def silhouette(x: np.ndarray, y: np.ndarray) -> float:
    """Mean silhouette of the test features with the classes as clusters (cosine distance); NaN for one class."""
    if len(np.unique(y)) < 2:
        return float("nan")
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(x, y, metric="cosine"))


def subsample(y: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    """Indices of at most ``max_points`` cases, each class kept in proportion (sorted)."""
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        m = max(1, int(round(max_points * len(idx) / n)))
        keep.append(rng.choice(idx, size=min(m, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def project(x: np.ndarray, method: str, seed: int, perplexity: float) -> np.ndarray:
    """A 2-D map of ``x`` (standardised first)."""
    z = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-6)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, perplexity=min(perplexity, (len(z) - 1) / 3), init="pca",
                    random_state=seed).fit_transform(z).astype(np.float32)
    if method == "umap":
        try:
            import umap
        except ImportError:
            raise StageFailed("maps lists umap but umap-learn is not installed "
                              "(pip install -e '.[maps]', or drop umap from representations.maps)") from None
        return umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(z) - 1),
                         metric="cosine").fit_transform(z).astype(np.float32)
    raise ValueError(method)


class Representations(Stage):
    """kNN accuracy, silhouette and 2-D maps (t-SNE, UMAP) of the cell's backbone features."""

    version = 1
    upstream = ("pretrain", "features", "train", "probe")
    settings_key = "representations"
    Settings = RepresentationSettings
    optional = True
    info = "representations.json"
    reported = ("knn_accuracy", "knn_balanced_accuracy", "silhouette")
    artifacts = (ROWS, "representations.json", "embedding.npz")
    exports = {"representations.json": "representations.json", "embedding.npz": "embedding.npz"}

    def _embedder(self, ctx):
        stages = get_registry("stages")
        for name in ctx.inputs:
            cls = stages.get(name)
            if cls.role == "model":
                st = cls()
                st.name = name
                if not hasattr(st, "embedder"):
                    raise StageFailed(f"model stage {name} has no embedder(): it cannot give backbone features")
                ups = {u: ctx.inputs[u] for u in cls.upstream if u in ctx.inputs}
                return st.embedder(ctx.spec, ctx.inputs[name], ups)
        raise StageFailed("no upstream stage provides the model")

    def run(self, ctx) -> None:
        st = ctx.spec.settings_for(self.settings_key)
        embed = self._embedder(ctx)
        feats = {s: np.asarray(embed(ctx.splits[s].images, device=ctx.device), dtype=np.float32).reshape(
            len(ctx.splits[s].images), -1) for s in ("train", "test")}
        y_train, y_test = ctx.y["train"].astype(np.int64), ctx.y["test"].astype(np.int64)
        acc, bal = knn_scores(feats["train"], y_train, feats["test"], y_test, st.k)
        sil = silhouette(feats["test"], y_test)
        keep = subsample(y_test, st.max_points, st.seed)
        maps = {m: project(feats["test"][keep], m, st.seed, st.perplexity) for m in st.maps}
        np.savez(ctx.out / "embedding.npz", labels=y_test[keep], index=keep, **maps)
        rows = [row("test", "knn_accuracy", acc, family="info"),
                row("test", "knn_balanced_accuracy", bal, family="info"),
                row("test", "silhouette", sil, family="info")]
        atomic_write_json(ctx.out / ROWS, rows)
        ctx.write_json("representations.json", {"k": st.k, "knn_accuracy": acc, "knn_balanced_accuracy": bal,
                                                 "silhouette": sil, "feature_dim": int(feats["test"].shape[1]),
                                                 "maps": list(st.maps), "points": int(len(keep))})


@hookimpl
def register_stages(register):
    register("representations", Representations)
