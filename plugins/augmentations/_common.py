"""Building blocks shared by the augmentation plugins (private: imported lazily, so it may import torch)."""
from __future__ import annotations

import math

import kornia.augmentation as K
import torch
from torch import nn


class Clamp01(nn.Module):
    """Clamp to [0, 1]: noise and interpolation may overshoot, and the stages assume unit range."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0)


class RandomResizedCropSameSize(nn.Module):
    """kornia's RandomResizedCrop back to the input's own size, per-sample crop boxes.

    kornia needs the output size at construction, but ``Augmentation.build()`` does not know it
    (28 or 64 px), so one crop module is made per input size on first use.
    """

    def __init__(self, scale: tuple[float, float], ratio: tuple[float, float] = (3 / 4, 4 / 3)):
        super().__init__()
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self._crops: dict[tuple[int, int], nn.Module] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (int(x.shape[-2]), int(x.shape[-1]))
        crop = self._crops.get(size)
        if crop is None:
            crop = self._crops[size] = K.RandomResizedCrop(size, scale=self.scale, ratio=self.ratio,
                                                           same_on_batch=False)
        return crop(x)


class RandomSpeckleNoise(nn.Module):
    """Multiplicative (speckle) noise ``x * (1 + sigma * n)``, n ~ N(0, 1) per pixel, per sample with prob. p.

    kornia has only additive Gaussian noise; ultrasound speckle scales with the local echo intensity,
    so it is multiplicative.
    """

    def __init__(self, sigma: float, p: float = 0.5):
        super().__init__()
        self.sigma, self.p = sigma, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        apply = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) < self.p).to(x.dtype)
        return x * (1 + self.sigma * apply * torch.randn_like(x))


def gaussian_blur(sigma: tuple[float, float], p: float) -> nn.Module:
    """kornia Gaussian blur with a kernel wide enough (±2 sigma) for the largest sigma."""
    k = 2 * math.ceil(2 * sigma[1]) + 1
    return K.RandomGaussianBlur(k, tuple(sigma), p=p, same_on_batch=False)


def pipeline(*steps: nn.Module | None) -> nn.Module:
    """Chain the given steps (``None`` skips one) and clamp the result to [0, 1]."""
    return nn.Sequential(*[s for s in steps if s is not None], Clamp01())

