"""Barlow Twins: push the cross-correlation of the two views' embeddings towards the identity."""
from __future__ import annotations

from dataclasses import dataclass

from harness import SSLMethod
from harness import hookimpl


@dataclass(frozen=True)
class BarlowTwinsConfig:
    #: the paper uses 8192-d; 2048 is lightly's ResNet-18 choice and keeps the D x D matrix cheap on CPU.
    hidden_dim: int = 2048
    out_dim: int = 2048
    lambda_param: float = 5e-3  # weight of the off-diagonal (redundancy) term

    def __post_init__(self):
        if self.hidden_dim < 1 or self.out_dim < 1:
            raise ValueError("hidden_dim and out_dim must be >= 1")
        if not self.lambda_param >= 0:
            raise ValueError(f"lambda_param must be >= 0, got {self.lambda_param}")


class BarlowTwins(SSLMethod):
    """Barlow Twins (Zbontar et al. 2021, https://arxiv.org/abs/2103.03230): redundancy reduction, no negatives.

    lightly's ``BarlowTwinsProjectionHead`` and ``BarlowTwinsLoss``.
    """

    display_name = "Barlow Twins"

    Config = BarlowTwinsConfig

    def build(self, backbone, num_features: int):
        import torch
        from lightly.loss import BarlowTwinsLoss
        from lightly.models.modules import BarlowTwinsProjectionHead
        from torch import nn

        cfg = self.config

        class BarlowTwinsModule(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone
                self.projection_head = BarlowTwinsProjectionHead(num_features, cfg.hidden_dim, cfg.out_dim)
                self.criterion = BarlowTwinsLoss(lambda_param=cfg.lambda_param)

            def forward(self, view1, view2):
                z1, z2 = self.projection_head(self.backbone(torch.cat([view1, view2]))).chunk(2)
                return self.criterion(z1, z2)

        return BarlowTwinsModule()


@hookimpl
def register_ssl_methods(register):
    register("barlow_twins", BarlowTwins)
