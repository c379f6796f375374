"""A third-party augmentation plugin: random gamma per sample."""
from dataclasses import dataclass

from harness import Augmentation, hookimpl


@dataclass(frozen=True)
class GammaConfig:
    low: float = 0.8
    high: float = 1.25

    def __post_init__(self):
        if not 0 < self.low <= self.high:
            raise ValueError("need 0 < low <= high")


class RandomGamma(Augmentation):
    """Random gamma in [low, high], drawn per sample."""

    Config = GammaConfig

    def build(self):
        import torch
        from torch import nn

        low, high = self.config.low, self.config.high

        class _Gamma(nn.Module):
            def forward(self, x):
                g = torch.empty(x.shape[0], 1, 1, 1).uniform_(low, high)
                return x.clamp(1e-6, 1).pow(g)

        return _Gamma()


@hookimpl
def register_augmentations(register):
    register("random_gamma", RandomGamma)
