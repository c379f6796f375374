"""Helpers shared by the core's stages."""
from __future__ import annotations

from pathlib import Path

import numpy as np


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
