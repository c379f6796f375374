"""Base classes for every kind of component.

Each component is a class with a frozen ``Config`` dataclass and a docstring whose first line is its
one-line description. Nothing here imports torch: component methods import heavy libraries lazily,
so that listing plugins stays instant.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from ._config import EmptyConfig

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn


class Component:
    """Base of all components: holds a validated ``config``."""

    Config: ClassVar[type] = EmptyConfig
    #: bump when the component's meaning changes: it is part of every cache key that reads it.
    version: ClassVar[int] = 1

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def check(self) -> None:
        """Pre-flight check before any training (e.g. a weights file exists); raise UserError."""

    def cache_identity(self) -> dict:
        """What the config does not say but the result depends on (e.g. a weights file's hash)."""
        return {}

    @classmethod
    def describe(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


@dataclasses.dataclass
class Split:
    """One split in memory: ``images`` uint8 (N, H, W) or (N, H, W, C); ``labels`` int (N,)."""

    images: "np.ndarray"
    labels: "np.ndarray"


class Dataset(Component):
    """A binary image dataset with a declared positive class."""

    positive_label: ClassVar[int]
    positive_name: ClassVar[str]
    label_names: ClassVar[dict[int, str]]
    #: A short display name for comparison tables (e.g. "Breast").
    short_name: ClassVar[str] = ""
    #: The SSL augmentation used when a suite says ``ssl_augmentation: auto``.
    default_ssl_augmentation: ClassVar[str] = "none"

    def load(self, root: str | None) -> dict[str, Split]:
        """Return {"train", "val", "test"} splits; raise DataError on missing/corrupt files."""
        raise NotImplementedError


class Encoder(Component):
    """Builds a backbone ``nn.Module`` mapping (B, C, H, W) floats to (B, D) features."""

    def build(self, in_chans: int) -> "nn.Module":
        """Return a module with attribute ``num_features`` (D)."""
        raise NotImplementedError


class Augmentation(Component):
    """A batched augmentation: float (B, C, H, W) in [0, 1] -> same shape, per-sample randomness."""

    def build(self) -> "nn.Module":
        """Return a module applied to a float batch in [0, 1] (train mode only)."""
        raise NotImplementedError


class SSLMethod(Component):
    """A self-supervised objective over two augmented views of a batch."""

    def build(self, backbone: "nn.Module", num_features: int) -> "nn.Module":
        """Return a module whose ``forward(view1, view2)`` gives a scalar loss.

        The module must expose the passed ``backbone`` as attribute ``backbone`` (its weights are
        what downstream regimes reuse) and may define ``on_step(step, total_steps)`` for momentum
        updates.
        """
        raise NotImplementedError


class Calibrator(Component):
    """Maps positive-class probabilities to calibrated ones; fitted on val only."""

    def fit(self, probs: "np.ndarray", labels: "np.ndarray") -> "Calibrator":
        raise NotImplementedError

    def transform(self, probs: "np.ndarray") -> "np.ndarray":
        raise NotImplementedError

    def fitted_params(self) -> dict[str, float]:
        """Fitted parameters worth reporting (e.g. the temperature)."""
        return {}


class Perturbation(Component):
    """A test-time corruption of uint8 images at a given severity."""

    def apply(self, images: "np.ndarray", severity: int, rng: "np.random.Generator") -> "np.ndarray":
        raise NotImplementedError


class ThresholdSelector(Component):
    """Chooses a decision threshold on val scores (positive-class probabilities)."""

    def select(self, probs: "np.ndarray", labels: "np.ndarray") -> float:
        """``labels`` are 1 for the positive class; return a threshold t (predict positive if p >= t)."""
        raise NotImplementedError


class Metric(Component):
    """A scalar metric of positive-class labels and probabilities at a threshold."""

    #: "max" if larger is better, "min" if smaller is better.
    direction: ClassVar[str] = "max"

    def __call__(self, labels: "np.ndarray", probs: "np.ndarray", threshold: float) -> float:
        raise NotImplementedError


KINDS: dict[str, type] = {
    "datasets": Dataset,
    "encoders": Encoder,
    "ssl-methods": SSLMethod,
    "augmentations": Augmentation,
    "calibrators": Calibrator,
    "perturbations": Perturbation,
    "threshold-selectors": ThresholdSelector,
    "metrics": Metric,
}
