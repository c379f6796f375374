"""Stages of a run: pretrain -> (train | features -> probe) -> calibrate -> evaluate."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def save_predictions(out_dir: Path, logits: dict[str, np.ndarray]) -> None:
    """``predictions.npz``: per-split logits and positive-class probabilities (what every later stage reads)."""
    from scipy.special import expit  # no overflow warning for large negative logits

    np.savez(out_dir / "predictions.npz", **{f"{s}_logit": v for s, v in logits.items()},
             **{f"{s}_prob": expit(v) for s, v in logits.items()})
