"""Stage settings: the non-component knobs a suite can set under ``pretrain:``, ``train:``, ``probe:``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from ._config import KEY_IF_SET


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _check_schedule(settings) -> None:
    if not 0 <= settings.warmup_epochs < settings.epochs:
        raise ValueError(f"warmup_epochs must be >= 0 and < epochs ({settings.epochs}), got {settings.warmup_epochs}")


#: the learning-rate schedule over all steps: ``constant``, or ``cosine`` decay to 0 (after the linear
#: warm-up of ``warmup_epochs``, which either schedule may have). Both are left out of cache keys at
#: their defaults (``KEY_IF_SET``): they came after results were cached.
Schedule = Literal["constant", "cosine"]


@dataclass(frozen=True)
class PretrainSettings:
    """SSL pretraining on the unlabeled train split (plan defaults: AdamW 1e-3, wd 1e-4, batch 128, 30 epochs)."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0  # one encoder per (dataset, method, config): shared by every downstream seed
    max_images: Optional[int] = None  # cap on unlabeled images per epoch (None = the whole split)
    lr_schedule: Schedule = field(default="constant", metadata=KEY_IF_SET)
    warmup_epochs: int = field(default=0, metadata=KEY_IF_SET)

    def __post_init__(self):
        for n in ("epochs", "batch_size", "lr"):
            _positive(n, getattr(self, n))
        _check_schedule(self)
        if self.max_images is not None and self.max_images < 2:
            raise ValueError(f"max_images must be >= 2 (BatchNorm), got {self.max_images}")


@dataclass(frozen=True)
class TrainSettings:
    """Supervised training of a (backbone + linear head) on the labeled subset."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    encoder_lr_mult: float = 0.1  # the finetune regime's encoder LR = lr * encoder_lr_mult
    patience: Optional[int] = None  # stop after this many epochs without a better val AUROC
    class_weight: Optional[Literal["balanced"]] = None  # "balanced": weight positives by n_neg / n_pos
    min_steps_per_epoch: int = 1  # small label fractions: repeat the subset to reach this many steps
    lr_schedule: Schedule = field(default="constant", metadata=KEY_IF_SET)
    warmup_epochs: int = field(default=0, metadata=KEY_IF_SET)
    #: the epoch whose weights are kept: ``best_val`` (the best val AUROC, ties to the lower val loss)
    #: or ``last`` (a fixed budget: every epoch runs and the final weights are kept; for a val split
    #: that saturates, where the best val epoch is noise, and with ``lr_schedule: cosine``)
    select: Literal["best_val", "last"] = field(default="best_val", metadata=KEY_IF_SET)

    def __post_init__(self):
        for n in ("epochs", "batch_size", "lr", "encoder_lr_mult", "min_steps_per_epoch"):
            _positive(n, getattr(self, n))
        _check_schedule(self)
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")
        if self.select not in ("best_val", "last"):
            raise ValueError(f"select must be 'best_val' or 'last', got {self.select!r}")
        if self.select == "last" and self.patience is not None:
            raise ValueError("patience stops at the best val epoch; select: last runs every epoch: set one of them")


@dataclass(frozen=True)
class ProbeSettings:
    """Linear probe on frozen features: L2 logistic regression (scikit-learn's objective), C chosen on val AUROC."""

    cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    max_iter: int = 100  # Newton steps per C (about 3 are needed with warm starts along the C path)

    def __post_init__(self):
        if not self.cs or any(c <= 0 for c in self.cs):
            raise ValueError("cs must be a non-empty list of positive numbers")
        _positive("max_iter", self.max_iter)


@dataclass(frozen=True)
class EvalSettings:
    """Evaluation: bootstrap CIs and the split used for selection."""

    bootstrap: int = 1000
    #: metrics with a bootstrap CI on test; None: those whose class sets ``bootstrap = True``
    ci_metrics: Optional[tuple[str, ...]] = None

    def __post_init__(self):
        if self.bootstrap < 0:
            raise ValueError(f"bootstrap must be >= 0 (0 = no CIs), got {self.bootstrap}")
        from .plugins import get_registry
        from .registry import UnknownComponentError

        metrics = get_registry("metrics")
        for m in self.ci_metrics or ():
            try:
                metrics.get(m)
            except UnknownComponentError as exc:
                raise ValueError(f"ci_metrics: {exc}") from None
