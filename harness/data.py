"""Dataset loading (cached per process) and reproducible stratified label subsets."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..components import Split
    from ..suite import ComponentSpec


@lru_cache(maxsize=8)
def load_splits(spec: "ComponentSpec", root: str | None) -> dict[str, "Split"]:
    """Load a dataset's splits once per process (arrays are read-only views shared by every cell)."""
    splits = spec.build().load(root)
    for s in splits.values():
        s.images.setflags(write=False)
        s.labels.setflags(write=False)
    return splits


def positive_labels(labels: np.ndarray, positive_label: int) -> np.ndarray:
    """1 where the sample is the dataset's declared positive class, else 0."""
    return (np.asarray(labels) == positive_label).astype(np.int64)


def label_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Stratified subset of indices: ``round(fraction * n_c)`` per class, at least one of each.

    Reproducible from (fraction, seed) alone; sorted so the JSON is easy to diff.
    """
    y = np.asarray(y)
    if fraction >= 1.0:
        return np.arange(len(y))
    # Seed from (seed, fraction) so different fractions are not nested prefixes of one permutation
    # unless the user asks for it; each (fraction, seed) pair is still fully reproducible.
    rng = np.random.default_rng([int(seed), int(round(fraction * 1_000_000))])
    chosen = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(1, int(round(fraction * len(idx))))
        chosen.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(chosen))


#: at least this many val images of each class under ``val: match`` (AUROC, a calibrator and a
#: threshold need both classes; two of each is the least that leaves a choice)
VAL_MIN_PER_CLASS = 2


def val_subset(y_val: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The ``val: match`` subset: ``round(fraction * n_c)`` val images per class, at least
    ``VAL_MIN_PER_CLASS`` (capped at the class size), stratified, reproducible from (fraction, seed)
    and drawn independently of the training subset; sorted. ``fraction >= 1``: the whole split."""
    y = np.asarray(y_val)
    if fraction >= 1.0:
        return np.arange(len(y))
    rng = np.random.default_rng([int(seed), int(round(fraction * 1_000_000)), 0x7A1])
    chosen = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(VAL_MIN_PER_CLASS, int(round(fraction * len(idx))))
        chosen.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(chosen))
