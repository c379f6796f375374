"""SimSiam: a predictor regresses the stop-gradient projection of the other view."""
from __future__ import annotations

from dataclasses import dataclass

from harness import SSLMethod
from harness import hookimpl


@dataclass(frozen=True)
class SimSiamConfig:
    #: the paper's 2048 / 512 bottleneck, scaled down for 512-d ResNet-18 features.
    out_dim: int = 512
    pred_hidden_dim: int = 128

    def __post_init__(self):
        if self.out_dim < 1 or self.pred_hidden_dim < 1:
            raise ValueError("out_dim and pred_hidden_dim must be >= 1")


class SimSiam(SSLMethod):
    """SimSiam (Chen & He 2020, https://arxiv.org/abs/2011.10566): Siamese predictor with stop-gradient, no momentum.

    lightly's SimSiam heads and ``NegativeCosineSimilarity`` (symmetrised, range [-1, 1]).
    """

    display_name = "SimSiam"

    Config = SimSiamConfig

    def build(self, backbone, num_features: int):
        import torch
        from lightly.loss import NegativeCosineSimilarity
        from lightly.models.modules import SimSiamPredictionHead, SimSiamProjectionHead
        from torch import nn

        cfg = self.config

        class SimSiamModule(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone
                self.projection_head = SimSiamProjectionHead(num_features, cfg.out_dim, cfg.out_dim)
                self.prediction_head = SimSiamPredictionHead(cfg.out_dim, cfg.pred_hidden_dim, cfg.out_dim)
                self.criterion = NegativeCosineSimilarity()

            def forward(self, view1, view2):
                z = self.projection_head(self.backbone(torch.cat([view1, view2])))
                p1, p2 = self.prediction_head(z).chunk(2)
                z1, z2 = z.detach().chunk(2)  # the stop-gradient is what prevents collapse
                return 0.5 * (self.criterion(p1, z2) + self.criterion(p2, z1))

        return SimSiamModule()


@hookimpl
def register_ssl_methods(register):
    register("simsiam", SimSiam)
