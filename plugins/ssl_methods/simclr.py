"""SimCLR: NT-Xent contrastive loss over two views with in-batch negatives."""
from __future__ import annotations

from dataclasses import dataclass

from harness import SSLMethod
from harness import hookimpl


@dataclass(frozen=True)
class SimCLRConfig:
    temperature: float = 0.2
    #: the plan's "SimCLR-lite" head: features -> 512 -> 128 (BN + ReLU between, as in lightly).
    hidden_dim: int = 512
    out_dim: int = 128

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.hidden_dim < 1 or self.out_dim < 1:
            raise ValueError("hidden_dim and out_dim must be >= 1")


class SimCLR(SSLMethod):
    """SimCLR (Chen et al. 2020, https://arxiv.org/abs/2002.05709): NT-Xent over two views, in-batch negatives.

    Uses lightly's ``SimCLRProjectionHead`` and ``NTXentLoss``.
    """

    display_name = "SimCLR"

    Config = SimCLRConfig

    def build(self, backbone, num_features: int):
        import torch
        from lightly.loss import NTXentLoss
        from lightly.models.modules import SimCLRProjectionHead
        from torch import nn

        cfg = self.config

        class SimCLRModule(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone
                self.projection_head = SimCLRProjectionHead(num_features, cfg.hidden_dim, cfg.out_dim)
                self.criterion = NTXentLoss(temperature=cfg.temperature)

            def forward(self, view1, view2):
                # one pass over both views: BatchNorm sees all 2B samples (as in the paper) and a
                # single larger batch is faster on CPU than two small ones
                z1, z2 = self.projection_head(self.backbone(torch.cat([view1, view2]))).chunk(2)
                return self.criterion(z1, z2)

        return SimCLRModule()


@hookimpl
def register_ssl_methods(register):
    register("simclr", SimCLR)
