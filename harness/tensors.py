"""Tensor helpers shared by every training stage (uint8 in memory -> normalised float batches)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

#: Fixed input normalisation, identical in pretraining, training and feature extraction so that an
#: encoder trained in one stage sees the same input distribution in the next.
MEAN, STD = 0.5, 0.25


def as_uint8_tensor(images: "np.ndarray") -> "torch.Tensor":
    """(N, H, W[, C]) uint8 numpy -> (N, C, H, W) uint8 torch tensor (no copy of pixel data beyond one)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        # Loaded splits are read-only on purpose (shared by every cell); nothing writes to them here.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(images)
    if t.ndim == 3:
        t = t.unsqueeze(1)
    else:
        t = t.permute(0, 3, 1, 2)
    return t.contiguous()


def to_unit(batch: "torch.Tensor") -> "torch.Tensor":
    """uint8 (B, C, H, W) -> float32 in [0, 1]."""
    return batch.float().div_(255.0)


def normalize(x: "torch.Tensor") -> "torch.Tensor":
    """float [0, 1] -> the backbone's input scale."""
    return (x - MEAN) / STD


def set_threads() -> None:
    """Use every core torch is allowed (the CI machine has 2)."""
    import os

    import torch

    n = int(os.environ.get("BENCH_NUM_THREADS", "0")) or os.cpu_count() or 1
    torch.set_num_threads(n)


def batched_forward(module: "torch.nn.Module", images: "np.ndarray", batch_size: int = 1024,
                    device: str = "cpu") -> "np.ndarray":
    """``module`` in eval mode over uint8 images in batches; float64 numpy output (N, ...)."""
    import numpy as np
    import torch

    from .device import autocast
    from .device import images as to_device

    x = to_device(as_uint8_tensor(np.ascontiguousarray(images)), device)
    module.eval()
    out = []
    with torch.inference_mode(), autocast(device):
        for i in range(0, len(x), batch_size):
            out.append(module(normalize(to_unit(x[i:i + batch_size]))).double().cpu())
    return torch.cat(out).numpy()
