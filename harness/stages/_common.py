"""Helpers shared by the core's stages."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import StageFailed


def save_predictions(out_dir: Path, logits: dict[str, np.ndarray]) -> None:
    """``predictions.npz``: per-split logits and positive-class probabilities (what later stages read)."""
    from scipy.special import expit  # no overflow warning for large negative logits

    np.savez(out_dir / "predictions.npz", **{f"{s}_logit": v for s, v in logits.items()},
             **{f"{s}_prob": expit(v) for s, v in logits.items()})


def write_subset(ctx, subset: np.ndarray) -> None:
    ctx.write_json("subset.json", {"fraction": ctx.spec.fraction, "seed": ctx.spec.seed, "n": int(len(subset)),
                                   "indices": [int(i) for i in subset]})


def in_chans(images: np.ndarray) -> int:
    return images.shape[3] if images.ndim == 4 else 1


def img_size(images: np.ndarray) -> int:
    """The height of uint8 (N, H, W[, C]) images (MedMNIST's are square)."""
    return int(images.shape[1])


def check_loss(loss, device: str, epoch: int, step: int, what: str = "loss") -> None:
    """On the CPU, fail at once on a non-finite step loss (before its update).

    On CUDA this would cost a host sync per step, so there the check waits for ``epoch_losses``.
    """
    from .. import device as dev

    if not dev.is_cuda(device) and not math.isfinite(loss.item()):
        raise StageFailed(f"non-finite {what} {loss.item()} at epoch {epoch} step {step}")


def epoch_losses(losses: list, epoch: int, what: str = "loss") -> list[float]:
    """One epoch's detached per-step loss tensors as floats, read in one host sync.

    Raises:
        StageFailed: naming the first non-finite value and its step (a GPU run's check happens here).
    """
    import torch

    values = torch.stack(losses).tolist()
    for step, v in enumerate(values):
        if not math.isfinite(v):
            raise StageFailed(f"non-finite {what} {v} at epoch {epoch} step {step}")
    return values


def lr_scheduler(opt, settings, steps_per_epoch: int):
    """The step-wise LR schedule of ``settings`` (``lr_schedule``, ``warmup_epochs``) on ``opt``.

    ``None`` for a constant rate without warm-up: the optimiser is left exactly as before the option
    existed, so cached results reproduce. Otherwise a ``LambdaLR`` to step after every optimiser step:
    a linear warm-up from ``1/warmup_steps`` of each group's rate over ``warmup_epochs``, then the
    rate held (``constant``) or decayed along a half cosine to 0 at the last step (``cosine``).
    """
    if settings.lr_schedule == "constant" and not settings.warmup_epochs:
        return None
    from torch.optim.lr_scheduler import LambdaLR

    warmup = settings.warmup_epochs * steps_per_epoch
    total = settings.epochs * steps_per_epoch
    cosine = settings.lr_schedule == "cosine"

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if not cosine:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))

    return LambdaLR(opt, factor)
